"""ReLU networks (sklearn ``MLPClassifier`` / ``MLPRegressor``, PyTorch ``nn.Sequential``)
as a big-M MILP block.

Formulation
-----------
The network's first layer acts on the model inputs ``A s + b`` (``recourse.encoders.pipeline``), so
it is rewritten on the search variables ``s``: ``W1' = W1 A``, ``b1' = W1 b + b1``. With the
pre-activation ``z = W h_prev + b`` of a hidden unit bounded by ``L <= z <= U``:

* ``U <= 0`` (always inactive): the unit is the constant 0; no variable, no row;
* ``L >= 0`` (always active): one continuous ``h`` and the row ``h = W h_prev + b``;
* otherwise (unstable): ``h`` in ``[0, U]``, a binary ``d`` (1 = active) and the rows
  ``h >= W h_prev + b``, ``h <= W h_prev + b - L (1 - d)``, ``h <= U d``.

With valid bounds these rows hold exactly for ``h = relu(z)`` (``d = [z > 0]``; at ``z = 0``
either ``d``). The output layer is linear: the block's score rows are
``W_out h_last + b_out``. Binary classifiers (one logistic output) predict ``classes[1]``
iff the output logit is ``> 0`` (``decision == "sign"``: sklearn thresholds
``expit(logit) > 0.5``); multiclass softmax networks take the argmax of the logits;
regressors have the single score ``f(s)`` (``decision == "score"``, see
``recourse.utility``).

The bounds ``L, U`` come from interval arithmetic over the search space's box
(``recourse.encoders.bounds``; the schema's bounds, by default the training range). The
encoding keeps the network as plain arrays (:class:`ReluNetwork`) so that the problem layer
can re-encode it over one applicant's reachable box with tighter bounds
(``recourse.solvers.tighten``): units proven stable there get no binary. ``info`` reports
``n_binaries`` (units that need one) and ``n_relu_units``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recourse.encoders.block import EncodedModel, GroupLink, ValueLink
from recourse.encoders.bounds import interval_bounds
from recourse.encoders.domain import SearchSpace
from recourse.encoders.errors import EncodingError, UnsupportedModelError
from recourse.encoders.pipeline import InputMap

__all__ = ["ReluNetwork", "ReluEncoding", "encode_mlp", "relu_block", "space_box",
           "TorchClassifier", "TorchRegressor", "SUPPORTED_TORCH_LAYERS"]

#: Layers accepted in a PyTorch ``nn.Sequential``.
SUPPORTED_TORCH_LAYERS = ("Linear", "ReLU", "Identity")


@dataclass(frozen=True)
class ReluNetwork:
    """A ReLU network on the search variables, as plain arrays.

    ``weights[k]`` (units x previous units) and ``biases[k]``; ``weights[0]`` acts on the
    search variables; every layer but the last is followed by a ReLU. ``groups`` are the
    search-variable indices of the one-hot groups; ``integer`` flags the integer search
    variables (groups included). ``decision`` and ``classes`` describe the output.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    groups: tuple[np.ndarray, ...]
    integer: np.ndarray
    decision: str
    classes: np.ndarray

    def forward(self, S: np.ndarray) -> list[np.ndarray]:
        """Pre-activations of every layer at search vectors ``S`` (numpy oracle)."""
        h = np.atleast_2d(np.asarray(S, dtype=float))
        out = []
        for k, (W, b) in enumerate(zip(self.weights, self.biases)):
            z = h @ W.T + b
            out.append(z)
            if k < len(self.weights) - 1:
                h = np.maximum(z, 0.0)
        return out


@dataclass(frozen=True)
class ReluEncoding:
    """What a ReLU block was built from: the network, its pre-activation bounds, and per
    hidden layer the block variable of each unit's ``h`` (-1: always inactive) and whether
    it has a binary ``d`` (the variable right after ``h``)."""

    net: ReluNetwork
    bounds: tuple[tuple[np.ndarray, np.ndarray], ...]
    unit_vars: tuple[np.ndarray, ...]
    has_binary: tuple[np.ndarray, ...]

    def block_values(self, S: np.ndarray, n_vars: int) -> np.ndarray:
        """Every block variable at search vectors ``S`` (hidden ``h`` and ``d`` included)."""
        S = np.atleast_2d(np.asarray(S, dtype=float))
        V = np.zeros((S.shape[0], n_vars))
        V[:, : S.shape[1]] = S
        for z, hv, hb in zip(self.net.forward(S), self.unit_vars, self.has_binary):
            on = hv >= 0
            V[:, hv[on]] = np.maximum(z[:, on], 0.0)
            V[:, hv[hb] + 1] = (z[:, hb] > 0).astype(float)
        return V


def space_box(space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``lo, hi`` of every search variable (groups: 0/1); finite bounds required."""
    lo, hi = np.zeros(space.n_vars), np.ones(space.n_vars)
    for j in range(space.n_features):
        if space.is_group(j):
            continue
        s = int(space.start[j])
        lo[s], hi[s] = space.lower[j], space.upper[j]
        if not (np.isfinite(lo[s]) and np.isfinite(hi[s])):
            raise EncodingError(
                f"Feature {space.names[j]!r} has no finite bounds ([{lo[s]}, {hi[s]}]); a ReLU "
                "network needs them for its big-M values. Declare lower and upper bounds in "
                "the schema (FeatureSchema.from_frame sets the training range by default)."
            )
    return lo, hi


def _groups(space: SearchSpace) -> tuple[np.ndarray, ...]:
    return tuple(space.vars_of(j) for j in range(space.n_features) if space.is_group(j))


def _integer(space: SearchSpace) -> np.ndarray:
    out = np.ones(space.n_vars, dtype=bool)
    for j in range(space.n_features):
        if not space.is_group(j):
            out[int(space.start[j])] = bool(space.integer[j])
    return out


def _sklearn_network(est: Any, imap: InputMap, space: SearchSpace) -> ReluNetwork:
    kind = type(est).__name__
    if est.activation != "relu":
        raise UnsupportedModelError(
            f"{kind} with activation={est.activation!r} is not supported: only "
            "activation='relu' networks are piecewise linear and can be encoded exactly. "
            "Refit with activation='relu'."
        )
    out_act = getattr(est, "out_activation_", None)
    weights = [np.asarray(W, dtype=float).T for W in est.coefs_]
    biases = [np.asarray(b, dtype=float) for b in est.intercepts_]
    if weights[0].shape[1] != imap.n_inputs:
        raise EncodingError(
            f"The network has {weights[0].shape[1]} inputs but the preprocessing gives "
            f"{imap.n_inputs}."
        )
    if out_act == "identity":
        if weights[-1].shape[0] != 1:
            raise UnsupportedModelError(
                f"{kind} with {weights[-1].shape[0]} outputs is not supported: only "
                "single-output regressors. Fit one model per output."
            )
        decision, classes = "score", np.array([])
    elif out_act == "logistic":
        classes = np.asarray(est.classes_)
        if weights[-1].shape[0] != 1 or len(classes) != 2:
            raise UnsupportedModelError(
                f"Multi-label {kind} is not supported: only binary (one logistic output) and "
                "multiclass (softmax) classifiers."
            )
        decision = "sign"
    elif out_act == "softmax":
        decision, classes = "argmax", np.asarray(est.classes_)
    else:
        raise UnsupportedModelError(
            f"{kind} with output activation {out_act!r} is not supported; supported: "
            "'identity' (regressor), 'logistic' (binary), 'softmax' (multiclass)."
        )
    return _on_search_space(weights, biases, imap, space, decision, classes)


def _on_search_space(weights: list[np.ndarray], biases: list[np.ndarray], imap: InputMap,
                     space: SearchSpace, decision: str, classes: np.ndarray) -> ReluNetwork:
    W1 = weights[0] @ imap.A
    b1 = weights[0] @ imap.b + biases[0]
    return ReluNetwork(weights=(W1, *weights[1:]), biases=(b1, *biases[1:]),
                       groups=_groups(space), integer=_integer(space), decision=decision,
                       classes=classes)


def encode_mlp(est: Any, imap: InputMap, space: SearchSpace) -> EncodedModel:
    """Encode a fitted sklearn MLP (or a :class:`TorchClassifier`) over ``space``'s box."""
    if isinstance(est, (TorchClassifier, TorchRegressor)):
        net = est.network(imap, space)
    else:
        net = _sklearn_network(est, imap, space)
    lo, hi = space_box(space)
    bounds = interval_bounds(net.weights, net.biases, lo, hi, net.groups)
    return relu_block(net, bounds, lo, hi, space)


def relu_block(net: ReluNetwork, bounds: Sequence[tuple[np.ndarray, np.ndarray]],
               lo: np.ndarray, hi: np.ndarray, space: SearchSpace,
               info: dict[str, Any] | None = None) -> EncodedModel:
    """The big-M block of ``net`` with pre-activation ``bounds`` over the box ``[lo, hi]``.

    ``bounds`` must be valid on the box: every unit with ``U <= 0`` is dropped and every
    unit with ``L >= 0`` is taken as linear.
    """
    n = space.n_vars
    lbs, ubs, ints = list(lo), list(hi), list(net.integer)
    r_i: list[np.ndarray] = []
    r_j: list[np.ndarray] = []
    r_v: list[np.ndarray] = []
    r_lo: list[float] = []
    r_hi: list[float] = []

    def add_row(cols: np.ndarray, vals: np.ndarray, a: float, b: float) -> None:
        k = len(r_lo)
        r_i.append(np.full(cols.size, k))
        r_j.append(cols)
        r_v.append(vals)
        r_lo.append(a)
        r_hi.append(b)

    prev = np.arange(n)  # block variable of each previous unit, -1 = constant 0
    n_bin = n_active = n_inactive = 0
    unit_vars: list[np.ndarray] = []
    has_bin: list[np.ndarray] = []
    for k in range(len(net.weights) - 1):
        W, b = net.weights[k], net.biases[k]
        L, U = bounds[k]
        live = prev >= 0
        cur = np.full(W.shape[0], -1)
        binary = np.zeros(W.shape[0], dtype=bool)
        for u in range(W.shape[0]):
            if U[u] <= 0.0:
                n_inactive += 1
                continue
            w = W[u, live]
            nz = w != 0.0
            cols, vals = prev[live][nz], -w[nz]
            h = len(lbs)
            cur[u] = h
            if L[u] >= 0.0:
                n_active += 1
                lbs.append(float(L[u]))
                ubs.append(float(U[u]))
                ints.append(False)
                add_row(np.append(cols, h), np.append(vals, 1.0), float(b[u]), float(b[u]))
                continue
            n_bin += 1
            binary[u] = True
            d = h + 1
            lbs += [0.0, 0.0]
            ubs += [float(U[u]), 1.0]
            ints += [False, True]
            add_row(np.append(cols, h), np.append(vals, 1.0), float(b[u]), np.inf)
            add_row(np.append(cols, [h, d]), np.append(vals, [1.0, -float(L[u])]),
                    -np.inf, float(b[u] - L[u]))
            add_row(np.array([h, d]), np.array([1.0, -float(U[u])]), -np.inf, 0.0)
        prev = cur
        unit_vars.append(cur)
        has_bin.append(binary)
    nv = len(lbs)
    W, b = net.weights[-1], net.biases[-1]
    live = prev >= 0
    score = sp.csr_matrix((W.shape[0], nv))
    if live.any():
        Wl = W[:, live]
        score = sp.csr_matrix((Wl.ravel(), (np.repeat(np.arange(W.shape[0]), live.sum()),
                                            np.tile(prev[live], W.shape[0]))),
                              shape=(W.shape[0], nv))
    if r_lo:
        rows = sp.csr_matrix((np.concatenate(r_v), (np.concatenate(r_i), np.concatenate(r_j))),
                             shape=(len(r_lo), nv))
    else:
        rows = sp.csr_matrix((0, nv))
    links = tuple(GroupLink(j, space.vars_of(j)) if space.is_group(j)
                  else ValueLink(j, int(space.start[j])) for j in range(space.n_features))
    n_units = int(sum(w.shape[0] for w in net.weights[:-1]))
    base_info = {"n_relu_units": n_units, "n_binaries": n_bin, "n_always_active": n_active,
                 "n_always_inactive": n_inactive, "n_layers": len(net.weights) - 1}
    return EncodedModel(
        kind="relu", classes=net.classes, decision=net.decision,
        lb=np.array(lbs, dtype=float), ub=np.array(ubs, dtype=float),
        integer=np.array(ints, dtype=bool), rows=rows, row_lo=np.array(r_lo),
        row_hi=np.array(r_hi), links=links, score=score, score0=np.asarray(b, dtype=float),
        space_start=space.start.copy(),
        network=ReluEncoding(net, tuple(bounds), tuple(unit_vars), tuple(has_bin)),
        info=dict(base_info, **(info or {})))


# ------------------------------------------------------------------------- PyTorch
def _torch_layers(module: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and biases of an ``nn.Sequential`` of ``Linear`` with ``ReLU`` between."""
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    expect_linear = True
    layers = list(module.children()) if hasattr(module, "children") else []
    if type(module).__name__ != "Sequential" or not layers:
        raise UnsupportedModelError(
            f"{type(module).__name__} is not supported: wrap an nn.Sequential of "
            f"{', '.join(SUPPORTED_TORCH_LAYERS)} layers."
        )
    for i, layer in enumerate(layers):
        name = type(layer).__name__
        if name == "Identity":
            continue
        if name not in SUPPORTED_TORCH_LAYERS:
            raise UnsupportedModelError(
                f"Layer #{i} of the nn.Sequential is {name}, which is not supported. "
                f"Supported layers: {', '.join(SUPPORTED_TORCH_LAYERS)} (Linear and ReLU "
                "alternating, ending with Linear)."
            )
        if (name == "Linear") != expect_linear:
            raise UnsupportedModelError(
                f"Layer #{i} ({name}) breaks the supported pattern Linear, ReLU, Linear, ..., "
                "Linear (a ReLU between every two Linear layers, none at the end)."
            )
        if name == "Linear":
            weights.append(layer.weight.detach().cpu().double().numpy().copy())
            bias = layer.bias
            biases.append(np.zeros(weights[-1].shape[0]) if bias is None
                          else bias.detach().cpu().double().numpy().copy())
        expect_linear = not expect_linear
    if expect_linear:
        raise UnsupportedModelError(
            "The nn.Sequential ends with a ReLU; supported: Linear, ReLU, ..., Linear (the "
            "output is the last Linear layer's value)."
        )
    return weights, biases


def _require_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise UnsupportedModelError(
            "PyTorch models need the optional extra: pip install 'recourse-engine[torch]'."
        ) from exc
    return torch


class _TorchModel:
    """Shared part of the PyTorch wrappers: the module and a float32 forward pass."""

    def __init__(self, module: Any, feature_names: Sequence[str] | None = None) -> None:
        _require_torch()
        self.module = module
        weights, _ = _torch_layers(module)
        self.n_features_in_ = int(weights[0].shape[1])
        if feature_names is not None:
            self.feature_names_in_ = np.asarray(list(feature_names), dtype=object)

    def _output(self, X: Any) -> np.ndarray:
        torch = _require_torch()
        if hasattr(X, "to_numpy"):
            X = X.to_numpy(dtype=float)
        dtype = next(self.module.parameters()).dtype
        with torch.no_grad():
            out = self.module(torch.as_tensor(np.array(X, dtype=float), dtype=dtype))
        return np.asarray(out.cpu().double().numpy())

    def network(self, imap: InputMap, space: SearchSpace) -> ReluNetwork:
        weights, biases = _torch_layers(self.module)
        if weights[0].shape[1] != imap.n_inputs:
            raise EncodingError(
                f"The network has {weights[0].shape[1]} inputs but the schema gives "
                f"{imap.n_inputs}."
            )
        return _on_search_space(weights, biases, imap, space, *self._decision(weights))

    def _decision(self, weights: list[np.ndarray]) -> tuple[str, np.ndarray]:
        raise NotImplementedError


class TorchClassifier(_TorchModel):
    """A PyTorch ``nn.Sequential`` of ``Linear``/``ReLU`` layers used as a classifier.

    With one output the prediction is ``classes[1]`` iff the output (a logit) is ``> 0``;
    with several outputs it is the argmax. ``predict`` runs the module itself (its own
    dtype), so verification uses the network's own arithmetic.

    Parameters
    ----------
    module : torch.nn.Sequential
    classes : sequence
        Class labels, in output order (two for a single-logit output).
    feature_names : sequence of str, optional
        Column names, in input order (then ``predict`` accepts a DataFrame by name).

    Examples
    --------
    >>> model = TorchClassifier(net, classes=["bad", "good"])   # doctest: +SKIP
    """

    def __init__(self, module: Any, classes: Sequence[Any] = (0, 1),
                 feature_names: Sequence[str] | None = None) -> None:
        super().__init__(module, feature_names)
        self.classes_ = np.asarray(list(classes))

    def _decision(self, weights: list[np.ndarray]) -> tuple[str, np.ndarray]:
        n_out = weights[-1].shape[0]
        if n_out == 1:
            if len(self.classes_) != 2:
                raise EncodingError("A single-logit network needs exactly two classes.")
            return "sign", self.classes_
        if n_out != len(self.classes_):
            raise EncodingError(
                f"The network has {n_out} outputs but {len(self.classes_)} classes were given."
            )
        return "argmax", self.classes_

    def predict(self, X: Any) -> np.ndarray:
        out = self._output(X)
        if out.shape[1] == 1:
            return np.where(out[:, 0] > 0, self.classes_[1], self.classes_[0])
        return self.classes_[np.argmax(out, axis=1)]


class TorchRegressor(_TorchModel):
    """A PyTorch ``nn.Sequential`` of ``Linear``/``ReLU`` layers with one output, as a
    regressor (``predict`` returns the output)."""

    def _decision(self, weights: list[np.ndarray]) -> tuple[str, np.ndarray]:
        if weights[-1].shape[0] != 1:
            raise UnsupportedModelError("Only single-output regression networks are supported.")
        return "score", np.array([])

    def predict(self, X: Any) -> np.ndarray:
        return self._output(X)[:, 0]

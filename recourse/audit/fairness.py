"""Who carries the burden of recourse: figures per protected group that stand up in review.

For each group of a protected attribute (and of the intersection of two attributes) this
module gives, from an audit table and the group of *every* input row:

* the **denial rate** over all applicants of the group with a usable row (not only the
  denied ones, so a group the model never denies still appears, with rate 0);
* among the denied, the **recourse rate** (a verified counterfactual was found) and the
  **precluded rate** (the solver proved that no allowed change reaches the target);
* among those with recourse, the **median and mean cost and L0** with percentile
  bootstrap confidence intervals (seeded numpy resampling);
* the **gaps** between the highest and the lowest group with their tests.

Method (also printed in the reports):

* rates: Fisher's exact test (two-sided) on the 2x2 table of the highest against the
  lowest group, and Pearson's chi-square test of independence over every compared group;
* costs and L0: the Mann-Whitney U test (two-sided) of the highest against the lowest
  group's median, and the Kruskal-Wallis test over every compared group;
* a group is **compared** on a figure only when the figure's denominator (applicants,
  denied applicants, or applicants with recourse) is at least ``min_group`` (default
  :data:`MIN_GROUP` = 20); smaller groups are shown with a note and left out of the gaps
  and tests. The highest and lowest group are chosen after looking at the data, so the
  pairwise p-value overstates the evidence when there are many groups; the omnibus test
  does not have that problem.

The figures follow the "recourse burden" of the fair-recourse literature: the cost of
recourse compared across groups (Gupta et al. 2019, "Equalizing Recourse across
Groups"; von Kügelgen et al. 2022, "On the Fairness of Causal Algorithmic Recourse",
which also compares the share of each group with no recourse at all) and the group
comparisons of AIF360's FACTS (Kavouras et al. 2023), here over exact, verified answers
instead of sampled ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recourse.audit.rows import HAS_RECOURSE

__all__ = ["METHOD", "MIN_GROUP", "N_BOOT", "bootstrap_ci", "burden", "fairness_section",
           "intersect"]

#: Least denominator for a group to be compared on a figure.
MIN_GROUP = 20
#: Bootstrap resamples for the confidence intervals.
N_BOOT = 2000
#: Statuses without an answer to "is there recourse?".
_UNRESOLVED = ("time_limit", "error")

#: The method, as printed in the reports.
METHOD = {
    "rates": "Fisher's exact test (two-sided) of the highest against the lowest group; "
             "Pearson's chi-square test of independence over every compared group",
    "costs": "Mann-Whitney U test (two-sided) of the group with the highest median against "
             "the one with the lowest; Kruskal-Wallis test over every compared group",
    "intervals": "95 % percentile bootstrap intervals ({n_boot} resamples, numpy seed "
                 "{seed})",
    "small": "a group is compared on a figure only when that figure's denominator is at "
             "least {min_group}",
    "anchors": "recourse burden and cost gaps across groups (Gupta et al. 2019, Equalizing "
               "Recourse across Groups; von Kügelgen et al. 2022, On the Fairness of Causal "
               "Algorithmic Recourse); group comparisons of AIF360 FACTS (Kavouras et al. "
               "2023)",
}

#: Rate figures: (name, numerator count, denominator count).
_RATES = (("denial_rate", "n_denied", "n_valid"),
          ("recourse_rate", "n_recourse", "n_denied"),
          ("precluded_rate", "n_precluded", "n_denied"))
_SAMPLES = ("cost", "l0")


def intersect(a: pd.Series, b: pd.Series) -> pd.Series:
    """One label per row for the intersection of two attributes: ``"a=x & b=y"``."""
    if len(a) != len(b):
        raise ValueError(f"The attributes have {len(a)} and {len(b)} values.")
    na, nb = a.name or "a", b.name or "b"
    return pd.Series([f"{na}={x} & {nb}={y}" for x, y in zip(a.astype(str), b.astype(str))],
                     index=a.index, name=f"{na} & {nb}")


def bootstrap_ci(values: np.ndarray, stat: str, *, n_boot: int = N_BOOT, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the median or the mean of ``values``.

    Parameters
    ----------
    values : ndarray
        The sample (at least two values, else None).
    stat : {"median", "mean"}
    n_boot : int
        Resamples, drawn with ``numpy.random.default_rng(seed)``.
    seed : int
    level : float
        Coverage of the interval.

    Returns
    -------
    (low, high) or None
    """
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    sample = v[idx]
    boot = np.median(sample, axis=1) if stat == "median" else sample.mean(axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [a, 1.0 - a])
    return float(lo), float(hi)


def _group_row(name: str, n_population: int, part: pd.DataFrame, *, n_boot: int,
               seed: int) -> dict[str, Any]:
    status = part["status"]
    n_invalid = int((status == "invalid_input").sum())
    valid = part[status != "invalid_input"]
    denied = valid[valid["status"] != "already_target"]
    has = denied["status"].isin(HAS_RECOURSE)
    n_valid = n_population - n_invalid
    row: dict[str, Any] = {
        "group": name, "n": int(n_population), "n_invalid": n_invalid,
        "n_valid": int(n_valid), "n_denied": int(len(denied)),
        "n_recourse": int(has.sum()),
        "n_precluded": int((denied["status"] == "no_recourse").sum()),
        "n_unresolved": int(denied["status"].isin(_UNRESOLVED).sum()),
    }
    for rate, num, den in _RATES:
        row[rate] = row[num] / row[den] if row[den] else None
    answered = denied[has]
    for col in _SAMPLES:
        v = answered[col].to_numpy(dtype=float)
        for stat in ("median", "mean"):
            key = f"{stat}_{col}"
            row[key] = (float(np.median(v)) if stat == "median" else float(v.mean())) \
                if v.size else None
            row[f"{key}_ci"] = bootstrap_ci(v, stat, n_boot=n_boot, seed=seed)
    return row


def burden(results: pd.DataFrame, population: pd.Series, *, attribute: str | None = None,
           min_group: int = MIN_GROUP, n_boot: int = N_BOOT, seed: int = 0) -> dict[str, Any]:
    """The burden figures of one protected attribute (or an intersection of two).

    Parameters
    ----------
    results : DataFrame
        The audit table (``results.parquet``): one row per audited applicant, with
        ``position`` (the row in the input data), ``status``, ``cost`` and ``l0``.
        Applicants the model approves are either absent (``select="denied"``) or
        ``already_target`` (``select="all"``).
    population : Series
        The group of **every** input row, in input order (e.g. ``data["sex"]``, or
        :func:`intersect` of two columns).
    attribute : str, optional
        Name shown in the reports (default: ``population.name``).
    min_group : int
        Least denominator for a group to be compared on a figure.
    n_boot, seed : int
        Bootstrap resamples and seed of the confidence intervals.

    Returns
    -------
    dict
        ``attribute``, ``rows`` (one per group, in sorted order: counts, rates, medians
        and means with ``*_ci`` intervals), ``gaps`` (per figure: highest and lowest
        compared group, the gap, the pairwise and omnibus p-values and the tests' names),
        ``notes`` (every group too small to compare on a figure), ``method``.
    """
    if "position" not in results.columns:
        raise ValueError("results must be an audit table with a 'position' column.")
    if min_group < 1:
        raise ValueError(f"min_group must be at least 1, got {min_group}.")
    labels = population.astype(str).to_numpy()
    pos = results["position"].to_numpy(dtype=int)
    if len(pos) and (pos.min() < 0 or pos.max() >= len(labels)):
        raise ValueError("results has positions outside the population.")
    keyed = results.assign(_group=labels[pos])
    sizes = pd.Series(labels).value_counts()
    rows = []
    for name in sorted(sizes.index):
        part = keyed[keyed["_group"] == name]
        rows.append(_group_row(str(name), int(sizes[name]), part, n_boot=n_boot, seed=seed))
    notes = []
    gaps: dict[str, Any] = {}
    for rate, num, den in _RATES:
        gaps[rate] = _rate_gap([r for r in rows if r[den] >= min_group], rate, num, den)
    for col in _SAMPLES:
        compared = [r for r in rows if r["n_recourse"] >= min_group]
        samples = {r["group"]: keyed.loc[(keyed["_group"] == r["group"])
                                         & keyed["status"].isin(HAS_RECOURSE), col]
                   .to_numpy(dtype=float) for r in compared}
        gaps[f"median_{col}"] = _sample_gap(compared, f"median_{col}", samples)
        gaps[f"mean_{col}"] = _sample_gap(compared, f"mean_{col}", samples)
    for r in rows:
        left = [what for what, den in (("denial rate", "n_valid"),
                                       ("recourse and precluded rates", "n_denied"),
                                       ("cost and L0", "n_recourse")) if r[den] < min_group]
        if left:
            notes.append(f"{r['group']}: {r['n_valid']} applicants, {r['n_denied']} denied, "
                         f"{r['n_recourse']} with recourse; not compared on "
                         f"{', '.join(left)} (fewer than {min_group}).")
    method = {k: v.format(n_boot=n_boot, seed=seed, min_group=min_group)
              for k, v in METHOD.items()}
    return {"attribute": attribute or str(population.name or "group"), "rows": rows,
            "gaps": gaps, "notes": notes, "min_group": min_group, "method": method}


def _extremes(compared: list[dict[str, Any]], key: str) -> tuple[dict, dict] | None:
    rated = sorted((r for r in compared if r[key] is not None), key=lambda r: r[key])
    if len(rated) < 2:
        return None
    return rated[-1], rated[0]  # two distinct groups, also when every value is tied


def _rate_gap(compared: list[dict[str, Any]], rate: str, num: str, den: str) -> dict | None:
    from scipy import stats

    ext = _extremes(compared, rate)
    if ext is None:
        return None
    hi, lo = ext
    out: dict[str, Any] = {"highest": hi["group"], "lowest": lo["group"],
                           "gap": hi[rate] - lo[rate], "groups": len(compared),
                           "pair_test": "Fisher exact", "omnibus_test": "chi-square",
                           "pair_p_value": None, "omnibus_p_value": None}
    pair = np.array([[hi[num], hi[den] - hi[num]], [lo[num], lo[den] - lo[num]]])
    out["pair_p_value"] = float(stats.fisher_exact(pair)[1])
    table = np.array([[r[num], r[den] - r[num]] for r in compared])
    if (table.sum(axis=0) > 0).all():
        out["omnibus_p_value"] = float(stats.chi2_contingency(table, correction=False)[1])
    return out


def _sample_gap(compared: list[dict[str, Any]], key: str,
                samples: dict[str, np.ndarray]) -> dict | None:
    from scipy import stats

    ext = _extremes(compared, key)
    if ext is None:
        return None
    hi, lo = ext
    out: dict[str, Any] = {"highest": hi["group"], "lowest": lo["group"],
                           "gap": hi[key] - lo[key], "groups": len(compared),
                           "pair_test": "Mann-Whitney U", "omnibus_test": "Kruskal-Wallis",
                           "pair_p_value": None, "omnibus_p_value": None}
    a, b = samples[hi["group"]], samples[lo["group"]]
    if np.unique(np.concatenate([a, b])).size > 1:
        out["pair_p_value"] = float(stats.mannwhitneyu(a, b, alternative="two-sided")[1])
    pooled = np.concatenate(list(samples.values()))
    if np.unique(pooled).size > 1:
        out["omnibus_p_value"] = float(stats.kruskal(*samples.values())[1])
    return out


def fairness_section(results: pd.DataFrame, population: pd.DataFrame, *,
                     min_group: int = MIN_GROUP, n_boot: int = N_BOOT,
                     seed: int = 0) -> dict[str, Any]:
    """The burden figures of every column of ``population`` and, with two columns, of
    their intersection (the ``fairness`` entry of ``summary.json``)."""
    cols = list(population.columns)
    out = {"by": [burden(results, population[c], attribute=str(c), min_group=min_group,
                         n_boot=n_boot, seed=seed) for c in cols]}
    if len(cols) == 2:
        both = intersect(population[cols[0]], population[cols[1]])
        out["by"].append(burden(results, both, min_group=min_group, n_boot=n_boot,
                                seed=seed))
    return out


def check_intersect(protected: str | None, intersect: str, columns: list[str]) -> None:
    """Refuse a second protected attribute without a first, equal to it, or missing."""
    from recourse.encoders.errors import InputValidationError, cap_list

    if protected is None:
        raise InputValidationError(
            f"intersect={intersect!r} needs a first protected attribute: pass protected= "
            "(CLI: --protected) too.")
    if intersect == protected:
        raise InputValidationError(
            f"intersect names the protected attribute {protected!r} itself; give another "
            "column.")
    if intersect not in columns:
        raise InputValidationError(
            f"The second protected attribute {intersect!r} is not a column of the data; "
            f"columns: {cap_list(columns)}.")

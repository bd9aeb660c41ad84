"""The words a letter uses, controlled by the bank: decisions per class, phrases per feature.

A :class:`Phrasebook` is read from YAML (validated; an unknown key, a wrong type or a
feature missing from the schema is an error naming the key and the fix)::

    decision:                 # per class of the model: the word for the decision
      good: approved
      bad: declined
    assessment:               # optional, per class: how the letter names the assessment
      bad: a higher risk of not repaying the loan
    features:                 # optional, per feature (schema names)
      credit_amount:
        reason: the amount of credit requested          # a principal reason (noun phrase)
        decrease: reduce the loan amount                # numeric / ordinal features
        increase: increase the loan amount
      savings_account_and_bonds:
        reason: the balance of your savings
        change: change your savings                     # categorical features

A change sentence is the phrase followed by ``from <before> to <after>`` in the
schema's units, or, when the phrase holds ``{before}`` / ``{after}``, the phrase with those
filled in ("apply again once you are {after} old") ("Reduce the loan amount from 8,318 DM to 7,811
DM"); a feature without a
phrase gets the schema's label ("Reduce credit amount from ..."). Defaults for the
bundled data sets ship beside them (``recourse/datasets/letters_<name>.yaml``) and are
loaded by :func:`dataset_phrasebook`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recourse.encoders.errors import InputValidationError
from recourse.schema import FeatureSchema

__all__ = ["Phrasebook", "FeatureWords", "dataset_phrasebook", "load_phrasebook",
           "DEFAULT_PHRASEBOOK"]


def _words(v: Any) -> Any:
    if isinstance(v, str) and not v.strip():
        raise ValueError("must not be empty")
    return v.strip() if isinstance(v, str) else v


class FeatureWords(BaseModel):
    """The phrases of one feature (all optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    reason: str | None = None
    increase: str | None = None
    decrease: str | None = None
    change: str | None = None

    _strip = field_validator("reason", "increase", "decrease", "change")(_words)


class Phrasebook(BaseModel):
    """Decision words per class and phrases per feature (module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    decision: dict[str, str] = Field(default_factory=dict)
    assessment: dict[str, str] = Field(default_factory=dict)
    features: dict[str, FeatureWords] = Field(default_factory=dict)

    @field_validator("decision", "assessment")
    @classmethod
    def _non_empty(cls, v: dict[str, str]) -> dict[str, str]:
        return {k: _words(w) for k, w in v.items()}

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_mapping(cls, data: Any, *, source: str = "the phrasebook") -> Phrasebook:
        """Validate a mapping (e.g. parsed YAML).

        Raises
        ------
        InputValidationError
            Naming the key, the value and the fix.
        """
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise InputValidationError(
                f"{source} must be a mapping with the keys decision, assessment, features; "
                f"got {type(data).__name__}.")
        # YAML reads class labels such as 0/1 or true/false as numbers/booleans
        data = dict(data)
        for key in ("decision", "assessment"):
            if isinstance(data.get(key), dict):
                data[key] = {str(k): v for k, v in data[key].items()}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            lines = []
            for err in exc.errors()[:5]:
                where = ".".join(str(p) for p in err["loc"])
                lines.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
            raise InputValidationError(
                f"{source} is not valid: " + "; ".join(lines) + ". Every phrase is a "
                "non-empty text; the keys are decision, assessment (class -> text) and "
                "features (feature -> reason/increase/decrease/change).") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> Phrasebook:
        """Read and validate a phrasebook YAML file (``yaml.safe_load``)."""
        p = Path(path)
        if not p.is_file():
            raise InputValidationError(f"The phrasebook file {str(p)!r} does not exist; check "
                                       "the path.")
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise InputValidationError(f"{p.name} is not valid YAML: {exc}") from None
        return cls.from_mapping(data, source=p.name)

    # ------------------------------------------------------------------ checking
    def check(self, schema: FeatureSchema) -> Phrasebook:
        """Raise if a phrase names a feature the schema lacks or a kind it cannot have."""
        unknown = sorted(n for n in self.features if n not in schema)
        if unknown:
            raise InputValidationError(
                f"The phrasebook has phrases for {unknown[:5]}, which the schema does not "
                "have; use the schema's feature names.")
        for name, w in self.features.items():
            f = schema[name]
            if f.kind == "categorical" and (w.increase or w.decrease):
                raise InputValidationError(
                    f"The phrasebook gives {name!r} an increase/decrease phrase, but it is "
                    "categorical (no order); give it a 'change' phrase instead.")
        return self

    # ------------------------------------------------------------------ words
    def decision_word(self, cls_label: Any, approved: bool) -> str:
        return self.decision.get(str(cls_label)) or ("approved" if approved else "declined")

    def assessment_of(self, cls_label: Any) -> str:
        """The bank's words for the assessment, or "" (the templates then say nothing
        about it rather than print a raw class label)."""
        return self.assessment.get(str(cls_label), "")

    def phrase(self, name: str, verb: str) -> str | None:
        """``verb`` in increase/decrease/change: the bank's phrase, or None."""
        w = self.features.get(name)
        if w is None:
            return None
        got = getattr(w, verb)
        if got is None and verb in ("increase", "decrease"):
            got = w.change
        return got

    def reason(self, name: str) -> str | None:
        w = self.features.get(name)
        return None if w is None else w.reason


#: No phrases: the schema's labels and "approved" / "declined".
DEFAULT_PHRASEBOOK = Phrasebook()


def dataset_phrasebook(name: str) -> Phrasebook:
    """The default phrasebook of a bundled data set (``"german"`` or ``"credit_data"``),
    read from ``recourse/datasets/letters_<name>.yaml``.

    Raises
    ------
    InputValidationError
        Unknown data set.
    """
    known = ("german", "credit_data")
    if name not in known:
        raise InputValidationError(f"No bundled phrasebook for {name!r}; known: {list(known)}.")
    res = resources.files("recourse.datasets").joinpath(f"letters_{name}.yaml")
    data = yaml.safe_load(res.read_text(encoding="utf-8"))
    return Phrasebook.from_mapping(data, source=f"letters_{name}.yaml")


def load_phrasebook(spec: Phrasebook | str | Path | None) -> Phrasebook:
    """A phrasebook from an object, a bundled data set's name or a YAML path."""
    if spec is None:
        return DEFAULT_PHRASEBOOK
    if isinstance(spec, Phrasebook):
        return spec
    if isinstance(spec, str) and spec in ("german", "credit_data"):
        return dataset_phrasebook(spec)
    return Phrasebook.from_yaml(spec)

"""The public surface: __all__ is true, imports stay light, errors share one base class."""

from __future__ import annotations

import subprocess
import sys

import recourse
import recourse.errors


def test_every_name_in_all_resolves():
    for name in recourse.__all__:
        assert hasattr(recourse, name), name
    for name in recourse.errors.__all__:
        assert issubclass(getattr(recourse.errors, name), recourse.errors.RecourseError)


def test_import_recourse_loads_no_solver():
    code = ("import sys, recourse; bad = [m for m in ('highspy', 'ortools', 'pyomo') "
            "if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_library_prints_nothing(capfd):
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    model = DecisionTreeClassifier(random_state=0).fit(X, [0, 0, 1, 1])
    schema = recourse.FeatureSchema.from_frame(X)
    r = recourse.find_recourse(model, {"a": 0.0}, schema)
    assert r.status == "optimal" and r.changes[0].after == 2.0
    out, err = capfd.readouterr()
    assert out == "" and err == ""

"""Fair-recourse figures (recourse.audit.fairness) against hand-computed cases, scipy on the
raw rows, and the model's own predict over every applicant."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recourse.audit import audit
from recourse.audit.fairness import bootstrap_ci, burden, intersect


def _table(statuses, costs=None, l0=None, positions=None):
    n = len(statuses)
    return pd.DataFrame({
        "position": positions if positions is not None else np.arange(n),
        "status": statuses,
        "cost": costs if costs is not None else [np.nan] * n,
        "l0": l0 if l0 is not None else [np.nan] * n,
    })


def test_hand_computed_rates_and_a_group_never_denied():
    # 8 applicants: group a = rows 0-4, group b = rows 5-7 (b is never denied).
    # Audited (select="denied"): rows 0, 1, 2 (denied) and 4 (invalid input).
    population = pd.Series(["a"] * 5 + ["b"] * 3, name="sex")
    results = _table(["optimal", "no_recourse", "optimal", "invalid_input"],
                     costs=[1.0, np.nan, 3.0, np.nan], l0=[1.0, np.nan, 2.0, np.nan],
                     positions=[0, 1, 2, 4])
    out = burden(results, population, min_group=1, n_boot=200)
    rows = {r["group"]: r for r in out["rows"]}
    assert list(rows) == ["a", "b"]
    a, b = rows["a"], rows["b"]
    # a: 5 rows, 1 invalid -> 4 valid; 3 denied; 2 with recourse; 1 precluded.
    assert (a["n"], a["n_valid"], a["n_denied"], a["n_recourse"], a["n_precluded"]) == \
        (5, 4, 3, 2, 1)
    assert a["denial_rate"] == pytest.approx(3 / 4)
    assert a["recourse_rate"] == pytest.approx(2 / 3)
    assert a["precluded_rate"] == pytest.approx(1 / 3)
    assert a["median_cost"] == pytest.approx(2.0) and a["mean_cost"] == pytest.approx(2.0)
    assert a["median_l0"] == pytest.approx(1.5)
    # b is in the table although the model denies none of it.
    assert (b["n_valid"], b["n_denied"], b["denial_rate"]) == (3, 0, 0.0)
    assert b["recourse_rate"] is None and b["median_cost"] is None
    gap = out["gaps"]["denial_rate"]
    assert (gap["highest"], gap["lowest"]) == ("a", "b")
    assert gap["gap"] == pytest.approx(0.75)
    # Fisher by hand: table [[3, 1], [0, 3]]; hypergeometric two-sided.
    assert gap["pair_p_value"] == pytest.approx(stats.fisher_exact([[3, 1], [0, 3]])[1])


def test_select_all_counts_already_target_as_approved():
    population = pd.Series(["a", "a", "b", "b"])
    results = _table(["already_target", "optimal", "already_target", "already_target"],
                     costs=[np.nan, 2.0, np.nan, np.nan], l0=[np.nan, 1.0, np.nan, np.nan])
    rows = {r["group"]: r for r in burden(results, population, min_group=1)["rows"]}
    assert rows["a"]["n_denied"] == 1 and rows["a"]["denial_rate"] == pytest.approx(0.5)
    assert rows["b"]["n_denied"] == 0 and rows["b"]["denial_rate"] == 0.0


def test_small_groups_are_noted_and_left_out_of_the_gaps():
    population = pd.Series(["big"] * 30 + ["small"] * 4)
    statuses = ["optimal"] * 10 + ["already_target"] * 20 + ["optimal"] * 4
    results = _table(statuses, costs=[1.0] * 10 + [np.nan] * 20 + [2.0] * 4,
                     l0=[1.0] * 34)
    out = burden(results, population, min_group=20)
    assert out["gaps"]["denial_rate"] is None  # only "big" has >= 20 applicants
    assert out["gaps"]["median_cost"] is None
    note = [n for n in out["notes"] if n.startswith("small:")]
    assert len(note) == 1 and "fewer than 20" in note[0] and "denial rate" in note[0]
    big = [n for n in out["notes"] if n.startswith("big:")]
    assert big and "denial rate" not in big[0]  # big is compared on its denial rate


def test_gaps_and_tests_equal_scipy_on_the_raw_rows():
    rng = np.random.default_rng(7)
    n = 300
    groups = rng.choice(["x", "y", "z"], size=n)
    status = rng.choice(["optimal", "no_recourse", "already_target"], size=n,
                        p=[0.5, 0.2, 0.3])
    cost = np.where(status == "optimal", rng.gamma(2.0, 1.0, size=n)
                    + (groups == "z") * 0.8, np.nan)
    results = _table(list(status), costs=cost, l0=np.where(status == "optimal",
                                                          rng.integers(1, 4, n), np.nan))
    out = burden(results, pd.Series(groups), min_group=20, n_boot=500)
    rows = {r["group"]: r for r in out["rows"]}
    # independent counts straight from the arrays
    for g in ("x", "y", "z"):
        m = groups == g
        denied = m & (status != "already_target")
        assert rows[g]["denial_rate"] == pytest.approx(denied.sum() / m.sum())
        assert rows[g]["recourse_rate"] == pytest.approx(
            (denied & (status == "optimal")).sum() / denied.sum())
        assert rows[g]["median_cost"] == pytest.approx(np.median(cost[m & (status == "optimal")]))
    rate = out["gaps"]["recourse_rate"]
    hi, lo = rate["highest"], rate["lowest"]
    rr = {g: rows[g]["recourse_rate"] for g in rows}
    assert hi == max(rr, key=rr.get) and lo == min(rr, key=rr.get)

    def counts(g):
        d = (groups == g) & (status != "already_target")
        k = int((d & (status == "optimal")).sum())
        return [k, int(d.sum()) - k]

    assert rate["pair_p_value"] == pytest.approx(
        stats.fisher_exact([counts(hi), counts(lo)])[1])
    assert rate["omnibus_p_value"] == pytest.approx(stats.chi2_contingency(
        [counts(g) for g in ("x", "y", "z")], correction=False)[1])
    c = out["gaps"]["median_cost"]
    assert c["highest"] == "z"
    samples = {g: cost[(groups == g) & (status == "optimal")] for g in ("x", "y", "z")}
    assert c["pair_p_value"] == pytest.approx(stats.mannwhitneyu(
        samples[c["highest"]], samples[c["lowest"]], alternative="two-sided").pvalue)
    assert c["omnibus_p_value"] == pytest.approx(stats.kruskal(*samples.values()).pvalue)


def test_bootstrap_interval_hand_case_and_scipy():
    # Two values: resampled medians are x, (x+y)/2, y with chances 1/4, 1/2, 1/4, so the
    # 95 % percentile interval is [x, y].
    assert bootstrap_ci(np.array([1.0, 5.0]), "median", n_boot=4000) == (1.0, 5.0)
    assert bootstrap_ci(np.array([3.0]), "median") is None
    v = np.random.default_rng(3).normal(10.0, 2.0, size=200)
    ours = bootstrap_ci(v, "mean", n_boot=20000, seed=1)
    ref = stats.bootstrap((v,), np.mean, n_resamples=20000, method="percentile",
                          random_state=2).confidence_interval
    width = ref.high - ref.low
    assert abs(ours[0] - ref.low) < 0.03 * width and abs(ours[1] - ref.high) < 0.03 * width
    # closed form: the bootstrap mean is close to normal with sd = std(v) / sqrt(n)
    half = stats.norm.ppf(0.975) * v.std() / np.sqrt(v.size)
    assert ours == pytest.approx((v.mean() - half, v.mean() + half), abs=0.03 * width)
    assert ours == bootstrap_ci(v, "mean", n_boot=20000, seed=1)  # seeded


def test_intersection_labels():
    s = intersect(pd.Series(["f", "m"], name="sex"), pd.Series(["yes", "no"], name="fw"))
    assert list(s) == ["sex=f & fw=yes", "sex=m & fw=no"]


@pytest.fixture(scope="module")
def audited(tmp_path_factory, german, forest, applicants):
    X_train, _, _, schema = german
    data = applicants.assign(region=["<b>north</b>", "south|x](http://e)"]
                            * (len(applicants) // 2))
    res = audit(forest, data, schema, tmp_path_factory.mktemp("fair"), target="good",
                n_jobs=1, protected="personal_status_and_sex", intersect="region")
    return res, data


def test_audit_fairness_figures_equal_predict_over_every_applicant(audited, forest):
    res, data = audited
    by = {b["attribute"]: b for b in res.summary["fairness"]["by"]}
    assert set(by) == {"personal_status_and_sex", "region",
                       "personal_status_and_sex & region"}
    denied = forest.predict(data.drop(columns="region")) != "good"
    rows = res.results.set_index("id")
    for attr in ("personal_status_and_sex", "region"):
        for r in by[attr]["rows"]:
            m = (data[attr].astype(str) == r["group"]).to_numpy()
            assert r["n_valid"] == m.sum()
            assert r["denial_rate"] == pytest.approx(denied[m].mean())
            ids = data.index[m & denied]
            st = rows.loc[ids, "status"]
            assert r["n_recourse"] == st.isin(["optimal", "feasible"]).sum()
            assert r["n_precluded"] == (st == "no_recourse").sum()
    both = by["personal_status_and_sex & region"]["rows"]
    assert sum(r["n_valid"] for r in both) == len(data)


def test_hostile_group_labels_are_escaped(audited):
    res, _ = audited
    html = (res.out / "report.html").read_text()
    md = (res.out / "summary.md").read_text()
    assert "<b>north</b>" not in html and "&lt;b&gt;north&lt;/b&gt;" in html
    assert "<b>" not in md and "](http" not in md
    assert "Who carries the burden" in html and "Mann-Whitney" in html


def test_tied_groups_are_still_two_groups():
    population = pd.Series(["p"] * 3 + ["q"] * 3)
    results = _table(["optimal"] * 6, costs=[1.0] * 6, l0=[1.0] * 6)
    gap = burden(results, population, min_group=1)["gaps"]["recourse_rate"]
    assert gap["gap"] == 0.0 and {gap["highest"], gap["lowest"]} == {"p", "q"}


@pytest.mark.parametrize("kwargs, words", [
    ({"intersect": "foreign_worker"}, "needs a first protected attribute"),
    ({"protected": "foreign_worker", "intersect": "foreign_worker"}, "itself"),
    ({"protected": "foreign_worker", "intersect": "nope"}, "not a column"),
])
def test_bad_intersect_is_refused(tmp_path, german, forest, applicants, kwargs, words):
    from recourse.encoders.errors import InputValidationError

    with pytest.raises(InputValidationError, match=words):
        audit(forest, applicants, german[3], tmp_path, target="good", n_jobs=1, **kwargs)

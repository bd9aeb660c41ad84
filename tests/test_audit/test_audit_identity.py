"""The words for a refused audit directory name exactly the entries that differ."""

from __future__ import annotations

import itertools

from recourse.audit.identity import IDENTITY_WORDS, identity_differences

BASE = {"model": "file:aa", "schema": "bb", "data": "cc", "reference": "none",
        "causal": "none", "min_margin": None, "seen_together": "none", "support": "none",
        "target": "good", "norm": "l1", "time_limit": 60.0, "select": "denied",
        "engine_version": "0.1.0"}


def test_equal_identities_have_no_difference():
    assert identity_differences(BASE, dict(BASE)) == []


def test_every_pair_of_changed_entries_is_named_and_nothing_else():
    for a, b in itertools.combinations(BASE, 2):
        new = dict(BASE, **{a: "changed", b: "changed"})
        got = identity_differences(BASE, new)
        assert len(got) == 2, (a, b, got)
        for key, phrase in zip(sorted((a, b), key=list(IDENTITY_WORDS).index), got):
            assert phrase.startswith(IDENTITY_WORDS[key][0]), (key, phrase)


def test_options_show_both_values_and_hashes_are_not_shown():
    got = identity_differences(BASE, dict(BASE, time_limit=30.0, model="file:zz"))
    assert got == ["the model differs", "the time limit (s): 60.0 before, 30.0 now"]
    assert "aa" not in " ".join(got) and "zz" not in " ".join(got)


def test_unknown_and_missing_keys():
    got = identity_differences(BASE, {**BASE, "new_option": 1})
    assert got == ["new_option: none before, 1 now"]
    assert identity_differences(None, BASE) == [
        "the directory's manifest does not record what its audit was run on"]

"""The same audit on a Dask LocalCluster (two worker processes) equals the local run."""

from __future__ import annotations

import numpy as np
import pytest

from recourse.audit import audit

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as c:
        yield c


def _key(frame):
    return (list(frame["id"]), list(frame["status"]),
            [[(c["feature"], c["after"]) for c in ch] for ch in frame["changes"]])


def test_dask_cluster_equals_the_local_run(tmp_path, cluster, german, forest, applicants):
    X_train, _, _, schema = german
    # the first 8 denied applicants and the approved ones among them; one chunk each on
    # the client, more than the 6 kept in flight on 2 workers, so finished chunks are
    # replaced by new ones
    denied = applicants.index[forest.predict(applicants) == "bad"]
    applicants = applicants.loc[:denied[7]]
    local = audit(forest, applicants, schema, tmp_path / "local", target="good",
                  reference=X_train, n_jobs=1, report=False)
    with distributed.Client(cluster) as client:
        on_client = audit(forest, applicants, schema, tmp_path / "client", target="good",
                          reference=X_train, client=client, chunk_size=1,
                          report=False)
        workers = client.run(lambda: __import__("os").getpid())
    by_address = audit(forest, applicants, schema, tmp_path / "address", target="good",
                       reference=X_train, scheduler=cluster.scheduler_address,
                       report=False)
    assert len(set(workers.values())) == 2
    for res in (on_client, by_address):
        assert _key(res.results) == _key(local.results)
        np.testing.assert_allclose(res.results["cost"].astype(float),
                                   local.results["cost"].astype(float), rtol=1e-6, atol=1e-6)
        assert res.summary["overall"] == local.summary["overall"]
    assert len(local.results) == 8

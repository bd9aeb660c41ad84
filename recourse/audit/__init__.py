"""Batch audit of a model over a population: who has recourse, at what cost, through which
changes, and whether the burden is equal across groups.

>>> from recourse.audit import audit                                          # doctest: +SKIP
>>> res = audit(model, applicants, schema, "audit_out", target="good",
...             reference=X_train, protected="foreign_worker")              # doctest: +SKIP
>>> res.summary["overall"]["recourse_rate"]                                  # doctest: +SKIP
"""

from recourse.audit.core import AuditResult, audit, default_n_jobs
from recourse.audit.report import write_outputs
from recourse.audit.rows import AUDIT_STATUSES
from recourse.audit.summary import summarize

__all__ = ["AUDIT_STATUSES", "AuditResult", "audit", "default_n_jobs", "summarize",
           "write_outputs"]

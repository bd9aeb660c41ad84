"""The query pipeline (one direction, every guarantee in one place):

============  ==========================================================================
stage         module
============  ==========================================================================
encode        ``prepared``: the model's encoding and arrays, built once per model
validate      ``query``: one frozen :class:`Query` per call (the only reader of user input)
build         ``build``: base problem + every option's rows + starting points
solve         ``solve``: one objective, or L0 then L1 (``recourse.solvers.search``)
decode/verify ``verify``: user units; the model's own ``predict``; every rule and option
result        ``run``: the :class:`~recourse.result.RecourseResult`, costs recomputed
price         ``pricing``: what each option costs, which ones block recourse
box           ``boxes``: the certified box around an answer
============  ==========================================================================

Options (``options/``) implement one protocol, :class:`Option`; the engine knows none of
them by type. A :class:`~recourse.solvers.deadline.Deadline` made once per query bounds
every stage.
"""

from recourse.engine.cache import find_recourse
from recourse.engine.core import BACKENDS, DEFAULT_MARGIN, RecourseEngine
from recourse.engine.options.base import Option
from recourse.engine.query import NORMS, Query

__all__ = ["RecourseEngine", "find_recourse", "Option", "Query", "NORMS", "BACKENDS",
           "DEFAULT_MARGIN"]

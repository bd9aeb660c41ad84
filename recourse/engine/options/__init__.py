"""Engine options: one module each, all implementing
:class:`~recourse.engine.options.base.Option`."""

from recourse.engine.options.base import Option

__all__ = ["Option"]

"""``python -m recourse.cli``: the ``recourse`` command."""

from recourse.cli import app

app()

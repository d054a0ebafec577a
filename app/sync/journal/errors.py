"""Why an undo is refused (raised by the reverts in ``entries.py`` and by ``undo.py``)."""

from __future__ import annotations

from app.errors import Conflict


class NothingToUndo(Conflict):
    """This run has no applied change left to undo (it was undone already, or changed nothing)."""


class UndoBlocked(Conflict):
    """A later run changed the same things: undo that run first."""


class UndoTooLate(Conflict):
    """This run can no longer be undone: what undoing it would put back is no longer kept."""

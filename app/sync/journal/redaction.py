"""What the journal keeps of a change once its retention period is over (pure: no database).

The row stays whole — its action, entity, pupil and band, run, status, actor and times — and so do its
``before`` and ``after`` objects and their keys; only the values that can hold a child's data are
replaced by null. Kept are the ids (ours and Wonde's, which say which account followed which MIS record,
so a reconnecting school still gets its old links back), the kind of a held change, and the reasons and
times the code wrote. Everything else is nulled, including any key this list does not name: a new kind
of entry holds nothing back by default.

Undo refuses a run with a redacted row (``undo.py``): it would restore the nulls.
"""

from __future__ import annotations

from typing import Any

# Keys whose values are ids, kinds, times or the code's own reasons, never a child's data.
KEPT_KEYS = frozenset(
    {
        # ids: our rows, and Wonde's records
        "mis_student_id",
        "mis_class_id",
        "mis_group_id",
        "band_id",
        "pupil_id",
        "band",
        "pupil",
        "ref",
        "student",
        "container",
        "suggestion",
        # a held change's kind, the safeguard's or the planner's reason (and whether an undo reverted it), and
        # when an account was archived
        "type",
        "reason",
        "after_undo",
        "after_grace",
        "archived_at",
        "migrating_since",
    }
)


def redacted(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """``values`` with every value not under a kept key replaced by null; nested objects (a held
    change) are redacted the same way, key by key."""
    if values is None:
        return None
    return {key: _redacted_value(key, value) for key, value in values.items()}


def _redacted_value(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return redacted(value)
    return value if key in KEPT_KEYS else None

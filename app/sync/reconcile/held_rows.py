"""A held change as the journal keeps it: a row with status "held" whose ``after`` carries the change
itself (``{"change": {"type": ..., ...}, "reason": ..., "after_undo": true?}``), so an approval applies
exactly what was shown. Stored rows are data: the shape only ever gains keys."""

from __future__ import annotations

import json
import uuid
from typing import Any

from app.models import ChangeRow, ChangeStatus, Entity
from app.sync.core import changes as kinds
from app.sync.core.changes import as_json, from_json, subject_of
from app.sync.core.safeguards import Held
from app.sync.journal.entries import Action, Entry, Subject
from app.sync.reconcile.schemas import HeldChange

AFTER_UNDO = "after_undo"  # the key of a change held because an undo reverted it (or with one, for its pupil)


def held_entry(school_id: str, held: Held) -> Entry:
    """A held change in the journal, carrying the change itself (and its pupil or band, for the timeline)."""
    change = held.change
    pupil = getattr(change, "pupil", None)
    band = getattr(change, "band", None)
    about = Subject(
        Entity.PUPIL if pupil else Entity.BAND,
        pupil or band or school_id,
        pupil_id=uuid.UUID(pupil) if pupil and not pupil.startswith(kinds.NEW) else None,
        band_id=uuid.UUID(band) if band and not band.startswith(kinds.NEW) else None,
    )
    after = {"change": serialise(change), "reason": held.reason} | ({AFTER_UNDO: True} if held.after_undo else {})
    return about.entry(Action.HELD, None, after, status=ChangeStatus.HELD)


def view(row: ChangeRow) -> HeldChange:
    """A held change as the admin sees it."""
    after = row.after or {}
    return HeldChange(
        id=row.id,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        change=after.get("change", {}),
        reason=after.get("reason", ""),
        status=row.status,
        created_at=row.created_at,
    )


def canonical(change: Any) -> str:
    return json.dumps(change, sort_keys=True)


serialise, deserialise = as_json, from_json


def change_of(row: ChangeRow) -> kinds.Change:
    return deserialise((row.after or {})["change"])


def subject_of_row(row: ChangeRow) -> str:
    """Whom a held change is about (``subject_of``): its pupil's, new child's or band's changes are decided as one."""
    return subject_of(change_of(row))


def after_undo(row: ChangeRow) -> bool:
    return bool((row.after or {}).get(AFTER_UNDO))

"""Our ids for the Wonde ids a plan speaks in, and the bands it may change: what ``apply`` needs to write."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from app.models import Band
from app.sync.state.snapshot import SchoolSnapshot


@dataclass(frozen=True)
class Lookup:
    student_ids: Mapping[str, uuid.UUID]
    containers: Mapping[str, tuple[uuid.UUID, str]]  # Wonde id -> (id, "class" | "group")
    bands: Mapping[uuid.UUID, Band]

    @classmethod
    def of(cls, snapshot: SchoolSnapshot) -> Lookup:
        """Every student and container the mirror has (a deleted one may still be named by a held change)."""
        return cls(
            {wonde_id: student_id for student_id, wonde_id in snapshot.every_student.items()},
            {c.wonde_id: (c.id, c.kind) for c in snapshot.every_container.values()},
            snapshot.bands,
        )

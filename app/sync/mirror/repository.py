"""Writing a read into the school's MIS mirror: a fixed number of bulk statements, whatever the size
of the school (rows travel as arrays and are unnested in the database).

Every write is conditional, so a read that finds nothing new changes nothing, not even ``updated_at``.
Nothing is hard-deleted: rows a complete read no longer returned, or that Wonde reports deleted, get
``deleted_at``; they come back (``deleted_at`` cleared) when Wonde returns them again.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import astuple, dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.time import utc_now
from app.sync.mirror.read import ClassRow, GroupRow, RecordIssue, StudentRow

# Column name -> PostgreSQL array type, in dataclass field order.
_STUDENT_TYPES = {
    "wonde_id": "text",
    "upi": "text",
    "mis_id": "text",
    "upn": "text",
    "forename": "text",
    "surname": "text",
    "legal_forename": "text",
    "legal_surname": "text",
    "middle_names": "text",
    "year_group": "smallint",
    "year_code": "text",
    "leaving_date": "date",
    "wonde_updated_at": "timestamptz",
}
_CLASS_TYPES = {
    "wonde_id": "text",
    "mis_id": "text",
    "name": "text",
    "code": "text",
    "description": "text",
    "subject_wonde_id": "text",
    "wonde_updated_at": "timestamptz",
}
_GROUP_TYPES = {
    "wonde_id": "text",
    "mis_id": "text",
    "name": "text",
    "code": "text",
    "type": "text",
    "description": "text",
    "wonde_updated_at": "timestamptz",
}


@dataclass
class MirrorCounts:
    """What a write changed, per kind of row."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"inserted": self.inserted, "updated": self.updated, "deleted": self.deleted}


def _columns(rows: Iterable[Any], types: dict[str, str]) -> dict[str, list[Any]]:
    values = [astuple(row) for row in rows]
    return {name: [v[i] for v in values] for i, name in enumerate(types)}


def _upsert_sql(table: str, types: dict[str, str]) -> str:
    """INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE, only where something differs."""
    names = list(types)
    unnest = ", ".join(f"CAST(:{n} AS {t}[])" for n, t in types.items())
    changing = [n for n in names if n != "wonde_id"]
    assignments = ", ".join(f"{n} = excluded.{n}" for n in changing)
    current = ", ".join(f"{table}.{n}" for n in changing)
    proposed = ", ".join(f"excluded.{n}" for n in changing)
    return (
        f"INSERT INTO {table} (id, school_id, {', '.join(names)}) "
        f"SELECT gen_random_uuid(), :school_id, * FROM unnest({unnest}) "
        f"ON CONFLICT (school_id, wonde_id) DO UPDATE SET {assignments}, deleted_at = NULL, updated_at = now() "
        f"WHERE ({current}, {table}.deleted_at) IS DISTINCT FROM ({proposed}, NULL::timestamptz) "
        "RETURNING (xmax = 0) AS inserted"
    )


class MirrorRepository:
    def __init__(self, session: AsyncSession, school_id: str) -> None:
        self.session = session
        self.school_id = school_id

    async def _upsert(self, table: str, types: dict[str, str], rows: Collection[Any], counts: MirrorCounts) -> None:
        if not rows:
            return
        result = await self.session.execute(
            text(_upsert_sql(table, types)), {"school_id": self.school_id, **_columns(rows, types)}
        )
        flags = [bool(inserted) for (inserted,) in result]
        counts.inserted += sum(flags)
        counts.updated += len(flags) - sum(flags)

    async def upsert_students(self, rows: Collection[StudentRow], counts: MirrorCounts) -> None:
        await self._upsert("mis_students", _STUDENT_TYPES, rows, counts)

    async def upsert_classes(self, rows: Collection[ClassRow], counts: MirrorCounts) -> None:
        await self._upsert("mis_classes", _CLASS_TYPES, rows, counts)

    async def upsert_groups(self, rows: Collection[GroupRow], counts: MirrorCounts) -> None:
        await self._upsert("mis_groups", _GROUP_TYPES, rows, counts)

    async def soft_delete(
        self, table: str, *, keep: Collection[str] | None = None, only: Collection[str] | None = None
    ) -> int:
        """Mark live rows deleted: every one not in ``keep`` (after a complete read), or those in ``only``."""
        condition = (
            "wonde_id <> ALL(CAST(:ids AS text[]))" if keep is not None else "wonde_id = ANY(CAST(:ids AS text[]))"
        )
        ids = list(keep if keep is not None else only or [])
        if only is not None and not ids:
            return 0
        result = await self.session.execute(
            text(
                f"UPDATE {table} SET deleted_at = now(), updated_at = now() "
                f"WHERE school_id = :school_id AND deleted_at IS NULL AND {condition} RETURNING 1"
            ),
            {"school_id": self.school_id, "ids": ids},
        )
        return len(result.all())

    async def restore(self, table: str, ids: Collection[str]) -> int:
        if not ids:
            return 0
        result = await self.session.execute(
            text(
                f"UPDATE {table} SET deleted_at = NULL, updated_at = now() WHERE school_id = :school_id "
                "AND deleted_at IS NOT NULL AND wonde_id = ANY(CAST(:ids AS text[])) RETURNING 1"
            ),
            {"school_id": self.school_id, "ids": list(ids)},
        )
        return len(result.all())

    async def wonde_ids(self, table: str, *, group_type: str | None = None) -> dict[str, uuid.UUID]:
        """Wonde id -> our id for every row of ``table`` in the school, deleted ones included."""
        type_filter = " AND type = :group_type" if group_type else ""
        rows = await self.session.execute(
            text(f"SELECT wonde_id, id FROM {table} WHERE school_id = :school_id{type_filter}"),
            {"school_id": self.school_id, "group_type": group_type},
        )
        found: dict[str, uuid.UUID] = dict(rows.all())
        return found

    async def sync_memberships(
        self,
        kind: str,
        pairs: Collection[tuple[str, str]],
        *,
        students: Collection[str] | None,
        counts: MirrorCounts,
        leave_alone: Collection[str] = (),
    ) -> None:
        """Make the live memberships of ``kind`` ("class" or "group") match ``pairs`` of Wonde ids.

        ``students=None`` means ``pairs`` is the whole school (a complete read) but for the students
        in ``leave_alone`` (set aside by the read: their memberships stay as they were); otherwise only
        the memberships of ``students`` are made to match, and everyone else's are left alone. The
        difference is worked out here rather than in SQL: it is linear, and does not depend on the
        planner having statistics for rows this very transaction wrote.
        """
        table, column = ("mis_classes", "mis_class_id") if kind == "class" else ("mis_groups", "mis_group_id")
        student_ids = await self.wonde_ids("mis_students")
        container_ids = await self.wonde_ids(table, group_type="REGISTRATION" if kind == "group" else None)
        desired = {(student_ids[s], container_ids[c]) for s, c in pairs if s in student_ids and c in container_ids}
        scope = ""
        params: dict[str, Any] = {"school_id": self.school_id}
        if students is not None:
            scope = " AND mis_student_id = ANY(CAST(:scope AS uuid[]))"
            params["scope"] = [student_ids[s] for s in students if s in student_ids]
        current = await self.session.execute(
            text(
                f"SELECT id, mis_student_id, {column}, deleted_at IS NULL FROM mis_memberships "
                f"WHERE school_id = :school_id AND {column} IS NOT NULL{scope}"
            ),
            params,
        )
        kept = {student_ids[s] for s in leave_alone if s in student_ids}
        existing: set[tuple[uuid.UUID, uuid.UUID]] = set()
        restore: list[uuid.UUID] = []
        remove: list[uuid.UUID] = []
        for membership_id, student_id, container_id, live in current:
            if student_id in kept:
                continue
            pair = (student_id, container_id)
            existing.add(pair)
            if pair in desired and not live:
                restore.append(membership_id)
            elif pair not in desired and live:
                remove.append(membership_id)
        new = sorted(desired - existing)
        if new:
            await self.session.execute(
                text(
                    f"INSERT INTO mis_memberships (id, school_id, mis_student_id, {column}) "
                    "SELECT gen_random_uuid(), :school_id, * "
                    "FROM unnest(CAST(:students AS uuid[]), CAST(:containers AS uuid[]))"
                ),
                {"school_id": self.school_id, "students": [p[0] for p in new], "containers": [p[1] for p in new]},
            )
        for ids, deleted_at in ((restore, "NULL"), (remove, "now()")):
            if ids:
                await self.session.execute(
                    text(
                        f"UPDATE mis_memberships SET deleted_at = {deleted_at}, updated_at = now() "
                        "WHERE id = ANY(CAST(:ids AS uuid[]))"
                    ),
                    {"ids": ids},
                )
        counts.inserted += len(new)
        counts.updated += len(restore)
        counts.deleted += len(remove)

    async def record_issues(self, issues: Collection[RecordIssue], *, read: dict[str, Collection[str]] | None) -> None:
        """Keep the school's list of quarantined and cleaned records up to date with this read: two
        statements. ``read=None`` after a complete read (every record of the school was read: what it
        did not flag is clean, or gone); otherwise the Wonde ids read, by record kind, whose earlier
        issues this read settles."""
        rows = sorted(issues, key=lambda i: (i.record, i.wonde_id, i.code))
        flagged = {
            "records": [i.record.value for i in rows],
            "ids": [i.wonde_id for i in rows],
            "codes": [i.code.value for i in rows],
        }
        settled = ""
        params: dict[str, Any] = {"school_id": self.school_id, **flagged}
        if read is not None:
            pairs = [(record, wonde_id) for record, ids in read.items() for wonde_id in ids]
            settled = (
                " AND (i.record, i.wonde_id) IN (SELECT * FROM unnest(CAST(:read_records AS text[]),"
                " CAST(:read_ids AS text[])))"
            )
            params |= {"read_records": [p[0] for p in pairs], "read_ids": [p[1] for p in pairs]}
        await self.session.execute(
            text(
                "DELETE FROM mis_record_issues i WHERE i.school_id = :school_id"
                f"{settled} AND (i.record, i.wonde_id, i.code) NOT IN (SELECT * FROM unnest("
                "CAST(:records AS text[]), CAST(:ids AS text[]), CAST(:codes AS text[])))"
            ),
            params,
        )
        if rows:
            await self.session.execute(
                text(
                    "INSERT INTO mis_record_issues (school_id, record, wonde_id, code, fields, first_seen_at,"
                    " last_seen_at) SELECT :school_id, *, CAST(:now AS timestamptz), CAST(:now AS timestamptz)"
                    " FROM unnest(CAST(:records AS text[]), CAST(:ids AS text[]), CAST(:codes AS text[]),"
                    " CAST(:fields AS text[])) ON CONFLICT (school_id, record, wonde_id, code)"
                    " DO UPDATE SET fields = excluded.fields, last_seen_at = excluded.last_seen_at"
                ),
                {**params, "now": utc_now(), "fields": [", ".join(i.fields)[:500] for i in rows]},
            )

    async def live_student_ids(self) -> set[str]:
        """The Wonde ids of the school's students the mirror has now (not deleted)."""
        rows = await self.session.execute(
            text("SELECT wonde_id FROM mis_students WHERE school_id = :school_id AND deleted_at IS NULL"),
            {"school_id": self.school_id},
        )
        return {wonde_id for (wonde_id,) in rows}

    async def erased(self) -> tuple[set[str], set[str]]:
        """The Wonde ids of the school's students erased on request, and their UPNs' digests: no read
        stores them again."""
        rows = await self.session.execute(
            text("SELECT wonde_id, upn_digest FROM erased_students WHERE school_id = :school_id"),
            {"school_id": self.school_id},
        )
        ids, digests = set(), set()
        for wonde_id, digest in rows:
            ids.add(wonde_id)
            if digest:
                digests.add(digest)
        return ids, digests

    async def refresh_statistics(self) -> None:
        """Let the planner see rows this transaction just wrote. Without it, a school's first read
        is planned as if its tables were empty, and foreign-key checks crawl (nested loops)."""
        await self.session.execute(text("ANALYZE mis_students, mis_classes, mis_groups, mis_memberships"))

    async def drop_memberships_of_deleted(self) -> int:
        """Memberships of students, classes or groups that are deleted are deleted too."""
        result = await self.session.execute(
            text(
                "UPDATE mis_memberships m SET deleted_at = now(), updated_at = now() "
                "WHERE m.school_id = :school_id AND m.deleted_at IS NULL AND ("
                " EXISTS (SELECT 1 FROM mis_students s WHERE s.id = m.mis_student_id AND s.deleted_at IS NOT NULL)"
                " OR EXISTS (SELECT 1 FROM mis_classes c WHERE c.id = m.mis_class_id AND c.deleted_at IS NOT NULL)"
                " OR EXISTS (SELECT 1 FROM mis_groups g WHERE g.id = m.mis_group_id AND g.deleted_at IS NOT NULL)"
                ") RETURNING 1"
            ),
            {"school_id": self.school_id},
        )
        return len(result.all())

    async def derive_container_years(self) -> None:
        """A class or group has no year in Wonde: take the commonest year of its live members."""
        for table, column in (("mis_classes", "mis_class_id"), ("mis_groups", "mis_group_id")):
            await self.session.execute(
                text(
                    f"UPDATE {table} c SET year_group = d.year, updated_at = now() FROM ("
                    f" SELECT m.{column} AS container, mode() WITHIN GROUP (ORDER BY s.year_group) AS year"
                    f" FROM mis_memberships m JOIN mis_students s ON s.id = m.mis_student_id"
                    f" WHERE m.school_id = :school_id AND m.deleted_at IS NULL AND m.{column} IS NOT NULL"
                    f" AND s.deleted_at IS NULL AND s.year_group IS NOT NULL GROUP BY m.{column}) d "
                    f"WHERE c.id = d.container AND c.year_group IS DISTINCT FROM d.year"
                ),
                {"school_id": self.school_id},
            )

"""Journal entries and held changes written by the code at commit 2b42a97 must be read, shown, undone
and approved by the code of today exactly as that code did.

The fixture ``tests/fixtures/journal_v1.json.gz`` was made by the code at commit 2b42a97 (its
``made_by`` says so, with the alembic revision of its rows) with a script kept outside the repository,
``make_journal_v1.py``, because it drives that commit's modules by their paths. The script took eleven
small primary schools through scripted lives against the Wonde sandbox, through the HTTP API and a real
worker: roster import, approval webhook, uploader decisions, merge, MIS events (joiners, leavers,
returns, renames, year changes, a class closing, rollover, MIS migration with and without UPNs), sync,
safeguard holds, approve / reject / accept-suggestion, undo, disconnect (by the admin and by Wonde) and
reconnection; each school's ``story`` and ``log`` say what it went through. It then dumped every row of
every school-owned table (``to_jsonb``, UTC; ``credentials`` and ``webhook_events`` left out, pupils'
password hashes replaced with one fixed hash), loaded them into a fresh database the way this test
does, and recorded through the API what that code answered:

- ``changes``: ``GET /changes``, every page, newest first (its items stored as rows of ``columns``);
- ``held``: ``GET /held-changes``; ``timelines``: ``GET /pupils/{id}/timeline`` for a few pupils (the
  first linked, archived, restored, unlinked, with a held change, whose creation was undone, and the
  one with the most kinds of entries);
- ``snapshot``: the school's state, pupils, bands, links and memberships, as the API lists them;
- ``uploader``, for a disconnected school: ``GET /uploader/preview`` and ``/uploader/issues``, which
  offer again the links the journal remembers (``unlink_pupil``, ``undo_create_pupil``, ...);
- ``cases``: on a fresh copy of the school each time, ``POST /runs/{id}/undo`` of every merge,
  reconcile, disconnect and undo run, and for held changes ``approve`` of one of each kind,
  ``accept-suggestion``, ``reject`` and ``approve-all``: the status code, the response, and the
  ``outcome`` against the snapshot: pupils and bands added or changed (the fields that changed),
  memberships added and removed, the school's state, journal entries updated (the fields) and written.

Two behaviours changed on purpose since (issue 17), and are checked as they are now, against the
recording: an undo's counts gained ``held_at_next_sync`` (how many of the changes it reverted the next
sync will hold for a decision rather than make again: every reverted change a sync plans), checked
against the entries it wrote; and a decision on one held change covers every held change waiting for
the same pupil (or new child, or band): where the recorded case decided one of several, it must now
decide all of them alike, do at least what was recorded, and touch nothing but that pupil. With a pupil's
changes approved together, a held re-link (after an MIS migration) approved with that pupil's held
archive no longer archives the child it has just found: where the recording did, it is expected not to.

Normalised, on both sides, only what the operation makes afresh: ids it creates (a new pupil is
``new-pupil:<username>``, any other new id ``new:<n>`` in order of appearance in the sorted JSON),
and an ``archived_at`` it stamps into a new journal entry (``<now>``; one the stored journal already
has is kept). Rows' own timestamps are not compared, except ``archived_at`` as "archived or not". A
refusal is compared by status code and error name (its detail, which may name any one of several
blocking runs, is recorded but not compared); the generator checked that a refusal changed nothing.

The rows are loaded into a scratch database migrated to the fixture's alembic revision, which is then
migrated to head: a migration that reshapes the journal must carry these rows, as it would in
production. Each test works in a transaction that is rolled back, so every case starts from the
stored state. Everything is checked through the HTTP API only; the test imports nothing from
``app.sync`` or ``app.models`` (rows go in through SQL, by table name).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.main import create_app
from tests.fixtures.app import TokenFactory
from tests.fixtures.database import (
    RUN_TAG,
    _admin_execute,
    alembic_config,
    database_url_for,
    drop_database,
    rolled_back,
    savepoint_sessionmaker,
)

FIXTURE: dict[str, Any] = json.loads(
    gzip.decompress((Path(__file__).parents[2] / "fixtures" / "journal_v1.json.gz").read_bytes())
)
SCHOOLS: dict[str, dict[str, Any]] = {school["id"]: school for school in FIXTURE["schools"]}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TABLE_NAME = re.compile(r"[a-z_]+")

Json = dict[str, Any]


# -- the stored state ------------------------------------------------------------------------------------------------


async def _load(url: str) -> None:
    """Every school's rows, table by table in the fixture's order (parents first), ids as stored."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for table in FIXTURE["tables"]:
                assert TABLE_NAME.fullmatch(table), table
                rows = [
                    dict(zip(school["rows"][table]["columns"], row, strict=True))
                    for school in FIXTURE["schools"]
                    for row in school["rows"][table]["rows"]
                ]
                await conn.execute(
                    text(
                        f"INSERT INTO {table} OVERRIDING SYSTEM VALUE "  # noqa: S608 (a name checked above)
                        f"SELECT * FROM jsonb_populate_recordset(NULL::{table}, CAST(:rows AS jsonb))"
                    ),
                    {"rows": json.dumps(rows)},
                )
            # New rows (an undo's journal entries) get ids after the stored ones.
            identities = await conn.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE is_identity = 'YES' AND table_schema = 'public'"
                )
            )
            for table, column in identities.all():
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "  # noqa: S608 (catalog names)
                        f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)"
                    )
                )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def journal_database() -> Iterator[str]:
    """A scratch database at the fixture's revision, loaded, then migrated to head."""
    name = f"bandsync_test_{RUN_TAG}_journal"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    try:
        url = database_url_for(name)
        command.upgrade(alembic_config(url), FIXTURE["made_by"]["alembic_revision"])
        asyncio.run(_load(url))
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        drop_database(name)


@pytest.fixture
async def connection(journal_database: str) -> AsyncIterator[AsyncConnection]:
    """The fixtures' ``connection`` (the app's requests commit to savepoints in it), over the stored state."""
    async with rolled_back(journal_database) as conn:
        yield conn


@pytest.fixture(scope="module")
def application(settings: Settings) -> FastAPI:
    """One application for the module's hundred-odd cases (making one takes a quarter of a second)."""
    return create_app(settings)


@pytest.fixture
async def app(application: FastAPI, connection: AsyncConnection) -> AsyncIterator[FastAPI]:
    """The conftest's ``app`` (requests commit to savepoints of the test's transaction), made once."""
    async with application.router.lifespan_context(application):
        application.state.sessionmaker = savepoint_sessionmaker(connection)
        yield application


# -- reading a school through the API -------------------------------------------------------------------------------


class School:
    def __init__(self, client: httpx.AsyncClient, auth: TokenFactory, school_id: str) -> None:
        self.client, self.school_id, self.headers = client, school_id, auth(school_id)

    async def request(self, method: str, path: str, **params: Any) -> httpx.Response:
        return await self.client.request(
            method, f"/v1/schools/{self.school_id}{path}", headers=self.headers, params=params
        )

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.request("GET", path, **params)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    async def every_page(self, path: str, **params: Any) -> list[Json]:
        items: list[Json] = []
        while True:
            body = await self.get(path, per_page=200, page=len(items) // 200 + 1, **params)
            items += body["items"]
            if len(items) >= body["total"] or not body["items"]:
                return items

    async def snapshot(self) -> Json:
        """The school's state, pupils, bands and memberships; links are the ``mis_*`` ids."""
        school = await self.get("")
        pupils = await self.every_page("/pupils", include_archived="true")
        bands = await self.every_page("/bands", include_archived="true")
        members: dict[str, list[str]] = {}
        for band in bands:
            if inside := await self.every_page("/pupils", band_id=band["id"], include_archived="true"):
                members[band["id"]] = sorted(p["id"] for p in inside)
        return {
            "school": {"state": school["state"], "migrating_since": school["migrating_since"]},
            "pupils": {
                p["id"]: {
                    **{k: p[k] for k in ("first_name", "last_name", "year_group", "username", "mis_student_id")},
                    "archived": p["archived_at"] is not None,
                }
                for p in pupils
            },
            "bands": {
                b["id"]: {
                    **{k: b[k] for k in ("name", "year_group", "mis_class_id", "mis_group_id")},
                    "archived": b["archived_at"] is not None,
                }
                for b in bands
            },
            "members": members,
        }


# Journal fields the API gained after the fixture was made; empty for its rows (the values of a row
# written that long ago are not yet redacted), so read as the code that wrote them answered.
ADDED_SINCE = ("redacted_at",)


def _as_recorded(entries: list[Json]) -> list[Json]:
    return [{k: v for k, v in entry.items() if not (k in ADDED_SINCE and v is None)} for entry in entries]


def _stored_changes(school: Json) -> list[Json]:
    stored = school["changes"]
    return [dict(zip(stored["columns"], row, strict=True)) for row in stored["rows"]]


# -- what an operation changed ---------------------------------------------------------------------------------------


def _rows_diff(before: dict[str, Json], after: dict[str, Json]) -> Json:
    return {
        "added": {key: row for key, row in after.items() if key not in before},
        "changed": {
            key: {field: value for field, value in row.items() if before[key].get(field) != value}
            for key, row in after.items()
            if key in before and before[key] != row
        },
        "removed": sorted(key for key in before if key not in after),
    }


def _pairs(members: dict[str, list[str]]) -> set[str]:
    return {f"{band} {pupil}" for band, pupils in members.items() for pupil in pupils}


def _name_new_ids(value: Any, known: set[str], pupils: dict[str, str]) -> Any:
    """Ids the operation made, by what they are: its pupils by username, the rest in order of appearance."""
    rendered = json.dumps(value, sort_keys=True)
    names = dict(pupils)
    for found in UUID.findall(rendered):
        if found not in known and found not in names:
            names[found] = f"new:{len(names) - len(pupils) + 1}"
    for old, new in names.items():
        rendered = rendered.replace(old, new)
    return json.loads(rendered)


def _outcome(before: Json, journal_before: list[Json], after: Json, journal_after: list[Json], known: set[str]) -> Json:
    old = {str(entry["id"]): entry for entry in journal_before}
    new = {str(entry["id"]): entry for entry in journal_after}
    stored_times = {None} | {
        values["archived_at"]
        for entry in journal_before
        for values in (entry["before"], entry["after"])
        if isinstance(values, dict) and "archived_at" in values
    }
    written = []
    for key in sorted((k for k in new if k not in old), key=int):
        entry = {k: v for k, v in new[key].items() if k not in ("id", "created_at")}
        for side in ("before", "after"):
            if isinstance(entry[side], dict) and entry[side].get("archived_at") not in stored_times:
                entry[side] = {**entry[side], "archived_at": "<now>"}  # stamped by this operation
        written.append(entry)
    outcome = {
        "school": after["school"] if after["school"] != before["school"] else None,
        "pupils": _rows_diff(before["pupils"], after["pupils"]),
        "bands": _rows_diff(before["bands"], after["bands"]),
        "members": {
            "added": sorted(_pairs(after["members"]) - _pairs(before["members"])),
            "removed": sorted(_pairs(before["members"]) - _pairs(after["members"])),
        },
        "journal": {
            "updated": {
                key: {field: value for field, value in new[key].items() if old[key].get(field) != value}
                for key in sorted(old, key=int)
                if key in new and new[key] != old[key]
            },
            "new": written,
        },
    }
    pupils = {pid: f"new-pupil:{p['username']}" for pid, p in after["pupils"].items() if pid not in known}
    return _name_new_ids(outcome, known, pupils)  # type: ignore[no-any-return]


# Counts a run gained after the fixture was made (issue 17): an undo's count of what the next sync will hold.
ADDED_TO_COUNTS = ("held_at_next_sync",)


def _response(response: httpx.Response, known: set[str]) -> Json:
    body = response.json()
    if response.status_code >= 400:
        return {"status": response.status_code, "error": body.get("error")}
    if isinstance(body, dict) and "kind" in body:  # a run
        body = {k: body[k] for k in ("kind", "trigger", "status", "actor", "counts", "error")}
        body["counts"] = {k: v for k, v in body["counts"].items() if k not in ADDED_TO_COUNTS}
    return {"status": response.status_code, "body": _name_new_ids(body, known, {})}


# -- issue 17: held changes decided per pupil; what an undo reverted, held at the next sync ---------------------------

# The actions a sync plans, so that undoing one leaves a change the next sync would make again (and holds):
# all but a merge's bands, a disconnect's unlinks and the end of an MIS migration.
REPLANNED = {
    "create_pupil",
    "link_pupil",
    "add_to_band",
    "remove_from_band",
    "rename_pupil",
    "change_year",
    "archive_pupil",
    "restore_pupil",
    "rename_band",
}


def _held_at_next_sync(written: list[Json]) -> int:
    """How many of an undo's entries revert a change a sync plans (a band unlinked by a sync, not by a
    disconnect: the undo entry's ``after`` is the sync's ``before``, which names the class)."""
    undone = [entry["action"].removeprefix("undo_") for entry in written]
    return sum(
        1
        for action, entry in zip(undone, written, strict=True)
        if action in REPLANNED or (action == "unlink_band" and "container" in (entry["after"] or {}))
    )


def _subject(change: Json) -> str:
    """Whom a held change is about, as its decision covers it: the pupil, the child whose account it would
    make, or the band for a band's own changes."""
    if change["type"] == "CreatePupil":
        return f"student:{change['student']}"
    if pupil := change.get("pupil"):
        return f"student:{pupil.removeprefix('new:')}" if pupil.startswith("new:") else f"pupil:{pupil}"
    return f"band:{change['band']}"


def _decided_with(recorded: Json, change_id: int) -> list[str]:
    """The ids of the held changes waiting for the same pupil as this one (itself included)."""
    rows = _stored_changes(recorded)
    subject = _subject(next(r for r in rows if r["id"] == change_id)["after"]["change"])
    waiting = [r for r in rows if r["action"] == "held" and r["status"] == "held"]
    return [str(r["id"]) for r in waiting if _subject(r["after"]["change"]) == subject]


def _about(outcome: Json) -> set[str]:
    """The pupils (by id, or ``new-pupil:<username>``) an outcome's new journal entries are about."""
    return {str(entry["pupil_id"]) for entry in outcome["journal"]["new"]} - {"None"}


def _relinked_not_archived(expected: Json) -> Json:
    """The recorded outcome without the archiving of a pupil the same approval re-linked."""
    new = expected["journal"]["new"]
    relinked = {e["pupil_id"] for e in new if e["action"] == "link_pupil"}
    if not relinked & {e["pupil_id"] for e in new if e["action"] == "archive_pupil"}:
        return expected
    changed = {
        pupil: {k: v for k, v in fields.items() if not (pupil in relinked and k == "archived")}
        for pupil, fields in expected["pupils"]["changed"].items()
    }
    return {
        **expected,
        "pupils": {**expected["pupils"], "changed": changed},
        "journal": {
            **expected["journal"],
            "new": [e for e in new if not (e["action"] == "archive_pupil" and e["pupil_id"] in relinked)],
        },
    }


def _assert_decided_per_pupil(case: Json, outcome: Json, group: list[str]) -> None:
    """A recorded decision on one of a pupil's held changes, now a decision on all of them: each is
    decided as the recorded one was; a rejection changes nothing else; an approval does at least what
    the recorded one did, and the rest only to that pupil (or the account the decision makes)."""
    recorded = case["outcome"]
    [decided] = recorded["journal"]["updated"].values()
    assert outcome["journal"]["updated"] == dict.fromkeys(group, decided)
    if case["op"] == "reject":
        assert {k: v for k, v in outcome.items() if k != "journal"} == {
            k: v for k, v in recorded.items() if k != "journal"
        }
        assert outcome["journal"]["new"] == recorded["journal"]["new"] == []
        return
    for part in ("pupils", "bands"):
        for kind in ("added", "changed"):
            assert recorded[part][kind].items() <= outcome[part][kind].items(), (part, kind)
        assert outcome[part]["removed"] == recorded[part]["removed"]
    for kind in ("added", "removed"):
        assert set(recorded["members"][kind]) <= set(outcome["members"][kind])
    assert all(entry in outcome["journal"]["new"] for entry in recorded["journal"]["new"])
    pupils = _about(outcome)
    assert len(pupils) <= 1, pupils  # one pupil's changes, or one new child's account
    changed = set(outcome["pupils"]["changed"]) | set(outcome["pupils"]["added"])
    members = {pair.split()[1] for kind in ("added", "removed") for pair in outcome["members"][kind]}
    assert changed | members <= pupils, (changed, members, pupils)


# -- the tests -----------------------------------------------------------------------------------------------------


# What the code at 2b42a97 writes: ``app/sync/apply.py``, ``disconnect.py``, ``reconcile.py`` (``held``,
# ``end_migration``) and ``undo.py`` (``undo_<action>``); and the typed changes a held entry carries.
ACTIONS = {
    "create_band",
    "link_band",
    "create_pupil",
    "link_pupil",
    "add_to_band",
    "remove_from_band",
    "rename_pupil",
    "change_year",
    "archive_pupil",
    "restore_pupil",
    "rename_band",
    "unlink_band",
    "unlink_pupil",
    "end_migration",
}
HELD_KINDS = {
    "CreatePupil",
    "LinkPupil",
    "AddToBand",
    "RemoveFromBand",
    "RenamePupil",
    "ChangeYear",
    "RenameBand",
    "ArchivePupil",
    "RestorePupil",
    "UnlinkBand",
}


def test_the_fixture_covers_every_action_and_held_kind() -> None:
    """The stored journal has every action, its undo, and every kind of held change in every state; and
    the cases undo each action and approve each kind (so what this file checks stays that wide)."""
    stored = [entry for school in FIXTURE["schools"] for entry in _stored_changes(school)]
    assert {entry["action"] for entry in stored} == ACTIONS | {f"undo_{a}" for a in ACTIONS} | {"held"}
    assert {entry["status"] for entry in stored} == {"applied", "held", "rejected", "undone"}
    held = [entry for entry in stored if entry["action"] == "held"]
    assert {entry["after"]["change"]["type"] for entry in held} == HELD_KINDS
    assert {entry["status"] for entry in held} == {"applied", "held", "rejected"}
    cases = [case for school in FIXTURE["schools"] for case in school["cases"]]
    undone = {
        entry["action"].removeprefix("undo_")
        for case in cases
        if case["op"] == "undo" and case["response"]["status"] == 200
        for entry in case["outcome"]["journal"]["new"]
    }
    assert undone == ACTIONS
    assert {case["held_kind"] for case in cases if case["op"] == "approve"} == HELD_KINDS
    assert {case["response"].get("error") for case in cases} >= {None, "UndoBlocked", "NothingToUndo"}


# Fields the uploader preview gained after the fixture was made: additive, so a client of that day,
# which ignores them, reads the same preview.
ADDED_TO_PREVIEW = frozenset({"erased_on_request"})


@pytest.mark.parametrize("school_id", SCHOOLS)
async def test_the_journal_reads_as_recorded(client: httpx.AsyncClient, auth: TokenFactory, school_id: str) -> None:
    """The journal, held changes, timelines and the school itself read as the code that wrote them read them."""
    recorded = SCHOOLS[school_id]
    school = School(client, auth, school_id)
    changes = _as_recorded(await school.every_page("/changes"))
    assert len(changes) == recorded["changes"]["total"]
    assert changes == _stored_changes(recorded)
    assert await school.get("/held-changes") == recorded["held"]
    for pupil_id, timeline in recorded["timelines"].items():
        assert _as_recorded(await school.get(f"/pupils/{pupil_id}/timeline")) == timeline, pupil_id
    assert await school.snapshot() == recorded["snapshot"]
    if "uploader" in recorded:  # disconnected: reconnecting offers the links the journal remembers
        preview = await school.get("/uploader/preview")
        assert {k: v for k, v in preview.items() if k not in ADDED_TO_PREVIEW} == recorded["uploader"]["preview"]
        assert preview["erased_on_request"] == []
        assert await school.get("/uploader/issues") == recorded["uploader"]["issues"]


def _case_id(school_id: str, case: Json) -> str:
    if case["op"] == "undo":
        return f"{school_id}-undo-{case['run_kind']}-{case['run_id'][:8]}"
    if case["op"] == "approve-all":
        return f"{school_id}-approve-all"
    return f"{school_id}-{case['op']}-{case['held_kind']}-{case['change_id']}"


CASES = [(school_id, case) for school_id, school in SCHOOLS.items() for case in school["cases"]]


@pytest.mark.parametrize(("school_id", "case"), CASES, ids=[_case_id(s, c) for s, c in CASES])
async def test_undo_and_decisions_do_as_recorded(
    client: httpx.AsyncClient, auth: TokenFactory, school_id: str, case: Json
) -> None:
    """On a fresh copy of the stored school: undoing a run, or deciding on held changes, answers and
    changes exactly what it did with the code that wrote the journal."""
    recorded = SCHOOLS[school_id]
    school = School(client, auth, school_id)
    if case["op"] == "undo":
        response = await school.request("POST", f"/runs/{case['run_id']}/undo")
    elif case["op"] == "approve-all":
        response = await school.request("POST", "/held-changes/approve-all")
    else:
        response = await school.request("POST", f"/held-changes/{case['change_id']}/{case['op']}")
    known = set(UUID.findall(json.dumps(recorded["rows"])))
    expected = {k: v for k, v in case["response"].items() if k != "detail"}
    assert _response(response, known) == expected, response.text
    if response.status_code >= 400:
        return  # refused: the request's transaction was rolled back (the recorded outcome is empty)
    after = await school.snapshot()
    journal = _as_recorded(await school.every_page("/changes"))
    outcome = _outcome(recorded["snapshot"], _stored_changes(recorded), after, journal, known)
    assert outcome.keys() == case["outcome"].keys()
    if case["op"] == "undo":
        written = outcome["journal"]["new"]
        assert response.json()["counts"].get("held_at_next_sync", 0) == _held_at_next_sync(written)
    if case["op"] in ("approve", "reject") and len(group := _decided_with(recorded, case["change_id"])) > 1:
        _assert_decided_per_pupil(case, outcome, group)
        return
    for part, expected_part in _relinked_not_archived(case["outcome"]).items():
        assert outcome[part] == expected_part, part

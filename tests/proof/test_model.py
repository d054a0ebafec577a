"""The whole service as a state machine (hypothesis, stateful), over real PostgreSQL, Redis, arq workers
and the Wonde sandbox.

Each example onboards a small primary school through the API as an admin would (some classes matched
to existing bands, some imported, some left alone; an app-only club), then runs a random sequence of
MIS events (joiners, leavers, returns, renames, moves, year changes, classes starting and ending,
rollover, MIS migration) interleaved with syncs, decisions on held changes, undo, erasure of a child on
request, and disconnecting and reconnecting. After every step it checks the promises the product makes:

- no child ever has two accounts, and no account ever belongs to two children;
- no account is linked to two MIS students, nor a student to two accounts;
- after a sync, synced bands hold exactly the accounts of their MIS class (the "copycat" projection,
  computed here from the sandbox, not from our mirror), with the MIS names, unless a change is held
  for that pupil, child or band, or was rejected after an undo and still stands;
- held changes are decided per pupil: a decision leaves none of a pupil's held changes half decided,
  many pupils are decided in one run, and no archived account is ever in a synced band;
- the syncs after an undo apply none of the changes it reverted until an admin decides (they are
  held), and the undo says how many may be;
- app-only bands never change, but for a child erased on request leaving them;
- every change to an account, a band or a membership has a journal entry;
- a child erased on request keeps one account, anonymised and unlinked, is never given another, and
  their names are nowhere: not on an account, not in the mirror, not in the journal's values;
- nothing is hard-deleted, and no run is left queued or running;
- a disconnected school is neither merged, synced nor disconnected again: each is a 409 that changes
  nothing (issue 17);
- a child skipped in the uploader is given no account while skipped, no sync puts their account in a
  band and no merge changes its bands, and while on roll no sync changes the account at all; taken
  back, they are synced as any other child (issue 17).

``make proof`` runs 500 examples; ``make test`` a handful (BANDSYNC_PROOF_EXAMPLES).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.auth import mint_token
from app.config import Settings
from app.main import create_app
from app.models import (
    Band,
    BandMembership,
    ChangeRow,
    MisClass,
    MisGroup,
    MisMembership,
    MisStudent,
    Pupil,
    School,
    SyncRun,
    WebhookEvent,
)
from app.wonde.sandbox.dump import export_dump
from app.wonde.sandbox.server import SandboxServer
from app.wonde.sandbox.webhook import webhook_payload
from app.year_groups import normalise_year
from tests.fixtures.report import record
from tests.fixtures.worker import burst_worker

EXAMPLES = int(os.environ.get("BANDSYNC_PROOF_EXAMPLES", "6"))
STEPS = int(os.environ.get("BANDSYNC_PROOF_STEPS", "12"))
PUPILS = 42
MIS_EVENTS = ["joiner", "leaver", "return", "rename", "move", "change_year", "new_class", "close_class"]


@dataclass(frozen=True)
class Snapshot:
    """The school's rows that the promises are about, keyed by id."""

    pupils: dict[uuid.UUID, tuple[Any, ...]]
    bands: dict[uuid.UUID, tuple[Any, ...]]
    members: frozenset[tuple[uuid.UUID, uuid.UUID]]
    students: dict[uuid.UUID, tuple[str, str | None, bool]]  # wonde id, UPN, deleted
    containers: dict[uuid.UUID, str]  # mirror class or group id -> wonde id
    changes: dict[int, tuple[Any, ...]]
    runs: dict[uuid.UUID, str]


async def snapshot(sessionmaker: async_sessionmaker[AsyncSession], school_id: str) -> Snapshot:
    async with sessionmaker() as s:
        pupils = {
            p.id: (p.first_name, p.last_name, p.year_group, p.username, p.mis_student_id, p.archived_at)
            for p in await s.scalars(select(Pupil).where(Pupil.school_id == school_id))
        }
        bands = {
            b.id: (b.name, b.year_group, b.mis_class_id, b.mis_group_id, b.archived_at)
            for b in await s.scalars(select(Band).where(Band.school_id == school_id))
        }
        members = frozenset(
            (band, pupil)
            for band, pupil in await s.execute(
                select(BandMembership.band_id, BandMembership.pupil_id).where(BandMembership.school_id == school_id)
            )
        )
        students = {
            m.id: (m.wonde_id, m.upn, m.deleted_at is not None)
            for m in await s.scalars(select(MisStudent).where(MisStudent.school_id == school_id))
        }
        containers = {
            c.id: c.wonde_id for c in await s.scalars(select(MisClass).where(MisClass.school_id == school_id))
        } | {g.id: g.wonde_id for g in await s.scalars(select(MisGroup).where(MisGroup.school_id == school_id))}
        changes = {
            c.id: (c.run_id, c.entity_type, c.action, c.status, c.pupil_id, c.band_id)
            for c in await s.scalars(select(ChangeRow).where(ChangeRow.school_id == school_id))
        }
        runs = {r.id: str(r.status) for r in await s.scalars(select(SyncRun).where(SyncRun.school_id == school_id))}
    return Snapshot(pupils, bands, members, students, containers, changes, runs)


@dataclass(frozen=True)
class Skipped:
    """A child skipped in the uploader (issue 17), as the school knew them when skipped."""

    upn: str
    account: uuid.UUID | None  # the account linked to them then, left as it is while they are skipped


@dataclass(frozen=True)
class Erased:
    """A child erased on request, as the school knew them before."""

    wonde_id: str
    upn: str | None
    names: frozenset[str]


class SchoolModel(RuleBasedStateMachine):
    """One school's life; the sandbox is the MIS, the API is the admin's only way in."""

    # Set by the test function from its fixtures.
    app_settings: Settings
    sandbox: SandboxServer

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.school_id = f"prf-{uuid.uuid4().hex[:8]}"
        self.child_of: dict[uuid.UUID, str] = {}  # pupil -> the UPN of the child it was ever linked to
        self.app_only: dict[uuid.UUID, tuple[Any, ...]] = {}  # band -> its row and members, never to change
        self.before: Snapshot | None = None
        self.last_sync: str | None = None
        self.undo_baseline: Snapshot | None = None  # the app before the last sync, while only it changed
        self.connected = False
        self.followed: dict[str, uuid.UUID] = {}
        self.erased: dict[uuid.UUID, Erased] = {}  # account -> the child erased from it
        self.skipped: dict[str, Skipped] = {}  # UPN -> a child skipped in the uploader (issue 17)
        self.steps = 0
        # Issue 17: what the last undo reverted, as effects (see ``effects_of``), that no sync may apply
        # until an admin decides on held changes.
        self.undone_effects: set[Effect] = set()

    # -- plumbing ------------------------------------------------------------------------------------
    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def _open(self) -> None:
        engine = create_async_engine(self.app_settings.database_url, poolclass=NullPool)
        self.stack.push_async_callback(engine.dispose)
        self.db = async_sessionmaker(engine, expire_on_commit=False)
        app = create_app(self.app_settings)
        await self.stack.enter_async_context(app.router.lifespan_context(app))
        self.api = await self.stack.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        )
        self.wonde_admin = await self.stack.enter_async_context(httpx.AsyncClient(base_url=self.sandbox.admin_url))
        self.worker = burst_worker(self.app_settings)
        self.stack.push_async_callback(self.worker.close)
        token = mint_token(self.app_settings, school_ids=[self.school_id], role="admin", subject="proof-admin")
        self.headers = {"Authorization": f"Bearer {token}"}
        platform = mint_token(self.app_settings, school_ids=[], role="platform", subject="proof-platform")
        self.platform_headers = {"Authorization": f"Bearer {platform}"}

    async def drain(self) -> None:
        """Let the worker carry out everything queued (a real arq worker, in burst mode)."""
        await self.worker.main()

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        every = self.headers | (headers or {})
        return await self.api.request(method, f"/v1/schools/{self.school_id}{path}", headers=every, **kw)

    async def webhook(self, payload_type: Any) -> None:
        payload = webhook_payload(self.sandbox.state, self.wonde_school, payload_type)
        secret = self.app_settings.wonde.webhook_secret.get_secret_value()
        response = await self.api.post(f"/v1/webhooks/wonde?secret={secret}", json=payload)
        assert response.status_code in (200, 202), response.text
        await self.drain()
        await self.drain()  # the read an approval queues

    def dump(self) -> dict[str, Any]:
        return export_dump(self.sandbox.state, self.wonde_school)

    # -- onboarding ----------------------------------------------------------------------------------
    @initialize(
        seed=st.integers(0, 9_999),
        imported=st.lists(st.booleans(), min_size=12, max_size=12),
        rosters_undated=st.booleans(),
    )
    def onboard(self, seed: int, imported: list[bool], rosters_undated: bool = False) -> None:
        """``rosters_undated``: Wonde's ``classes`` and ``groups`` deltas leave out those whose only change
        is who is in them, for the whole history (the sandbox's fault of that name)."""
        self.run(self._open())
        self.run(self._onboard(seed, imported))
        if rosters_undated:
            for endpoint in ("classes", "groups"):
                rule = {"kind": "rosters_undated", "endpoint": endpoint, "school_id": self.wonde_school, "times": -1}
                assert self.run(self.wonde_admin.post("/faults", json=rule)).status_code == 200
            record("model: examples whose class and group deltas leave out roster changes")
        self.before = self.run(snapshot(self.db, self.school_id))
        for band_id, row in self.before.bands.items():
            if row[2] is None and row[3] is None:
                members = frozenset(m for m in self.before.members if m[0] == band_id)
                self.app_only[band_id] = (row, members)

    async def _onboard(self, seed: int, imported: list[bool]) -> None:
        generated = (
            await self.wonde_admin.post("/schools/generate", json={"phase": "primary", "pupils": PUPILS, "seed": seed})
        ).json()
        self.wonde_school = generated["school_id"]
        created = await self.api.post(
            "/v1/schools",
            json={
                "id": self.school_id,
                "name": "Proof Primary",
                "urn": generated["urn"],
                "wonde_school_id": self.wonde_school,
            },
            headers=self.platform_headers,
        )
        assert created.status_code == 201, created.text
        # The app already has one form's accounts in a band, and a club with two of them and a visitor.
        forms: dict[str, list[dict[str, Any]]] = {}
        for student in self.dump()["students"]:
            for group in student["groups"]["data"]:
                if group["type"] == "REGISTRATION":
                    forms.setdefault(group["name"], []).append(student)
        self.matched_form = sorted(forms)[len(forms) // 2]
        existing = forms[self.matched_form]
        rows = ["pupil_id,first_name,last_name,band,year_group"]
        rows += [f"app-{s['id']},{s['forename']},{s['surname']},Class {self.matched_form}," for s in existing]
        rows += [f"app-{s['id']},{s['forename']},{s['surname']},Chess Club," for s in existing[:2]]
        rows += ["visitor-1,Visiting,Pupil,Chess Club,"]
        roster = await self.call(
            "POST", "/roster", content="\n".join(rows) + "\n", headers={"content-type": "text/csv"}
        )
        assert roster.status_code == 200, roster.text
        await self.webhook("schoolApproved")
        await self._choose_and_merge(imported)
        self.connected = await self._state() == "syncing"

    async def _choose_and_merge(self, imported: list[bool]) -> None:
        """The admin's uploader session: match the form that has a band, import or leave the other
        classes, settle every issue as the school knows it, and merge."""
        view = (await self.call("GET", "/uploader")).json()
        bands = {b["name"]: b["id"] for b in (await self.call("GET", "/bands")).json()["items"]}
        classes = sorted((row for row in view if row["kind"] == "class"), key=lambda row: row["name"])
        chosen = False
        for index, row in enumerate(classes):
            if row["name"] in self.followed:  # the band that followed this class before a disconnect
                body: dict[str, Any] = {"action": "match", "band_id": str(self.followed[row["name"]])}
            elif row["name"] == self.matched_form and f"Class {row['name']}" in bands:
                body = {"action": "match", "band_id": bands[f"Class {row['name']}"]}
            elif row["linked_band_id"]:
                body = {"action": "match", "band_id": row["linked_band_id"]}
            else:
                body = {"action": "import" if imported[index % len(imported)] else "no_action"}
            decided = await self.call("PUT", f"/uploader/classes/{row['wonde_class_id']}", json=body)
            assert decided.status_code == 200, decided.text
            chosen = chosen or body["action"] != "no_action"
        # Settling one student can change what the matcher is sure of for others: look again until
        # nothing waits (an admin would see the list shrink to empty).
        for _ in range(5):
            await self._settle_issues()
            if (await self.call("GET", "/uploader/preview")).json()["unresolved"] == 0:
                break
        merge_before = await snapshot(self.db, self.school_id)
        merge = await self.call("POST", "/uploader/merge")
        if not chosen:  # every class left alone (after a rollover renamed them all, say): nothing to merge
            assert (merge.status_code, merge.json()["error"]) == (422, "NothingToMerge"), merge.text
            return
        assert merge.status_code == 202, merge.text
        await self.drain()
        run = (await self.call("GET", f"/runs/{merge.json()['id']}")).json()
        assert run["status"] == "succeeded", run["error"]
        self.assert_skips_kept(merge_before, await snapshot(self.db, self.school_id), by="merge")

    async def _settle_issues(self) -> None:
        """A perfect admin: links a student to the account the child already has, else creates one."""
        issues = (await self.call("GET", "/uploader/issues")).json()
        accounts = await self._accounts_by_child()
        students = {s.wonde_id: s.upn for s in await self._students()}
        for student in issues["students"]:
            if student["resolution"] is not None:
                continue
            pupil = accounts.get(students.get(student["wonde_student_id"]) or "")
            if pupil is None and student["merge_will"] != "wait for your decision":
                continue  # a new child: merge creates the account
            body = {"resolution": "link", "pupil_id": str(pupil)} if pupil else {"resolution": "create"}
            settled = await self.call("PUT", f"/uploader/pupils/{student['wonde_student_id']}", json=body)
            assert settled.status_code == 200, (body, settled.text)

    async def _students(self) -> list[MisStudent]:
        async with self.db() as s:
            return list(await s.scalars(select(MisStudent).where(MisStudent.school_id == self.school_id)))

    async def _accounts_by_child(self) -> dict[str, uuid.UUID]:
        """UPN -> the account the school knows belongs to that child (from the history of links and the
        accounts the app had before it was connected)."""
        known = {upn: pupil for pupil, upn in self.child_of.items()}
        async with self.db() as s:
            for pupil in await s.scalars(select(Pupil).where(Pupil.school_id == self.school_id)):
                if pupil.external_id and pupil.external_id.startswith("app-") and pupil.id not in self.child_of:
                    wonde_id = pupil.external_id.removeprefix("app-")
                    upn = await s.scalar(
                        select(MisStudent.upn).where(
                            MisStudent.school_id == self.school_id, MisStudent.wonde_id == wonde_id
                        )
                    )
                    if upn:
                        known.setdefault(upn, pupil.id)
        return known

    # -- the MIS ---------------------------------------------------------------------------------------
    @rule(kind=st.sampled_from(MIS_EVENTS), year=st.integers(0, 6))
    def mis_event(self, kind: str, year: int) -> None:
        """Something happens in the school office; ids are picked by the sandbox's seeded generator."""
        body: dict[str, Any] = {"kind": kind} | ({"year": year} if kind == "change_year" else {})
        response = self.run(self.wonde_admin.post(f"/schools/{self.wonde_school}/events", json=body))
        assert response.status_code in (200, 400, 409, 422), response.text  # nothing to pick is fine
        self.steps += 1

    @rule()
    def rollover(self) -> None:
        """A new academic year: every class recreated with a new id, the top year gone, an intake."""
        response = self.run(self.wonde_admin.post(f"/schools/{self.wonde_school}/events", json={"kind": "rollover"}))
        assert response.status_code == 200, response.text
        self.steps += 1

    @rule()
    def migration(self) -> None:
        """The school changes MIS: every id changes; Wonde says so with a webhook, and a syncing school
        re-links its pupils at once (a sync like any other: it must leave a copycat, and undo it)."""
        response = self.run(self.wonde_admin.post(f"/schools/{self.wonde_school}/events", json={"kind": "migration"}))
        assert response.status_code == 200, response.text
        self.steps += 1
        if not self.connected:
            return
        before = self.run(snapshot(self.db, self.school_id))
        self.run(self.webhook("schoolMigration"))
        started = self.run(self._syncs()) - before.runs.keys()
        # None when the event was taken for a redelivery of an earlier one (the same payload, to the
        # second): then nothing may have changed, which the promises check.
        if started:
            (run_id,) = started
            run = self.run(self.call("GET", f"/runs/{run_id}")).json()
            assert run["status"] == "succeeded", run["error"]
            self.last_sync, self.undo_baseline = run["id"], before
            self.run(self.assert_copycat())
            self.assert_skips_kept(before, self.run(snapshot(self.db, self.school_id)), by="sync")
            record("model: syncs checked against the copycat projection")
            self.run(self.assert_undone_not_redone(uuid.UUID(run["id"])))

    async def _syncs(self) -> set[uuid.UUID]:
        async with self.db() as s:
            return set(
                await s.scalars(
                    select(SyncRun.id).where(SyncRun.school_id == self.school_id, SyncRun.kind == "reconcile")
                )
            )

    # -- the app ---------------------------------------------------------------------------------------
    @precondition(lambda self: self.connected)
    @rule(kinds=st.lists(st.sampled_from(MIS_EVENTS), min_size=1, max_size=4), year=st.integers(0, 6))
    def a_day_then_the_nightly_sync(self, kinds: list[str], year: int) -> None:
        """A few things happen in the office during the day; the sync follows."""
        for kind in kinds:
            self.mis_event(kind, year)
        self.sync()

    @precondition(lambda self: self.connected)
    @rule()
    def sync(self) -> None:
        """ "Sync now", carried out by a worker; then the app must be the copycat of the MIS."""
        self.steps += 1
        before = self.run(snapshot(self.db, self.school_id))
        started = self.run(self.call("POST", "/sync"))
        assert started.status_code == 202, started.text
        self.run(self.drain())
        run = self.run(self.call("GET", f"/runs/{started.json()['id']}")).json()
        assert run["status"] == "succeeded", run["error"]
        self.last_sync, self.undo_baseline = run["id"], before
        self.run(self.assert_copycat())
        self.assert_skips_kept(before, self.run(snapshot(self.db, self.school_id)), by="sync")
        record("model: syncs checked against the copycat projection")
        self.run(self.assert_undone_not_redone(uuid.UUID(run["id"])))

    @precondition(lambda self: self.connected)
    @rule(approve=st.booleans())
    def decide_held(self, approve: bool) -> None:
        """The admin approves or rejects every held change (one run)."""
        self.steps += 1
        groups = self.run(self._held_groups())
        decided = self.run(self.call("POST", f"/held-changes/{'approve' if approve else 'reject'}-all"))
        assert decided.status_code in (200, 404, 409), decided.text
        self.run(
            self.assert_decided_whole(groups, set(groups) if approve else set(), set() if approve else set(groups))
        )
        self.undo_baseline = None  # the app changed under another run since the last sync
        self.undone_effects = set()  # the admin decided: an approval may make them again

    @precondition(lambda self: self.last_sync is not None)
    @rule()
    def undo_last_sync(self) -> None:
        """The admin undoes the last sync; refused (409) when a later run changed the same things."""
        self.steps += 1
        before = self.run(snapshot(self.db, self.school_id))
        undone = self.run(self.call("POST", f"/runs/{self.last_sync}/undo"))
        assert undone.status_code in (200, 409), undone.text
        if undone.status_code == 200:
            self.run(self.remember_what_was_undone(uuid.UUID(self.last_sync), undone.json()))
            after = self.run(snapshot(self.db, self.school_id))
            self.assert_only_its_own(uuid.UUID(self.last_sync), before, after)
            record("model: undos checked to change only what their run changed")
            if self.undo_baseline is not None:
                self.assert_as_before(self.undo_baseline, after)
                record("model: undos checked against the app before the sync")
        self.last_sync = self.undo_baseline = None

    @staticmethod
    def assert_only_its_own(run_id: uuid.UUID, before: Snapshot, after: Snapshot) -> None:
        """Whatever else has happened since the run, its undo changes only what the run changed."""
        own = [c for c in after.changes.values() if c[0] == run_id]
        pupils, bands = {c[4] for c in own}, {c[5] for c in own}
        members = {(c[5], c[4]) for c in own if c[1] == "band_membership"}
        for pupil, row in after.pupils.items():
            assert row == before.pupils[pupil] or pupil in pupils, ("undo changed another account", row)
        for band, row in after.bands.items():
            assert row == before.bands[band] or band in bands, ("undo changed another band", row)
        assert not (after.members ^ before.members) - members, "undo changed another membership"

    @staticmethod
    def assert_as_before(baseline: Snapshot, after: Snapshot) -> None:
        """Undo puts back what the run changed: every row as it was, memberships exactly; accounts and
        bands the run created are archived and unlinked, never deleted."""

        def comparable(row: tuple[Any, ...]) -> tuple[Any, ...]:
            return (*row[:-1], row[-1] is not None)  # a re-archived row gets a new timestamp

        for pupil, row in after.pupils.items():
            if pupil in baseline.pupils:
                assert comparable(row) == comparable(baseline.pupils[pupil]), "undo left an account changed"
            else:
                assert row[4] is None and row[5] is not None, "undo left a created account live"
        for band, row in after.bands.items():
            if band in baseline.bands:
                assert comparable(row) == comparable(baseline.bands[band]), "undo left a band changed"
            else:
                assert row[2] is None and row[3] is None and row[4] is not None, "undo left a created band live"
        assert after.members == baseline.members, "undo left memberships changed"

    @precondition(lambda self: self.connected)
    @rule(pick=st.integers(0, 10_000))
    def erase_a_child(self, pick: int) -> None:
        """The admin erases one child on request (refused while a sync runs: none does here)."""
        self.steps += 1
        linked = self.run(self._linked_children())
        if not linked:
            return
        pupil, erased = linked[pick % len(linked)]
        response = self.run(self.call("POST", f"/pupils/{pupil}/erase"))
        assert response.status_code == 200, response.text
        self.erased[pupil] = erased
        self.skipped.pop(erased.upn or "", None)  # erased: no record left for the skip to cover
        # Erasure ends every membership of the account, in app-only bands too (journalled).
        self.app_only = {
            band: (row, frozenset(m for m in members if m[1] != pupil))
            for band, (row, members) in self.app_only.items()
        }
        self.undo_baseline = None  # the app changed under another run since the last sync
        record("model: children erased on request")

    async def _linked_children(self) -> list[tuple[uuid.UUID, Erased]]:
        """Live accounts linked to a current MIS student, with what the school knows of the child."""
        async with self.db() as s:
            rows = await s.execute(
                select(Pupil.id, Pupil.first_name, Pupil.last_name, MisStudent)
                .join(MisStudent, MisStudent.id == Pupil.mis_student_id)
                .where(Pupil.school_id == self.school_id, Pupil.archived_at.is_(None), MisStudent.deleted_at.is_(None))
                .order_by(Pupil.id)
            )
            return [
                (
                    pupil,
                    Erased(
                        student.wonde_id,
                        student.upn,
                        frozenset(
                            n for n in (first, last, student.forename, student.surname, student.legal_forename) if n
                        ),
                    ),
                )
                for pupil, first, last, student in rows.all()
            ]

    async def assert_erased_are_gone(self) -> None:
        """Each child erased on request: one account, anonymised and unlinked; no name of theirs on an
        account, in the mirror or in the journal's values; never a second account (the UPN check in
        ``promises`` sees any account linked to their record again)."""
        if not self.erased:
            return
        async with self.db() as s:
            pupils = {p.id: p for p in await s.scalars(select(Pupil).where(Pupil.school_id == self.school_id))}
            students = list(await s.scalars(select(MisStudent).where(MisStudent.school_id == self.school_id)))
            journal = list(
                await s.execute(
                    select(ChangeRow.pupil_id, ChangeRow.before, ChangeRow.after).where(
                        ChangeRow.school_id == self.school_id
                    )
                )
            )
        for pupil, erased in self.erased.items():
            account = pupils[pupil]
            assert (account.first_name, account.last_name) == ("Former", "pupil"), "an erased account kept its names"
            assert account.mis_student_id is None and account.anonymised_at is not None
            for student in students:
                if student.wonde_id == erased.wonde_id or (erased.upn and student.upn == erased.upn):
                    assert student.deleted_at is not None, "an erased child is back in the mirror"
                    assert not {student.forename, student.surname} & erased.names, (
                        "an erased name in the mirror",
                        (student.wonde_id, student.upn, student.deleted_at, erased),
                        [(x.wonde_id, x.upn, x.deleted_at) for x in students if x.upn == erased.upn],
                    )
            for about, before, after in journal:
                if about == pupil:
                    values = json.dumps([before, after])
                    assert not [n for n in erased.names if json.dumps(n) in values], "an erased name in the journal"
        record("model: erased children checked to be gone")

    @precondition(lambda self: self.connected)
    @rule()
    def disconnect(self) -> None:
        """Stop syncing: every link goes, every account stays."""
        self.steps += 1
        self.followed = self.run(self._followed())
        response = self.run(self.call("POST", "/disconnect"))
        assert response.status_code == 200, response.text
        self.run(self.drain())
        self.connected, self.last_sync, self.undo_baseline = False, None, None

    @precondition(lambda self: not self.connected)
    @rule(imported=st.lists(st.booleans(), min_size=12, max_size=12))
    def reconnect(self, imported: list[bool]) -> None:
        """The school approves bandsync again and goes through the uploader; the perfect admin links
        every child to the account they already have."""
        self.steps += 1
        self.run(self.webhook("schoolApproved"))
        self.run(self._choose_and_merge(imported))
        self.connected = self.run(self._state()) == "syncing"
        self.undone_effects = set()  # the admin's merge links every child again, by the admin's word
        record("model: reconnections checked for second accounts")

    async def _followed(self) -> dict[str, uuid.UUID]:
        """MIS class name -> the band following it, as the school knows its own classes."""
        async with self.db() as s:
            rows = await s.execute(
                select(MisClass.name, Band.id)
                .join(Band, Band.mis_class_id == MisClass.id)
                .where(Band.school_id == self.school_id, Band.archived_at.is_(None))
            )
            return {name: band for name, band in rows.all()}  # noqa: C416 (rows, not pairs)

    async def _state(self) -> str:
        return str((await self.call("GET", "")).json()["state"])

    # -- issue 17, item 1: a school not connected to Wonde is neither merged nor synced ---------------
    @precondition(lambda self: not self.connected)
    @rule()
    def merge_or_sync_while_disconnected(self) -> None:
        """The admin presses Merge, Sync now and Disconnect on a disconnected school: each is refused with
        a 409 naming the state, no run is made, nothing changes, and the school stays disconnected."""
        self.steps += 1
        if self.run(self._state()) != "disconnected":
            return  # connected, but nothing was chosen to merge: not this rule's case
        before = self.run(snapshot(self.db, self.school_id))
        for path in ("/uploader/merge", "/sync", "/disconnect"):
            refused = self.run(self.call("POST", path))
            assert (refused.status_code, refused.json()["error"]) == (409, "SchoolDisconnected"), (path, refused.text)
        self.run(self.drain())  # were anything queued, it would run now
        assert self.run(snapshot(self.db, self.school_id)) == before, "a refused request changed the school"
        assert self.run(self._state()) == "disconnected"
        record("model: merge, sync and disconnect refused while disconnected")

    # -- issue 17, item 2: a skip lasts until the admin takes it back ----------------------------------
    @rule(pick=st.integers(0, 10_000), without_account=st.booleans())
    def skip_a_student(self, pick: int, without_account: bool) -> None:
        """The admin skips a child in the uploader (connected or not): one without an account where there
        is one (a joiner the next sync would make one for) if ``without_account``, else anyone. The sync
        preview lists them at once."""
        self.steps += 1
        erased = {e.upn for e in self.erased.values()}
        now = self.run(snapshot(self.db, self.school_id))
        linked = {row[4] for row in now.pupils.values() if row[4] is not None}
        students = [
            s
            for s in self.run(self._students())
            if s.deleted_at is None and s.upn and s.upn not in erased and s.upn not in self.skipped
        ]
        synced = self.run(self._in_synced_classes())
        if without_account and [s for s in students if s.id not in linked and s.id in synced]:
            students = [s for s in students if s.id not in linked and s.id in synced]
        if not students:
            return
        student = sorted(students, key=lambda s: s.wonde_id)[pick % len(students)]
        assert student.upn is not None
        skipped = self.run(self.call("PUT", f"/uploader/pupils/{student.wonde_id}", json={"resolution": "skip"}))
        assert skipped.status_code == 200, skipped.text
        # Linked to this record, or to the child's record before an MIS migration (an undone re-link).
        accounts = [p for p, row in now.pupils.items() if row[4] and now.students[row[4]][1] == student.upn]
        self.skipped[student.upn] = Skipped(student.upn, accounts[0] if accounts else None)
        assert student.wonde_id in self.run(self._previewed_skips()), "the sync preview does not list a skip"
        record("model: children skipped in the uploader")

    @precondition(lambda self: bool(self.skipped))
    @rule(pick=st.integers(0, 10_000))
    def take_back_a_skip(self, pick: int) -> None:
        """The admin takes a skip back (DELETE of the resolution): from the next sync or merge on, the child
        is synced as any other (the copycat checks after each sync say so)."""
        self.steps += 1
        live = {s.upn: s.wonde_id for s in self.run(self._students()) if s.deleted_at is None and s.upn}
        takeable = sorted(upn for upn in self.skipped if upn in live)
        if not takeable:
            return  # every skipped child has left the MIS: nobody to take back
        upn = takeable[pick % len(takeable)]
        taken = self.run(self.call("DELETE", f"/uploader/pupils/{live[upn]}"))
        assert taken.status_code == 204, taken.text
        del self.skipped[upn]
        assert live[upn] not in self.run(self._previewed_skips()), "the sync preview still lists a skip taken back"
        record("model: skips taken back")

    async def _in_synced_classes(self) -> set[uuid.UUID]:
        """The live students of the classes synced bands follow (those a sync makes accounts for)."""
        async with self.db() as s:
            rows = await s.scalars(
                select(MisMembership.mis_student_id)
                .join(Band, Band.mis_class_id == MisMembership.mis_class_id)
                .where(
                    MisMembership.school_id == self.school_id,
                    MisMembership.deleted_at.is_(None),
                    Band.archived_at.is_(None),
                )
            )
            return set(rows)

    async def _previewed_skips(self) -> set[str]:
        preview = await self.call("GET", "/sync/preview")
        assert preview.status_code == 200, preview.text
        return {s["wonde_student_id"] for s in preview.json()["skipped"]}

    def assert_skips_kept(self, before: Snapshot, after: Snapshot, *, by: str) -> None:
        """Across one sync or merge, for every child skipped: no membership of their account is added (a
        merge changes none), and while the child is on roll the account itself is as it was (the UPN
        of the record it follows compared: an MIS migration re-links it to the child's new record)."""
        if not self.skipped:
            return
        on_roll = {((s.get("education_details") or {}).get("data") or {}).get("upn") for s in self.dump()["students"]}

        def comparable(snap: Snapshot, pupil: uuid.UUID) -> tuple[Any, ...]:
            row = snap.pupils[pupil]
            return (*row[:4], snap.students[row[4]][1] if row[4] else None, row[5] is not None)

        for skip in self.skipped.values():
            # The account linked when skipped, and any the school knows is the child's (one a disconnect
            # unlinked, say).
            accounts = {p for p, upn in self.child_of.items() if upn == skip.upn}
            if skip.account is not None:
                accounts.add(skip.account)
            for account in accounts:
                had = {band for band, pupil in before.members if pupil == account}
                has = {band for band, pupil in after.members if pupil == account}
                if by == "merge":
                    assert has == had, "a merge changed the bands of a skipped child's account"
                assert has <= had, f"a {by} put a skipped child's account in a band"
                if skip.upn in on_roll:
                    assert comparable(after, account) == comparable(before, account), (
                        f"a {by} changed a skipped child's account"
                    )
        record("model: skipped children checked across a sync or merge")

    @invariant()
    def skipped_children_get_no_account(self) -> None:
        """While skipped, a child is linked to no account but the one they had when skipped (if any)."""
        if not self.skipped or self.before is None:
            return
        now = self.run(snapshot(self.db, self.school_id))
        for upn, skip in self.skipped.items():
            accounts = {p for p, row in now.pupils.items() if row[4] is not None and now.students[row[4]][1] == upn}
            assert accounts <= {skip.account}, ("a skipped child was given an account", upn, accounts, skip)

    # -- the promises ----------------------------------------------------------------------------------
    @invariant()
    def promises(self) -> None:
        if self.before is None:
            return
        now = self.run(snapshot(self.db, self.school_id))
        before, self.before = self.before, now
        # Nothing is hard-deleted; no run is left behind.
        assert before.pupils.keys() <= now.pupils.keys()
        assert before.bands.keys() <= now.bands.keys()
        assert before.students.keys() <= now.students.keys()
        assert before.changes.keys() <= now.changes.keys()
        assert before.runs.keys() <= now.runs.keys()
        assert not [status for status in now.runs.values() if status in ("queued", "running")]
        # One account per child, one child per account, one student per account and vice versa.
        linked = Counter(row[4] for row in now.pupils.values() if row[4] is not None)
        assert max(linked.values(), default=0) <= 1
        for pupil, row in now.pupils.items():
            if row[4] is not None and (upn := now.students[row[4]][1]):
                assert self.child_of.setdefault(pupil, upn) == upn, "an account changed child"
        accounts = Counter(self.child_of.values())
        twice = [upn for upn, count in accounts.items() if count > 1]
        if twice:
            raise AssertionError(f"a child has two accounts: {self._story(now, twice[0])}")
        # App-only bands never change.
        for band_id, (row, members) in self.app_only.items():
            assert now.bands[band_id] == row
            assert frozenset(m for m in now.members if m[0] == band_id) == members
        # Every change to an account, a band or a membership is in the journal.
        new = [c for i, c in now.changes.items() if i not in before.changes]
        journalled_pupils = {c[4] for c in new}
        journalled_bands = {c[5] for c in new}
        journalled_members = {(c[5], c[4]) for c in new if c[1] == "band_membership"}
        for pupil, row in now.pupils.items():
            if before.pupils.get(pupil) != row:
                assert pupil in journalled_pupils, ("unjournalled account change", before.pupils.get(pupil), row)
        for band, row in now.bands.items():
            if before.bands.get(band) != row:
                assert band in journalled_bands, ("unjournalled band change", before.bands.get(band), row)
        for member in now.members ^ before.members:
            assert member in journalled_members, "unjournalled membership change"
        self.run(self.assert_erased_are_gone())
        self.run(self.assert_no_archived_account_in_a_synced_band(now))

    def _story(self, now: Snapshot, upn: str) -> list[Any]:
        """What the journal says happened to a child's accounts, for a failure message."""
        pupils = [p for p, u in self.child_of.items() if u == upn]
        return [(p, now.pupils[p], [c[1:] for c in now.changes.values() if c[4] == p]) for p in pupils]

    async def assert_copycat(self) -> None:
        """Synced bands equal the MIS classes they follow, accounts carry the MIS names and leavers are
        archived — except where a change waits for the admin."""
        now = await snapshot(self.db, self.school_id)
        # Exactly what may differ (issue 17): the pupils, new children and bands a held change waits for,
        # or a change rejected after an undo still stands for.
        held_pupils, held_students, held_bands = await self._waiting_or_refused()
        dump = self.dump()
        members: dict[str, set[str]] = {}
        names: dict[str, tuple[str, str, int | None]] = {}
        erased = {e.upn for e in self.erased.values() if e.upn} | {e.wonde_id for e in self.erased.values()}
        on_roll_skipped: set[str] = set()
        for student in dump["students"]:
            upn = ((student.get("education_details") or {}).get("data") or {}).get("upn")
            if student["id"] in erased or upn in erased:
                continue  # erased on request: no account, in no band
            if upn in self.skipped:
                on_roll_skipped.add(upn)
                continue  # skipped in the uploader: not synced, an account they have left as it is
            year = (student.get("year") or {}).get("data") or {}
            names[student["id"]] = (student["forename"], student["surname"], normalise_year(str(year.get("code"))))
            for item in student["classes"]["data"] + student["groups"]["data"]:
                members.setdefault(item["id"], set()).add(student["id"])
        account = {now.students[row[4]][0]: pupil for pupil, row in now.pupils.items() if row[4] is not None}
        # A skipped child's account is left as it is, linked or not (unlinked by a disconnect, say).
        left_alone = {p for p, row in now.pupils.items() if row[4] and now.students[row[4]][1] in on_roll_skipped}
        left_alone |= {p for p, upn in self.child_of.items() if upn in on_roll_skipped}
        for wonde_id, pupil in account.items():
            if pupil in held_pupils or pupil in left_alone:
                continue
            row = now.pupils[pupil]
            if wonde_id in names:
                assert (row[0], row[1], row[5]) == (*names[wonde_id][:2], None), "names or archive differ"
            else:
                assert row[5] is not None, "a leaver's account is still live"
        for band, row in now.bands.items():
            container = row[2] or row[3]
            if container is None or band in held_bands or row[4] is not None:
                continue
            expected = {account.get(s) for s in members.get(now.containers[container], set()) if s not in held_students}
            assert None not in expected, "a student of a synced class has no account"
            actual = {p for b, p in now.members if b == band and p not in held_pupils | left_alone}
            assert actual == expected - held_pupils, ("band differs from its class", row[0])

    # -- issue 17, items 3 and 4: held changes decided per pupil; what an undo reverted is held ----------
    @precondition(lambda self: self.connected)
    @rule(choices=st.lists(st.booleans(), min_size=1, max_size=6))
    def decide_held_per_pupil(self, choices: list[bool]) -> None:
        """The admin looks at the held changes pupil by pupil, approves some pupils and rejects the others,
        in one request: one run, and each pupil's changes all approved or all rejected."""
        self.steps += 1
        groups = self.run(self._held_groups())
        if not groups:
            return
        ids = sorted(groups)
        approve = {g for i, g in enumerate(ids) if choices[i % len(choices)]}
        reject = set(ids) - approve
        runs_before = self.run(snapshot(self.db, self.school_id)).runs.keys()
        body = {"approve": sorted(approve), "reject": sorted(reject)}
        decided = self.run(self.call("POST", "/held-changes/decide", json=body))
        assert decided.status_code == 200, decided.text
        new_runs = self.run(snapshot(self.db, self.school_id)).runs.keys() - runs_before
        assert new_runs == {uuid.UUID(decided.json()["run"]["id"])}, "deciding many pupils is one run"
        self.run(self.assert_decided_whole(groups, approve, reject))
        self.undo_baseline = None  # the app changed under another run since the last sync
        self.undone_effects = set()  # the admin decided: an approval may make them again
        record("model: per-pupil decisions checked to be whole and one run")

    async def _held_groups(self) -> dict[str, set[int]]:
        """The held changes waiting, by the group they are decided in (pupil, new child or band)."""
        listed = await self.call("GET", "/held-changes/grouped")
        assert listed.status_code == 200, listed.text
        flat = {row["id"] for row in (await self.call("GET", "/held-changes")).json()}
        groups = {group["id"]: {change["id"] for change in group["changes"]} for group in listed.json()}
        assert set().union(*groups.values()) == flat, "a held change in no group, or in two"
        for group in listed.json():
            assert {subject_of_change(c["change"]) for c in group["changes"]} == {group["id"]}
        return groups

    async def assert_decided_whole(self, groups: dict[str, set[int]], approve: set[str], reject: set[str]) -> None:
        """No pupil is left half decided: every change of a group decided is decided alike."""
        async with self.db() as s:
            status = dict(
                (
                    await s.execute(select(ChangeRow.id, ChangeRow.status).where(ChangeRow.school_id == self.school_id))
                ).all()
            )
        for group, rows in groups.items():
            if group in approve | reject:
                wanted = "applied" if group in approve else "rejected"
                assert {status[row] for row in rows} == {wanted}, ("a pupil's held changes split", group)

    async def remember_what_was_undone(self, run_id: uuid.UUID, undo: dict[str, Any]) -> None:
        """What the undo reverted, which no sync may make again without the admin; and the undo's answer
        says how many of them a sync could make again (and so will hold)."""
        async with self.db() as s:
            rows = list(
                await s.scalars(
                    select(ChangeRow).where(
                        ChangeRow.school_id == self.school_id, ChangeRow.run_id == run_id, ChangeRow.status == "undone"
                    )
                )
            )
        effects = [effects_of(row.action, row.entity_id, row.before, row.after) for row in rows]
        replanned = sum(1 for found in effects if found)
        assert undo["counts"].get("held_at_next_sync", 0) == replanned, (undo["counts"], replanned)
        assert (undo["notice"] is not None) == (replanned > 0), undo["notice"]
        self.undone_effects = set().union(*effects)
        record("model: undos checked to say what the next sync will hold")

    async def assert_undone_not_redone(self, run_id: uuid.UUID) -> None:
        """A sync after an undo makes none of the changes it reverted until an admin decides."""
        if not self.undone_effects:
            return
        async with self.db() as s:
            applied = list(
                await s.scalars(
                    select(ChangeRow).where(
                        ChangeRow.school_id == self.school_id, ChangeRow.run_id == run_id, ChangeRow.status == "applied"
                    )
                )
            )
        redone = [
            row.action
            for row in applied
            if effects_of(row.action, row.entity_id, row.before, row.after, made=True) & self.undone_effects
        ]
        assert not redone, ("a sync made again what an undo reverted", redone)
        record("model: syncs after an undo checked to redo nothing undone")

    async def assert_no_archived_account_in_a_synced_band(self, now: Snapshot) -> None:
        """A leaver's archive and their removal from bands are decided together: no archived account is
        ever left in a band that follows a live MIS class. (A band whose class vanished waits for the
        admin with its members as they were, leavers included, until it follows the next class.)"""
        async with self.db() as s:
            live = set(
                await s.scalars(
                    select(MisClass.id).where(MisClass.school_id == self.school_id, MisClass.deleted_at.is_(None))
                )
            ) | set(
                await s.scalars(
                    select(MisGroup.id).where(MisGroup.school_id == self.school_id, MisGroup.deleted_at.is_(None))
                )
            )
        synced = {band for band, row in now.bands.items() if (row[2] or row[3]) in live and row[4] is None}
        archived = {pupil for pupil, row in now.pupils.items() if row[5] is not None}
        stuck = [(band, pupil) for band, pupil in now.members if band in synced and pupil in archived]
        assert not stuck, ("an archived account in a synced band", stuck)

    async def _waiting_or_refused(self) -> tuple[set[uuid.UUID | None], set[str], set[uuid.UUID | None]]:
        """(pupils, new children by Wonde id, bands) a held change waits for, or a change rejected after
        an undo still stands for (the sync leaves it out until the MIS says something else)."""
        async with self.db() as s:
            rows = list(
                await s.scalars(
                    select(ChangeRow).where(
                        ChangeRow.school_id == self.school_id,
                        ChangeRow.action == "held",
                        ChangeRow.status.in_(("held", "rejected")),
                    )
                )
            )
        pupils: set[uuid.UUID | None] = set()
        students: set[str] = set()
        bands: set[uuid.UUID | None] = set()
        for row in rows:
            after = row.after or {}
            if row.status == "rejected" and not (after.get("after_undo") and row.lapsed_at is None):
                continue
            change = after["change"]
            kind, _, ref = subject_of_change(change).partition(":")
            if kind == "pupil":
                pupils.add(uuid.UUID(ref))
            elif kind == "student":
                students.add(ref)
            else:
                bands.add(uuid.UUID(ref))
            if change["type"] == "LinkPupil":
                students.add(change["student"])  # the child whose link waits has no account meanwhile
        return pupils, students, bands

    def teardown(self) -> None:
        async def close() -> None:
            await self.stack.aclose()
            engine = create_async_engine(self.app_settings.database_url, poolclass=NullPool)
            async with async_sessionmaker(engine)() as s:
                await s.execute(delete(WebhookEvent).where(WebhookEvent.school_id == self.school_id))
                await s.execute(delete(School).where(School.id == self.school_id))
                await s.commit()
            await engine.dispose()

        try:
            self.run(close())
        finally:
            self.loop.close()
        record("model: examples (random MIS histories)")
        record("model: steps checked", cases=self.steps)


# -- issue 17: the model's own reading of held changes and of what an undo reverted ----------------------

Effect = tuple[Any, ...]


def subject_of_change(change: dict[str, Any]) -> str:
    """Whom a held change is about, as it is decided: its pupil, the child whose account it would make,
    or its band (for a band's own changes)."""
    if change["type"] == "CreatePupil":
        return f"student:{change['student']}"
    if pupil := change.get("pupil"):
        return f"student:{pupil.removeprefix('new:')}" if pupil.startswith("new:") else f"pupil:{pupil}"
    return f"band:{change['band']}"


# Actions whose effect is their entity alone: the membership added or removed, the account archived or restored.
_ENTITY_EFFECTS = {
    "add_to_band": "in band",
    "remove_from_band": "out of band",
    "archive_pupil": "archived",
    "restore_pupil": "restored",
}


def effects_of(
    action: str, entity: str, before: dict[str, Any] | None, after: dict[str, Any] | None, *, made: bool = False
) -> set[Effect]:
    """What a journal row did, as the syncs after an undo must not do it again: the account made for a
    child (it would come back linked and restored, or be made anew), a link, a membership, names, a year,
    an archive or a return, a band's name, a band let go of its vanished class. A merge's bands and a
    disconnect's unlinks are nothing a sync does. ``made``: the row of a change a sync just applied (an
    account it made is that child's, whatever its new id)."""
    before, after = before or {}, after or {}
    if action == "create_pupil":
        child = ("account", after.get("student"))
        return {child} if made else {child, ("link", entity, after.get("student")), ("restored", entity)}
    if action == "link_pupil":
        return {("link", entity, after.get("student"))}
    if action in _ENTITY_EFFECTS:
        return {(_ENTITY_EFFECTS[action], entity)}
    if action == "rename_pupil":
        return {("names", entity, after.get("first_name"), after.get("last_name"))}
    if action == "change_year":
        return {("year", entity, after.get("year_group"))}
    if action == "rename_band":
        return {("band name", entity, after.get("name"))}
    if action == "unlink_band" and "container" in before:  # a sync's, not a disconnect's
        return {("unlinked", entity)}
    return set()


@pytest.mark.slow
def test_the_promises_hold_over_random_histories(live_settings: Settings, sandbox: SandboxServer) -> None:
    SchoolModel.app_settings = live_settings
    SchoolModel.sandbox = sandbox
    run_state_machine_as_test(
        SchoolModel,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS + 4,
            deadline=None,
            derandomize=os.environ.get("BANDSYNC_PROOF_EXAMPLES") is None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )


# Histories make proof found that broke a promise, replayed exactly in every make test (hypothesis has no
# explicit examples for state machines). Add each new counterexample here, named after its issue.
COUNTEREXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # Undo after two MIS migrations whose webhooks each re-linked every pupil (issue 11): the re-link
    # journalled "no student before", so undoing it lost the old link, and nothing put the school
    # back to migrating; the model took the webhooks' syncs for no sync at all.
    "undo-after-migrations": [
        (
            "onboard",
            {"seed": 6, "imported": [True, False, True, False, True, False, True, False, False, True, True, True]},
        ),
        ("migration", {}),
        ("sync", {}),
        ("a_day_then_the_nightly_sync", {"kinds": ["joiner", "joiner", "leaver", "joiner"], "year": 6}),
        ("mis_event", {"kind": "change_year", "year": 4}),
        ("migration", {}),
        ("migration", {}),
        ("undo_last_sync", {}),
        # The next sync re-links again, and an admin approving all it held gives no child a second account.
        ("sync", {}),
        ("decide_held", {"approve": True}),
    ],
    # Not found by proof: written for issue 17, so that every make test walks an undo whose changes the
    # next sync holds, a per-pupil decision approving some pupils and rejecting others (the rejected
    # left out by the syncs after), and a second undo decided all at once.
    "issue-17-undo-held-then-decided-per-pupil": [
        ("onboard", {"seed": 6, "imported": [True] * 12}),
        ("a_day_then_the_nightly_sync", {"kinds": ["leaver", "rename", "move", "joiner", "change_year"], "year": 3}),
        ("undo_last_sync", {}),
        ("sync", {}),
        ("decide_held_per_pupil", {"choices": [True, False]}),
        ("sync", {}),
        ("a_day_then_the_nightly_sync", {"kinds": ["rename", "leaver", "rename", "joiner"], "year": 2}),
        ("undo_last_sync", {}),
        ("sync", {}),
        ("decide_held", {"approve": True}),
        ("sync", {}),
    ],
    # The admin's story of issue 17: a child with an account skipped, a day of MIS changes and a sync, a
    # disconnect (merge, sync and disconnect then refused), a child skipped while their account is
    # unlinked, the reconnection's merge and a sync (neither gives it back), an MIS migration (the skips
    # follow the children's new records), and a skip taken back.
    "issue-17-skip-and-disconnect": [
        ("onboard", {"seed": 17, "imported": [True] * 12}),
        ("skip_a_student", {"pick": 11, "without_account": False}),
        ("a_day_then_the_nightly_sync", {"kinds": ["rename", "move", "change_year"], "year": 3}),
        ("disconnect", {}),
        ("merge_or_sync_while_disconnected", {}),
        ("skip_a_student", {"pick": 2, "without_account": True}),
        ("reconnect", {"imported": [True] * 12}),
        ("sync", {}),
        ("migration", {}),
        ("sync", {}),
        ("take_back_a_skip", {"pick": 0}),
        ("sync", {}),
    ],
    # Found by make proof (issue 17): the syncs after an undo held the joiners' new accounts; the admin
    # skipped one of those joiners, then approved everything held, and the approval made the skipped
    # child an account. A held change about a child skipped since no longer applies.
    "skipped-while-held": [
        (
            "onboard",
            {
                "seed": 621,
                "rosters_undated": False,
                "imported": [False, False, True, False, False, False, True, True, True, True, True, False],
            },
        ),
        ("erase_a_child", {"pick": 408}),
        ("erase_a_child", {"pick": 1175}),
        ("a_day_then_the_nightly_sync", {"kinds": ["joiner", "change_year", "joiner", "joiner"], "year": 0}),
        ("undo_last_sync", {}),
        ("decide_held", {"approve": False}),
        ("sync", {}),
        ("skip_a_student", {"pick": 1123, "without_account": True}),
        ("decide_held", {"approve": True}),
    ],
    # A child erased, then an MIS migration (every Wonde id changes), a rollover and a second erasure.
    "erase-migrate-erase": [
        ("onboard", {"seed": 0, "imported": [False] * 12}),
        ("erase_a_child", {"pick": 0}),
        ("migration", {}),
        ("rollover", {}),
        ("erase_a_child", {"pick": 0}),
    ],
}


@pytest.mark.parametrize("history", COUNTEREXAMPLES.values(), ids=COUNTEREXAMPLES.keys())
def test_the_promises_hold_over_known_counterexamples(
    live_settings: Settings, sandbox: SandboxServer, history: list[tuple[str, dict[str, Any]]]
) -> None:
    SchoolModel.app_settings = live_settings
    SchoolModel.sandbox = sandbox
    machine = SchoolModel()
    try:
        for name, arguments in history:
            getattr(machine, name)(**arguments)
            machine.promises()  # as hypothesis checks invariants after every step
            machine.skipped_children_get_no_account()
    finally:
        machine.teardown()

"""A student skipped in the uploader stays skipped (issue 17, item 2): no account, in no band, no change
planned for them by a sync or a merge, listed by the sync preview, until the admin takes the skip back
(``DELETE .../uploader/pupils/{wonde_student_id}``); then the next sync treats them as any other.

It used to last only until the first sync: the skipped child got an account there, a later merge took
her out of her band again (the merge still skipped her) and the next sync put her back.
"""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from app.kit.crypto import SecretBox
from app.models import BandMembership, MisClass, MisMembership, MisStudent, UploaderDecision
from app.wonde.client import WondeClient
from app.wonde.sandbox.server import SandboxServer
from tests.fixtures.app import TokenFactory
from tests.fixtures.checks import assert_copycat
from tests.fixtures.database import Committed
from tests.fixtures.schools import account_of, connect, import_every_class, merge, mis_event, read, sync


async def _ready(
    committed: Committed, sandbox: SandboxServer, wonde: WondeClient, box: SecretBox, seed: int
) -> tuple[str, str]:
    """A connected primary school, read, every class to import: (our id, Wonde's id)."""
    school_id = committed.track(f"skip-{uuid.uuid4().hex[:8]}")
    _, wonde_school = await connect(
        committed.sessionmaker, sandbox, box, pupils=40, seed=seed, phase="primary", school_id=school_id
    )
    await read(committed.sessionmaker, wonde, box, school_id)
    await import_every_class(committed.sessionmaker, school_id)
    return school_id, wonde_school


async def _a_student_in_a_class(committed: Committed, school_id: str) -> str:
    async with committed.sessionmaker() as session:
        wonde_id = await session.scalar(
            select(MisStudent.wonde_id)
            .join(MisMembership, MisMembership.mis_student_id == MisStudent.id)
            .join(MisClass, MisClass.id == MisMembership.mis_class_id)
            .where(MisStudent.school_id == school_id)
            .order_by(MisStudent.wonde_id)
            .limit(1)
        )
    assert wonde_id is not None
    return wonde_id


Account = tuple[uuid.UUID, str, str, object]  # id, first and last name, archived_at


async def _account(committed: Committed, school_id: str, wonde_id: str) -> tuple[Account | None, set[uuid.UUID]]:
    """The account linked to the student (id, names, archived_at), and the bands it is in."""
    pupil = await account_of(committed.sessionmaker, school_id, wonde_id)
    async with committed.sessionmaker() as session:
        bands = (
            set(await session.scalars(select(BandMembership.band_id).where(BandMembership.pupil_id == pupil.id)))
            if pupil
            else set()
        )
    return ((pupil.id, pupil.first_name, pupil.last_name, pupil.archived_at) if pupil else None), bands


async def test_a_skipped_student_gets_no_account_until_the_skip_is_taken_back(
    live_client: httpx.AsyncClient,
    auth: TokenFactory,
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
) -> None:
    school_id, wonde_school = await _ready(committed, sandbox, wonde, box, seed=1701)
    skipped = await _a_student_in_a_class(committed, school_id)
    base, headers = f"/v1/schools/{school_id}", auth(school_id)
    settled = await live_client.put(f"{base}/uploader/pupils/{skipped}", json={"resolution": "skip"}, headers=headers)
    assert settled.status_code == 200, settled.text

    await merge(committed.sessionmaker, box, school_id)
    assert await _account(committed, school_id, skipped) == (None, set()), "the merge gave a skipped student an account"
    await sync(committed.sessionmaker, wonde, box, school_id)
    assert await _account(committed, school_id, skipped) == (None, set()), "the sync gave a skipped student an account"
    await assert_copycat(committed.sessionmaker, sandbox, school_id, wonde_school, skipped={skipped})

    # The sync preview lists her; an unrelated merge and a sync after it leave her out still.
    preview = (await live_client.get(f"{base}/sync/preview", headers=headers)).json()
    assert [s["wonde_student_id"] for s in preview["skipped"]] == [skipped], preview
    assert preview["skipped"][0]["pupil_id"] is None
    await merge(committed.sessionmaker, box, school_id)
    await sync(committed.sessionmaker, wonde, box, school_id)
    assert await _account(committed, school_id, skipped) == (None, set())

    # Taken back: the next sync makes her an account, in every band of her classes.
    taken_back = await live_client.delete(f"{base}/uploader/pupils/{skipped}", headers=headers)
    assert taken_back.status_code == 204, taken_back.text
    async with committed.sessionmaker() as session:
        decisions = list(await session.scalars(select(UploaderDecision).where(UploaderDecision.school_id == school_id)))
    assert [d for d in decisions if d.resolution is not None] == []
    counts = await sync(committed.sessionmaker, wonde, box, school_id)
    assert counts["pupils_created"] == 1, counts
    account, bands = await _account(committed, school_id, skipped)
    assert account is not None and bands
    await assert_copycat(committed.sessionmaker, sandbox, school_id, wonde_school)
    preview = (await live_client.get(f"{base}/sync/preview", headers=headers)).json()
    assert preview["skipped"] == []
    # Taking back a decision that is not there is not an error (DELETE is idempotent); an unknown student is.
    again = await live_client.delete(f"{base}/uploader/pupils/{skipped}", headers=headers)
    assert again.status_code == 204, again.text
    unknown = await live_client.delete(f"{base}/uploader/pupils/no-such-student", headers=headers)
    assert (unknown.status_code, unknown.json()["error"]) == (404, "StudentNotFound")


async def test_a_student_skipped_after_getting_an_account_is_left_as_they_are(
    live_client: httpx.AsyncClient,
    auth: TokenFactory,
    committed: Committed,
    sandbox: SandboxServer,
    wonde: WondeClient,
    box: SecretBox,
) -> None:
    """The issue's child: she had an account (from the first sync), then was skipped. A later merge must
    not take her out of her band, and a sync must not rename her or change her year: skipped means not
    synced, and her account is kept as it is while she is on roll."""
    school_id, wonde_school = await _ready(committed, sandbox, wonde, box, seed=1702)
    await merge(committed.sessionmaker, box, school_id)
    skipped = await _a_student_in_a_class(committed, school_id)
    account, bands = await _account(committed, school_id, skipped)
    assert account is not None and account[3] is None and bands
    base, headers = f"/v1/schools/{school_id}", auth(school_id)
    settled = await live_client.put(f"{base}/uploader/pupils/{skipped}", json={"resolution": "skip"}, headers=headers)
    assert settled.status_code == 200, settled.text

    await merge(committed.sessionmaker, box, school_id)
    assert await _account(committed, school_id, skipped) == (account, bands), "the merge changed a skipped student"
    mis_event(sandbox, wonde_school, {"kind": "rename", "student_id": skipped})
    mis_event(sandbox, wonde_school, {"kind": "change_year", "student_id": skipped, "year": 2})
    await sync(committed.sessionmaker, wonde, box, school_id)
    assert await _account(committed, school_id, skipped) == (account, bands), "the sync changed a skipped student"
    preview = (await live_client.get(f"{base}/sync/preview", headers=headers)).json()
    assert preview["skipped"] == [
        {"wonde_student_id": skipped, "name": preview["skipped"][0]["name"], "pupil_id": str(account[0])}
    ]
    await assert_copycat(committed.sessionmaker, sandbox, school_id, wonde_school, skipped={skipped})
    # She leaves the school: a leaver like any other (her account archived and out of its bands), so
    # that no account outlives its child for having been skipped.
    mis_event(sandbox, wonde_school, {"kind": "leaver", "student_id": skipped})
    await sync(committed.sessionmaker, wonde, box, school_id)
    left, left_bands = await _account(committed, school_id, skipped)
    assert left is not None and left[0] == account[0] and left[3] is not None and left_bands == set()
    await assert_copycat(committed.sessionmaker, sandbox, school_id, wonde_school)

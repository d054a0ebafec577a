"""The Wonde client against respx: pagination, retries, permanent failures, tolerant parsing.

respx is strict here: a request no route expects fails the test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import respx

from app.wonde.client import RetryPolicy, SchoolClient, WondeClient, format_updated_after
from app.wonde.errors import WondeAuthError, WondeNotFound, WondeProtocolError, WondeRetriesExhausted
from app.wonde.schemas import Unreadable

PAYLOADS = Path(__file__).resolve().parent.parent / "wonde_payloads"
BASE = "https://api.wonde.com/v1.0"
SCHOOL = "A9999999999"
STUDENTS = f"{BASE}/schools/{SCHOOL}/students"

T = TypeVar("T")


async def readable(items: AsyncIterator[T | Unreadable]) -> list[T]:
    """Every item of a list, which must all be readable."""
    found = [item async for item in items]
    assert not [item for item in found if isinstance(item, Unreadable)]
    return [item for item in found if not isinstance(item, Unreadable)]


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


class Sleeps:
    """Stands in for asyncio.sleep: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def school(sleeps: Sleeps) -> AsyncIterator[SchoolClient]:
    async with httpx.AsyncClient() as http:
        client = WondeClient(
            http, base_url=BASE, retry=RetryPolicy(attempts=4, base_delay=1.0), sleep=sleeps, rng=lambda: 1.0
        )
        yield client.school(SCHOOL, "secret-token")


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router


async def test_students_follow_next_and_parse_real_shapes(school: SchoolClient, mock: respx.MockRouter) -> None:
    route = mock.get(STUDENTS)
    route.side_effect = [
        httpx.Response(200, json=payload("students_page1")),
        httpx.Response(200, json=payload("students_page2")),
    ]
    students = await readable(school.students(updated_after=datetime(2024, 11, 1, 7, 30, tzinfo=UTC)))

    request = route.calls[0].request
    # The second page is fetched from the next link exactly as given, query string and all.
    assert str(route.calls[1].request.url) == payload("students_page1")["meta"]["pagination"]["next"]
    assert request.headers["authorization"] == "Bearer secret-token"
    assert request.url.params["per_page"] == "200"
    assert request.url.params["include"] == "classes,year,education_details,groups"
    assert request.url.params["updated_after"] == "2024-11-01 07:30:00"
    assert school.requests_made == 2

    amy, zoe, siobhan = students
    assert (amy.forename, amy.legal_forename, amy.year_group, amy.year_code) == ("Amy", "Amelia", 4, "4")
    assert amy.details is not None and amy.details.upn == "H801200001234"
    assert amy.class_ids == ["A4444444444"]
    assert amy.group_ids == ["A3333333333"]
    assert amy.updated_at == datetime(2024, 11, 2, 6, 3, 11, tzinfo=UTC)
    assert (zoe.legal_forename, zoe.year_group, zoe.year_code) == (None, 0, "Year R")
    assert siobhan.year_group == -2
    assert siobhan.details is not None and siobhan.details.leaving_date == date(2025, 7, 23)
    assert siobhan.upi is None


async def test_classes_groups_deletions_school_and_meta(school: SchoolClient, mock: respx.MockRouter) -> None:
    mock.get(f"{BASE}/schools/{SCHOOL}/classes").mock(return_value=httpx.Response(200, json=payload("classes")))
    groups = mock.get(f"{BASE}/schools/{SCHOOL}/groups").mock(return_value=httpx.Response(200, json=payload("groups")))
    mock.get(f"{BASE}/schools/{SCHOOL}/deletions").mock(return_value=httpx.Response(200, json=payload("deletions")))
    mock.get(f"{BASE}/schools/{SCHOOL}").mock(return_value=httpx.Response(200, json=payload("school")))
    mock.get(f"{BASE}/meta/schools/{SCHOOL}").mock(return_value=httpx.Response(200, json=payload("school_meta")))

    bio, maths = await readable(school.classes())
    assert (bio.display_name, bio.subject_id) == ("10x/Bi1", "A5555555555")
    assert (maths.display_name, maths.subject_id, maths.mis_id, maths.updated_at) == (
        "6Ma1",
        "A5555555556",
        "13968",
        None,
    )
    [form] = await readable(school.groups())
    assert groups.calls.last.request.url.params["type"] == "REGISTRATION"
    assert (form.type, form.display_name) == ("REGISTRATION", "4B")
    gone, back = await readable(school.deletions())
    assert (gone.restored_at, back.restored_at) == (None, datetime(2025, 9, 3, 2, 11, 40, tzinfo=UTC))
    info = await school.get_school()
    assert info.region is not None and info.region.domain == "api.wonde.com"
    assert (await school.get_meta()).audited is False


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(500),
        httpx.Response(503),
        httpx.Response(200, content=b'{"data": [{"id": "A1"'),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
    ],
    ids=["429", "500", "503", "truncated", "connect", "read-timeout"],
)
async def test_transient_failures_are_retried(
    school: SchoolClient, mock: respx.MockRouter, sleeps: Sleeps, failure: httpx.Response | Exception
) -> None:
    route = mock.get(f"{BASE}/schools/{SCHOOL}/classes")
    route.side_effect = [failure, failure, httpx.Response(200, json=payload("classes"))]
    classes = [c async for c in school.classes()]
    assert len(classes) == 2
    assert route.call_count == 3
    assert school.requests_made == 3
    assert len(sleeps.delays) == 2


async def test_backoff_doubles_and_retry_after_is_honoured(
    school: SchoolClient, mock: respx.MockRouter, sleeps: Sleeps
) -> None:
    route = mock.get(f"{BASE}/schools/{SCHOOL}/classes")
    route.side_effect = [
        httpx.Response(500),
        httpx.Response(500),
        httpx.Response(429, headers={"Retry-After": "30"}),
        httpx.Response(200, json=payload("classes")),
    ]
    assert len([c async for c in school.classes()]) == 2
    # base 1 s doubling (jitter pinned to its maximum), then Retry-After wins over the 4 s step.
    assert sleeps.delays == [1.0, 2.0, 30.0]


async def test_responses_are_tallied_by_status_or_by_what_went_wrong(
    school: SchoolClient, mock: respx.MockRouter
) -> None:
    route = mock.get(f"{BASE}/schools/{SCHOOL}/classes")
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "1"}),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.Response(500),
        httpx.Response(200, json=payload("classes")),
    ]
    school._client.retry = RetryPolicy(attempts=5, base_delay=0)
    assert len([c async for c in school.classes()]) == 2
    assert school.responses == {"429": 1, "timeout": 1, "error": 1, "500": 1, "200": 1}
    assert sum(school.responses.values()) == school.requests_made == 5
    assert school.pages_read == 1

    mock.get(f"{BASE}/schools/{SCHOOL}").mock(return_value=httpx.Response(401))
    with pytest.raises(WondeAuthError):
        await school.get_school()
    assert school.responses["401"] == 1
    assert school.pages_read == 1  # a single object is not a list page


async def test_pages_are_counted_as_they_arrive(school: SchoolClient, mock: respx.MockRouter) -> None:
    mock.get(STUDENTS).side_effect = [
        httpx.Response(200, json=payload("students_page1")),
        httpx.Response(200, json=payload("students_page2")),
    ]
    seen = [school.pages_read async for _ in school.students()]
    assert seen[0] == 1
    assert seen[-1] == school.pages_read == 2


async def test_the_attempt_limit_ends_retrying(school: SchoolClient, mock: respx.MockRouter, sleeps: Sleeps) -> None:
    route = mock.get(f"{BASE}/schools/{SCHOOL}/classes").mock(return_value=httpx.Response(502))
    with pytest.raises(WondeRetriesExhausted, match="gave up after 4 attempts"):
        [c async for c in school.classes()]
    assert route.call_count == 4
    assert len(sleeps.delays) == 3


@pytest.mark.parametrize("status", [401, 403])
async def test_401_and_403_are_permanent(
    school: SchoolClient, mock: respx.MockRouter, sleeps: Sleeps, status: int
) -> None:
    route = mock.get(f"{BASE}/schools/{SCHOOL}/classes").mock(return_value=httpx.Response(status, json={"error": "x"}))
    with pytest.raises(WondeAuthError):
        [c async for c in school.classes()]
    assert route.call_count == 1
    assert sleeps.delays == []


async def test_404_is_not_found(school: SchoolClient, mock: respx.MockRouter) -> None:
    mock.get(f"{BASE}/schools/{SCHOOL}").mock(return_value=httpx.Response(404))
    with pytest.raises(WondeNotFound):
        await school.get_school()


def _page(items: list[dict[str, Any]], next_url: str | None) -> dict[str, Any]:
    return {"data": items, "meta": {"pagination": {"next": next_url, "more": next_url is not None, "per_page": 200}}}


@pytest.mark.parametrize(
    ("items", "next_url", "message"),
    [
        ([{"forename": "Amy"}], None, "students page 1 item 1 cannot be read"),
        ([{"id": "A1"}], "https://evil.example/v1.0/schools/A9999999999/students?page=2", "another host"),
        ([{"id": "A1"}], f"{STUDENTS}?page=1&per_page=200&include=classes%2Cyear%2Ceducation_details%2Cgroups", None),
    ],
    ids=["no-id", "other-host", "loop"],
)
async def test_untrustworthy_pages_are_protocol_errors(
    school: SchoolClient, mock: respx.MockRouter, items: list[dict[str, Any]], next_url: str | None, message: str | None
) -> None:
    mock.get(STUDENTS).mock(return_value=httpx.Response(200, json=_page(items, next_url)))
    with pytest.raises(WondeProtocolError, match=message or "pagination"):
        [s async for s in school.students()]


async def test_a_body_that_is_not_a_list_is_a_protocol_error(school: SchoolClient, mock: respx.MockRouter) -> None:
    mock.get(STUDENTS).mock(return_value=httpx.Response(200, json={"data": {"id": "A1"}}))
    with pytest.raises(WondeProtocolError, match="not a Wonde list"):
        [s async for s in school.students()]


SANDBOX = "http://127.0.0.1:8100/v1.0"


@pytest.mark.parametrize(
    ("base_url", "domain", "expected"),
    [
        (BASE, None, BASE),
        (BASE, "", BASE),
        (BASE, "api.wonde.com", BASE),
        (BASE, "api.wonde.com:443", BASE),
        (BASE, "API.Wonde.COM", BASE),
        (BASE, "api-ap-southeast-2.wonde.com", "https://api-ap-southeast-2.wonde.com/v1.0"),
        (BASE, "EU.Wonde.com", "https://eu.wonde.com/v1.0"),
        (BASE, "api.eu.wonde.com:8443", "https://api.eu.wonde.com:8443/v1.0"),
        (SANDBOX, "127.0.0.1:8100", SANDBOX),
        # A Wonde region is always spoken to over https, whatever the configured base says.
        (SANDBOX, "api.wonde.com", "https://api.wonde.com/v1.0"),
    ],
)
def test_region_domains_that_are_wonde_or_the_configured_host_are_accepted(
    base_url: str, domain: str | None, expected: str
) -> None:
    assert WondeClient(httpx.AsyncClient(), base_url=base_url).base_for(domain) == expected


@pytest.mark.parametrize(
    ("base_url", "domain"),
    [
        # The text before the first ':' ends in .wonde.com, but the host is another one.
        (BASE, "127.0.0.1/.wonde.com"),
        (BASE, "evil.example?.wonde.com"),
        (BASE, "evil.example#.wonde.com"),
        (BASE, "evil.example/x.wonde.com"),
        (BASE, "evil.example\\.wonde.com"),
        (BASE, "evil.example%2f.wonde.com"),
        (BASE, "evil.example@api.wonde.com"),
        (BASE, "api.wonde.com@evil.example"),
        (BASE, "evil.example:443/.wonde.com"),
        # Not a Wonde host.
        (BASE, "wonde.com.evil.example"),
        (BASE, "evilwonde.com"),
        (BASE, "wonde.com"),
        (BASE, ".wonde.com"),
        (BASE, "api..wonde.com"),
        (BASE, "api.wonde.com."),
        (BASE, "api.w\u043ende.com"),
        (BASE, "127.0.0.1"),
        (BASE, "127.0.0.1:8100"),
        (BASE, "[::1]"),
        (BASE, "localhost"),
        # Something besides a host and a port.
        (BASE, "https://api.wonde.com"),
        (BASE, "api.wonde.com/"),
        (BASE, "api.wonde.com/v1.0"),
        (BASE, " api.wonde.com"),
        (BASE, "api.wonde.com "),
        (BASE, "api.wonde.com\n"),
        (BASE, "api.wo nde.com"),
        (BASE, "api.wonde.com:"),
        (BASE, "api.wonde.com:0"),
        (BASE, "api.wonde.com:65536"),
        (BASE, "api.wonde.com:123456"),
        (BASE, "api.wonde.com:80:80"),
        (BASE, "api.wonde.com:http"),
        (BASE, "api.wonde.com:+443"),
        # The configured host on another port is another service.
        (SANDBOX, "127.0.0.1"),
        (SANDBOX, "127.0.0.1:6379"),
        (SANDBOX, "127.0.0.1:8100/.wonde.com"),
        (SANDBOX, "localhost:8100"),
    ],
)
def test_every_other_region_domain_is_refused(base_url: str, domain: str) -> None:
    client = WondeClient(httpx.AsyncClient(), base_url=base_url)
    with pytest.raises(WondeProtocolError, match="refusing region domain"):
        client.base_for(domain)
    with pytest.raises(WondeProtocolError, match="refusing region domain"):
        client.school(SCHOOL, "secret-token", domain=domain)


def test_updated_after_is_sent_in_utc() -> None:
    from zoneinfo import ZoneInfo

    london = datetime(2024, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/London"))
    assert format_updated_after(london) == "2024-07-01 08:00:00"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_updated_after(datetime(2024, 7, 1))


async def test_an_item_with_an_id_but_unreadable_fields_is_handed_over_as_unreadable(
    school: SchoolClient, mock: respx.MockRouter
) -> None:
    items: list[dict[str, Any]] = [
        {"id": "A1", "forename": "Amy"},
        {"id": "A2", "forename": "Ben", "updated_at": "not a time", "education_details": {"data": {"upn": ["x"]}}},
        {"id": "A3", "forename": "Cat"},
    ]
    mock.get(STUDENTS).mock(return_value=httpx.Response(200, json=_page(items, None)))
    first, second, third = [s async for s in school.students()]
    assert second == Unreadable("A2", ("education_details.data.upn", "updated_at"))
    assert not isinstance(first, Unreadable) and not isinstance(third, Unreadable)


@pytest.mark.parametrize("bad_id", [None, "", "A\x00", "x" * 65, {"id": 1}])
async def test_an_item_without_a_usable_id_stops_the_list(
    school: SchoolClient, mock: respx.MockRouter, bad_id: object
) -> None:
    item: dict[str, Any] = {"id": bad_id, "forename": "Amy"}
    mock.get(STUDENTS).mock(return_value=httpx.Response(200, json=_page([item], None)))
    with pytest.raises(WondeProtocolError, match=r"students page 1 item 1 cannot be read \(fields: id\)") as caught:
        [s async for s in school.students()]
    assert "Amy" not in str(caught.value) and caught.value.__cause__ is None

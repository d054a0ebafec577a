"""Pages: the query parameters' bounds and defaults, the offset, and a page rendered through a schema."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from app.kit.pagination import Page, PageParams, Pagination, page_of


class Item(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str


@dataclass
class Row:
    name: str
    secret: str


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = FastAPI()

    @app.get("/items")
    async def items(page: Pagination) -> dict[str, int]:
        return {"page": page.page, "per_page": page.per_page, "offset": page.offset}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {"page": 1, "per_page": 50, "offset": 0}),
        ({"page": 3}, {"page": 3, "per_page": 50, "offset": 100}),
        ({"page": 2, "per_page": 200}, {"page": 2, "per_page": 200, "offset": 200}),
        ({"page": 100_000, "per_page": 1}, {"page": 100_000, "per_page": 1, "offset": 99_999}),
    ],
)
async def test_page_parameters_and_their_offset(
    client: httpx.AsyncClient, query: dict[str, int], expected: dict[str, int]
) -> None:
    async with client:
        response = await client.get("/items", params=query)
    assert (response.status_code, response.json()) == (200, expected)


@pytest.mark.parametrize("query", [{"page": 0}, {"page": 100_001}, {"per_page": 0}, {"per_page": 201}, {"page": "x"}])
async def test_page_parameters_out_of_bounds_are_refused(
    client: httpx.AsyncClient, query: dict[str, int | str]
) -> None:
    async with client:
        response = await client.get("/items", params=query)
    assert response.status_code == 422


def test_a_page_renders_rows_through_the_schema_and_keeps_the_total() -> None:
    page = page_of(Item, [Row("Amy", "s1"), Row("Ben", "s2")], 7, PageParams(page=2, per_page=2))
    assert isinstance(page, Page)
    assert page.model_dump() == {"items": [{"name": "Amy"}, {"name": "Ben"}], "page": 2, "per_page": 2, "total": 7}

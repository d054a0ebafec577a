from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _page_params(
    page: Annotated[int, Query(ge=1, le=100_000, description="1-based page number")] = 1,
    per_page: Annotated[int, Query(ge=1, le=200, description="items per page")] = 50,
) -> PageParams:
    return PageParams(page=page, per_page=per_page)


Pagination = Annotated[PageParams, Depends(_page_params)]


T = TypeVar("T")
S = TypeVar("S", bound=BaseModel)


class Page(BaseModel, Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int


def page_of(schema: type[S], items: Sequence[object], total: int, params: PageParams) -> Page[S]:
    """A page of ORM rows rendered through a response schema."""
    rendered = [schema.model_validate(item) for item in items]
    return Page[S](items=rendered, page=params.page, per_page=params.per_page, total=total)

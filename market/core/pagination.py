"""The one pagination shape: ?page=&page_size= in, {items, total, page, page_size} out."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy.orm import Session

T = TypeVar("T")

# A page past this is refused (422), not turned into an OFFSET past what the databases take.
MAX_PAGE = 1_000_000


class PageParams(BaseModel):
    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


async def page_params(  # async: pure, so FastAPI need not send it to a worker thread
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
    page_size: Annotated[int, Query(ge=1, le=200, description="items per page (max 200)")] = 20,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


def paginate(session: Session, stmt: sa.Select, params: PageParams) -> tuple[list, int]:
    """Run a select for one page and its total count (rows are ORM objects when stmt selects an entity)."""
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.limit(params.page_size).offset(params.offset)).all()
    return list(rows), int(total)

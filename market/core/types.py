"""Input types every schema shares: ids that fit the database, text without hidden characters, bounded money.

Bad input must end as a 4xx where it enters, never as a database error: PostgreSQL refuses NUL in
text and integers past int8, SQLite silently stores the first and overflows on the second. These
types make both databases see the same, already-checked values.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Request
from pydantic import BaseModel, BeforeValidator, Field, GetCoreSchemaHandler, create_model
from pydantic.fields import FieldInfo
from pydantic_core import core_schema

from market.core.errors import ValidationFailed
from market.core.identifiers import IdentifierError  # the tree's ValueError with a code the 422 handler reports

# Ids are BIGINT on PostgreSQL and INTEGER (64-bit) on SQLite.
INT64_MAX = 2**63 - 1

Id = Annotated[int, Field(ge=1, le=INT64_MAX, description="a record id")]

# Money input: yuan with at most 2 decimals, far below what integer fen in a BIGINT can hold (9.2e16 yuan).
MONEY_MAX = Decimal("999999999999999.99")
MoneyIn = Annotated[Decimal, Field(ge=0, le=MONEY_MAX, decimal_places=2, description="yuan, 2 decimals")]

# ---- text --------------------------------------------------------------------------------------

# Bidi embeddings, overrides and isolates reorder what a reader sees (CVE-2021-42574, "Trojan Source").
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\t\n\r")
# Letters that render as nothing (Hangul fillers, braille blank); they are not "visible" either.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def visible_length(value: str) -> int:
    """Characters a reader sees: not whitespace, not a control, format (zero-width) or combining mark."""
    return sum(
        1
        for ch in value
        if not ch.isspace()
        and ch not in BLANK_LETTERS
        and unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp")
    )


def check_text(value: str, *, multiline: bool, min_visible: int = 0) -> str:
    """Refuse NUL and control characters (tab and line breaks only in long text), bidi controls, lone surrogates."""
    for ch in value:
        if ch in BIDI_CONTROLS:
            raise IdentifierError("bidi_control", "text must not contain bidirectional control characters")
        category = unicodedata.category(ch)
        if category == "Cs":
            raise IdentifierError("invalid_text", "text must be valid Unicode (a lone surrogate was sent)")
        if category == "Cc" and not (multiline and ch in LINE_BREAKS):
            allowed = "tabs and line breaks only" if multiline else "none"
            raise IdentifierError("control_character", f"text must not contain control characters ({allowed})")
    if min_visible and visible_length(value) < min_visible:
        raise IdentifierError("too_short", f"text needs at least {min_visible} visible characters")
    return value


class _TextRules:
    """Annotated marker: the str schema as declared, then `check_text`, counting its min_length in visible characters."""

    def __init__(self, *, multiline: bool) -> None:
        self.multiline = multiline

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        schema = handler(source)
        min_visible = int(schema.get("min_length") or 0)
        multiline = self.multiline
        return core_schema.no_info_after_validator_function(
            lambda v: check_text(v, multiline=multiline, min_visible=min_visible), schema
        )


# The marker, for bounded text types spelled out where a type checker must read them:
# Annotated[str, Field(min_length=…, max_length=…), TextRules(multiline=…)] is what `text(…)` builds.
TextRules = _TextRules

# One line (names, titles, codes, keywords): no control characters at all.
Text = Annotated[str, _TextRules(multiline=False)]
# Long text (summaries, descriptions, reasons): tabs and line breaks allowed.
LongText = Annotated[str, _TextRules(multiline=True)]


def text(max_length: int | None = None, *, min_length: int = 0, multiline: bool = False) -> Any:
    """A Text / LongText with its bounds inside the type, where a field's Field() cannot reach the text rules:
    list items, and Optional fields (`text(200, min_length=1) | None`), whose constraints pydantic applies
    outside the str schema, so the visible-character minimum would not see them."""
    bounds = Field(min_length=min_length or None, max_length=max_length)
    return Annotated[str, bounds, _TextRules(multiline=multiline)]


# ---- PATCH bodies ------------------------------------------------------------------------------


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise IdentifierError("null_not_allowed", "this field cannot be cleared; leave it out to keep it")
    return value


def patch_model(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The PATCH shape of a create model: every field may be left out, and the checks stay.

    A field the create model requires may not be sent as null (`{"title": null}`): it would reach a
    NOT NULL column. Fields that are nullable in the create model stay nullable.
    """
    fields: dict[str, Any] = {}
    for n, f in model.model_fields.items():
        info = FieldInfo.merge_field_infos(f, default=None, default_factory=None)
        if f.is_required():
            info.metadata = [*info.metadata, BeforeValidator(_refuse_null)]
        fields[n] = (f.annotation, info)
    return create_model(name, __base__=model, **fields)


# ---- path and query parameters ----------------------------------------------------------------


def _int_params(route: Any) -> list[tuple[str, str]]:
    """(location, name) of every integer path/query parameter a route (and its dependencies) declares."""
    found: list[tuple[str, str]] | None = getattr(route, "_int_params", None)  # kept on the route: one walk each
    if found is None:
        found = []
        stack = [route.dependant] if getattr(route, "dependant", None) else []
        while stack:
            dep = stack.pop()
            for where, params in (("path", dep.path_params), ("query", dep.query_params)):
                for p in params:
                    if _is_int(p.field_info.annotation):
                        found.append((where, p.alias or p.name))
            stack.extend(dep.dependencies)
        route._int_params = found
    return found


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    args = getattr(annotation, "__args__", ()) or ()
    return any(a is int or _is_int(a) for a in args if a is not type(None))


async def guard_params(request: Request) -> None:
    """App-wide dependency on every route, before its own parameters are read.

    An integer path or query parameter beyond int64 is a 422, not a database overflow; no path or query
    value may carry control or bidi characters (PostgreSQL refuses NUL, SQLite would match it).
    """
    for name, raw in [*request.path_params.items(), *request.query_params.multi_items()]:
        try:
            check_text(str(raw), multiline=False)
        except IdentifierError as exc:
            raise ValidationFailed.field(name, exc.code, f"{name}: {exc.message}") from None
    route = request.scope.get("route")
    if route is None:
        return
    for where, name in _int_params(route):
        values = [request.path_params.get(name)] if where == "path" else request.query_params.getlist(name)
        for raw in values:
            if raw is None:
                continue
            try:
                number = int(str(raw).strip())
            except ValueError:
                continue  # not an integer: the parameter's own validation answers
            if abs(number) > INT64_MAX:
                raise ValidationFailed.field(name, "out_of_range", f"{name} is out of range")

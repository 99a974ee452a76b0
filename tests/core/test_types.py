"""Bad input is a 4xx with a stable code on both databases, wherever it enters (market/core/types.py)."""

from __future__ import annotations

import pytest

from market.accounts.roles import Role
from market.core.types import check_text, visible_length
from market.core.vocab import OrgKind
from tests.contracts.payloads import contract_body
from tests.listings.payloads import achievement_body, demand_body

BIG = 2**63  # one past int64: PostgreSQL's BIGINT and SQLite's INTEGER both overflow


def error(r) -> dict:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    return r.json()["error"]


# ---- ids past int64 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/achievements/{BIG}",
        f"/api/v1/demands/{BIG * 10**5}",
        f"/api/v1/contracts/{BIG}",
        f"/api/v1/calls/{BIG}/bids/{BIG}",
        f"/api/v1/subsidies/runs/{BIG}/diff",
        f"/api/v1/webhooks/{BIG}/deliveries",
        f"/api/v1/demands?org_id={BIG}",
        f"/api/v1/contracts/{-BIG - 1}",
    ],
)
def test_path_and_query_id_past_int64_is_422(client, world, path):
    for actor in (world.bureau(), world.member()):
        err = error(client.get(path, headers=actor.headers))
        assert err["code"] in ("out_of_range", "not_found"), err


def test_body_id_past_int64_is_422(client, world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    body = contract_body(seller.org_id, buyer.org_id, demand_id=BIG)
    err = error(client.post("/api/v1/contracts", json=body, headers=seller.headers))
    assert err["code"] == "validation_failed" or err["code"].endswith("less_than_equal"), err


def test_unknown_foreign_key_in_body_is_4xx(client, world):
    seller = world.member(OrgKind.university, region_code="330205")
    buyer = world.member(OrgKind.enterprise, region_code="330212")
    body = contract_body(seller.org_id, buyer.org_id, demand_id=99999)
    r = client.post("/api/v1/contracts", json=body, headers=seller.headers)
    assert r.status_code in (404, 409, 422), r.text
    # unknown_link: the contracts service answers a missing and a hidden linked record alike (never tells which).
    assert r.json()["error"]["code"] in ("unknown_reference", "not_found", "demand_not_found", "unknown_link"), r.text


# ---- huge numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["page=99999999999999999", f"page={BIG}", "max_price=1e200", "min_price=1e30", "max_price=99999999999999999999"],
)
def test_huge_page_and_numeric_filter_are_422(client, world, query):
    member = world.member()
    for url in ("/api/v1/demands", "/api/v1/achievements"):
        err = error(client.get(f"{url}?{query}", headers=member.headers))
        assert err["code"] in ("out_of_range", "invalid_less_than_equal", "validation_failed"), err


# ---- PATCH with null ---------------------------------------------------------------------------


def test_patch_null_for_required_field_is_422_and_nullable_field_clears(client, world):
    member = world.member()
    d = client.post("/api/v1/demands", json=demand_body(), headers=member.headers).json()
    url = f"/api/v1/demands/{d['id']}"
    for field in ("title", "description", "technical_field", "region_code", "budget", "cooperation_modes"):
        err = error(client.patch(url, json={field: None}, headers=member.headers))
        assert err["code"] in ("null_not_allowed", "budget_required"), (field, err)
    r = client.patch(url, json={"deadline": None}, headers=member.headers)
    assert r.status_code == 200 and r.json()["deadline"] is None, r.text
    assert client.get(url, headers=member.headers).json()["title"] == demand_body()["title"]


# ---- statistics dates --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/stats/summary?from=0001-01-01",
        "/api/v1/stats/summary?to=9999-12-31",
        "/api/v1/stats/summary?year=0",
        "/api/v1/stats/summary?year=99999999999999999999",
        "/api/v1/stats/series?from=0001-01-01&to=0001-12-31",
        "/api/v1/stats/year-to-date?as_of=0001-01-01",
        "/api/v1/stats/targets/0/progress",
        "/api/v1/stats/targets/99999999999999999999/progress",
        "/api/v1/stats/reports/0/1",
        "/api/v1/stats/reports/2025/13",
    ],
)
def test_statistics_dates_out_of_range_are_422(client, world, path):
    bureau = world.bureau()
    assert error(client.get(path, headers=bureau.headers))["code"]


# ---- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("\u200b\u200b\u200b\u200b", "too_short"),  # four zero-width spaces are not a title
        ("a\u200bb\u200b\u200b\u200b", "too_short"),
        ("   \u3000", "too_short"),
        ("技术\x00需求标题", "control_character"),  # PostgreSQL refuses NUL, SQLite stored it
        ("技术\x07需求标题", "control_character"),
        ("技术\t需求标题", "control_character"),  # a title is one line
        ("技术\n需求标题", "control_character"),
        ("评审\u202e题标求需", "bidi_control"),
        ("评审\u2066需求\u2069标题", "bidi_control"),
    ],
)
def test_bad_text_is_refused_the_same_on_both_databases(client, world, title, code):
    member = world.member()
    err = error(client.post("/api/v1/demands", json=demand_body(title=title), headers=member.headers))
    assert err["code"] == code, err


def test_long_text_keeps_tabs_and_line_breaks_but_not_nul(client, world):
    member = world.member()
    text = "第一段：\t工艺优化方案。\r\n第二段：目标气孔率<0.5%。"
    r = client.post("/api/v1/demands", json=demand_body(description=text), headers=member.headers)
    assert r.status_code == 201 and r.json()["description"] == text, r.text
    err = error(client.post("/api/v1/demands", json=demand_body(description=text + "\x00"), headers=member.headers))
    assert err["code"] == "control_character"
    err = error(
        client.post("/api/v1/achievements", json=achievement_body(keywords=["电池\x1b"]), headers=member.headers)
    )
    assert err["code"] == "control_character"


def test_lone_surrogate_is_refused(client, world):
    import json

    member = world.member()
    body = json.dumps(demand_body(title="PLACEHOLDER")).replace("PLACEHOLDER", "\\ud800标题标题")
    r = client.post("/api/v1/demands", content=body, headers={**member.headers, "Content-Type": "application/json"})
    assert error(r)["code"] in ("invalid_string_unicode", "invalid_text")  # pydantic-core refuses it first


@pytest.mark.parametrize(
    ("value", "multiline", "ok"),
    [
        ("标题", False, True),
        ("a\tb", True, True),
        ("a\tb", False, False),
        ("a\u0085b", True, False),  # NEL is a C1 control
        ("a\u200db", False, True),  # a zero-width joiner inside an emoji sequence is fine, it just is not counted
        ("a\u202ab", True, False),
    ],
)
def test_check_text_table(value, multiline, ok):
    try:
        check_text(value, multiline=multiline)
    except ValueError:
        assert not ok
    else:
        assert ok


def test_visible_length_counts_what_a_reader_sees():
    assert visible_length("\u200b" * 4) == 0
    assert visible_length("e\u0301t\u00e9") == 3  # a combining accent is part of its letter
    assert visible_length("技术 需求") == 4
    assert visible_length("\u3164\u3164\u3164\u3164") == 0  # Hangul fillers


def test_roles_get_the_same_answers(client, world):
    # Bad input answers the same for every role that may call the endpoint; the anonymous get a 401 first.
    for who in (world.member(), world.member(OrgKind.university), world.bureau(Role.bureau_admin)):
        err = error(client.post("/api/v1/demands", json=demand_body(title="\x00\x00\x00\x00"), headers=who.headers))
        assert err["code"] in ("control_character", "forbidden", "role_required"), err
    assert error(client.post("/api/v1/demands", json=demand_body(title="\x00abc")))["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/demands?q=%00abc",
        "/api/v1/achievements?q=ab%1Bc",
        "/api/v1/search?q=%E2%80%AEabc",
        "/api/v1/demands?region_code=33%002",
    ],
)
def test_control_characters_in_query_are_422(client, world, path):
    member = world.member()
    err = error(client.get(path, headers=member.headers))
    assert err["code"] in ("control_character", "bidi_control"), err


def test_database_errors_map_to_4xx_on_both_databases(engine):
    """The backstop: a constraint or range error that slips past the schemas is the client's 4xx, never a 500."""
    import sqlalchemy as sa

    from market.core.errors import data_error, integrity_error

    def fails(sql: str, **params) -> Exception:
        with engine.connect() as conn:
            try:
                conn.execute(sa.text(sql), params)
            except (sa.exc.DBAPIError, OverflowError) as exc:
                return exc
        raise AssertionError(f"{sql} did not fail")

    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t_parent (id BIGINT PRIMARY KEY)"))
        conn.execute(
            sa.text(
                "CREATE TABLE t_child (id BIGINT PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE, "
                "parent_id BIGINT REFERENCES t_parent (id))"
            )
        )
        conn.execute(sa.text("INSERT INTO t_parent (id) VALUES (1)"))
        conn.execute(sa.text("INSERT INTO t_child (id, name, parent_id) VALUES (1, 'a', 1)"))
    cases = {
        "unknown_reference": "INSERT INTO t_child (id, name, parent_id) VALUES (2, 'b', 99999)",
        "already_exists": "INSERT INTO t_child (id, name) VALUES (3, 'a')",
        "missing_value": "INSERT INTO t_child (id, name) VALUES (4, NULL)",
    }
    for code, sql in cases.items():
        exc = fails(sql)
        assert isinstance(exc, sa.exc.IntegrityError) and integrity_error(exc).code == code, (code, exc)
    exc = fails("INSERT INTO t_parent (id) VALUES (:big)", big=2**63)
    assert data_error(exc).code == "out_of_range", exc


def test_patch_null_on_a_call_is_4xx_not_500(client, world):
    from tests.calls.conftest import call_body

    firm, officer = world.member(OrgKind.enterprise), world.bureau(Role.programme_officer)
    call = client.post("/api/v1/calls", json=call_body(), headers=firm.headers).json()
    for field in ("title", "problem"):
        r = client.patch(f"/api/v1/calls/{call['id']}", json={field: None}, headers=officer.headers)
        assert 400 <= r.status_code < 500, r.text
        assert r.json()["error"]["code"] in ("missing_value", "null_not_allowed", "invalid_state"), r.text

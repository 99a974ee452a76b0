"""Demo content: enough distinct, valid listings across every field, the same every time."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal

import pytest

from market.core.identifiers import check_credit_code, check_patent_number, check_region_code
from market.core.vocab import OrgKind, TechnicalField, is_enterprise_entity, is_known_entity_type, is_research_entity
from market.demo.generator import NEGOTIABLE, demo_listings, patent_number
from market.demo.orgs import demo_orgs
from market.listings.schemas import AchievementIn, DemandIn

TODAY = dt.date(2025, 3, 1)


@pytest.fixture(scope="module")
def orgs():
    return demo_orgs()


@pytest.fixture(scope="module")
def specs(orgs):
    return demo_listings(orgs, count=320, today=TODAY)


@pytest.mark.parametrize(
    ("year", "type_digit", "serial", "expected"),
    [(2017, "1", 601862, "ZL201710601862.3"), (2003, "1", 1, None), (2024, "2", 9999999, None)],
)
def test_patent_numbers_carry_the_cnipa_check_char(year, type_digit, serial, expected):
    number = patent_number(year, type_digit, serial)
    if expected:
        assert number == expected
    parsed = check_patent_number(number)
    assert parsed.year == year and number.endswith(parsed.number)


def test_organisations_have_valid_distinct_identifiers(orgs):
    assert len({o.credit_code for o in orgs}) == len(orgs) == len({o.name for o in orgs})
    for org in orgs:
        check = check_credit_code(org.credit_code)
        assert check.check_digit_ok, org
        assert org.credit_code[2:8] == check_region_code(org.region_code)
        assert is_known_entity_type(org.entity_type_code)
        if org.kind in (OrgKind.university, OrgKind.institute):
            assert is_research_entity(org.entity_type_code) and org.credit_code[:2] == "12"
        if org.kind == OrgKind.enterprise:
            assert is_enterprise_entity(org.entity_type_code) and org.credit_code[:2] == "91"
        if org.kind == OrgKind.intermediary:
            assert org.filing_level and org.filing_date


def test_organisations_span_every_kind_and_several_regions(orgs):
    kinds = Counter(o.kind for o in orgs)
    assert {OrgKind.enterprise, OrgKind.university, OrgKind.institute, OrgKind.intermediary} <= set(kinds)
    regions = {o.region_code for o in orgs}
    assert sum(r.startswith("3302") for r in regions) >= 8
    assert {"330100", "310115", "320500"} <= regions
    assert {"150", "160", "170", "021", "022"} <= {o.entity_type_code for o in orgs}


def test_three_hundred_distinct_listings_across_all_eleven_fields(specs):
    assert len(specs) == 320
    assert len({s.data["title"] for s in specs}) == 320
    texts = [s.data.get("summary") or s.data["description"] for s in specs]
    assert len(set(texts)) == 320
    fields = Counter(s.data["technical_field"] for s in specs)
    assert set(fields) == set(TechnicalField)
    assert min(fields.values()) >= 20  # spread evenly, not one field padding the count
    kinds = Counter(s.kind for s in specs)
    assert kinds["achievement"] >= 150 and kinds["demand"] >= 100


def test_every_listing_passes_the_api_input_schema(specs):
    for spec in specs:
        model = {"achievement": AchievementIn, "demand": DemandIn}[spec.kind]
        parsed = model.model_validate(spec.data)
        assert parsed.title == spec.data["title"]


def test_listings_read_as_chinese_postings_with_real_parameters(specs):
    for spec in specs:
        text = spec.data.get("summary") or spec.data["description"]
        han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
        assert han >= 80, text  # prose, not a stub
        # Carries measurable indicators: "主要技术指标：能量密度≥280Wh/kg；…" or "具体要求：1. …".
        indicators = text.split("主要技术指标：" if spec.kind == "achievement" else "具体要求：")[1]
        assert re.search(r"\d", indicators.split("。")[0]), text


def test_who_posts_what(specs, orgs):
    by_key = {o.key: o for o in orgs}
    for spec in specs:
        org = by_key[spec.org_key]
        assert spec.data["region_code"] == org.region_code
        if spec.kind == "demand":
            assert org.kind == OrgKind.enterprise
        else:
            assert org.kind in (OrgKind.university, OrgKind.institute, OrgKind.enterprise)
        assert spec.data["technical_field"] in org.fields
    holders = Counter(by_key[s.org_key].kind for s in specs if s.kind == "achievement")
    assert holders[OrgKind.university] and holders[OrgKind.institute] and holders[OrgKind.enterprise]
    assert not any(by_key[s.org_key].kind == OrgKind.intermediary for s in specs)


def test_prices_states_patents_and_deadlines_vary(specs):
    achievements = [s.data for s in specs if s.kind == "achievement"]
    demands = [s.data for s in specs if s.kind == "demand"]
    prices = [a["asking_price"] for a in achievements]
    assert NEGOTIABLE in prices and any(isinstance(p, Decimal) for p in prices)
    assert not any(isinstance(p, float) for p in prices + [d["budget"] for d in demands])
    assert NEGOTIABLE in [d["budget"] for d in demands]
    patents = [n for a in achievements for n in a["patent_numbers"]]
    assert len(patents) >= 50 and len(set(patents)) == len(patents)
    for number in patents:
        check_patent_number(number)
    assert len({a["maturity"] for a in achievements}) == 5
    assert {None} < {a["trl"] for a in achievements}
    assert all(d["deadline"] is None or d["deadline"] > TODAY for d in demands)
    assert len({d["deadline"] for d in demands}) > 50
    states = Counter(s.final_state for s in specs)
    assert states["published"] > 0.8 * len(specs)
    assert states["draft"] and states["closed"] and states["withdrawn"]
    assert any(a["recognitions"] for a in achievements)


def test_deterministic_for_a_seed(orgs):
    assert demo_listings(orgs, count=40, today=TODAY) == demo_listings(orgs, count=40, today=TODAY)
    assert demo_orgs() == orgs
    assert demo_listings(orgs, count=40, seed=1, today=TODAY) != demo_listings(orgs, count=40, today=TODAY)


def test_asking_for_more_than_the_banks_hold_is_refused(orgs):
    with pytest.raises(ValueError, match="content banks hold only"):
        demo_listings(orgs, count=2000, today=TODAY)

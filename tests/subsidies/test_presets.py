"""Every preset against a hand-worked example (amounts worked out on paper, in the comments)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from market.subsidies.calculator import History, Party, Period, Recognition, compute
from market.subsidies.presets import all_presets, preset
from tests.subsidies.helpers import (
    CITY_BROKER,
    FIRM,
    FIRM_2,
    INSTITUTE,
    OUTSIDE_FIRM,
    PROVINCIAL_BROKER,
    UNI,
    fact,
)

Y2024 = Period.year(2024)


def paid_by_contract(result):
    return {c.contract_id: (c.amount, c.contract_cap_cut, c.year_cap_cut) for c in result.contributions}


def reasons(result):
    return {e.contract_id: e.reason for e in result.exclusions}


def test_every_table_row_is_a_preset_with_a_unique_code():
    codes = [p.code for p in all_presets()]
    # DOMAIN.md's table (the SME's voucher share is the programme's), the 1:1 award match, broker and commissioner.
    assert len(codes) == len(set(codes)) == 13
    assert {p.source.split(" ")[0] for p in all_presets()} >= {
        "聊城市人民政府办公室",
        "科技创新跃升计划实施方案",
        "宁波市科技局",
    }


def test_seller_development_transfer_1_5_percent_of_the_year_cap_500k():
    # 10,000,000 → 150,000; +20,000,000 → 300,000 (450,000); +8,000,000 → 120,000, cap leaves 50,000.
    a = fact(10_000_000, type="transfer", on=dt.date(2024, 3, 1))
    b = fact(20_000_000, type="development", on=dt.date(2024, 6, 1))
    c = fact(8_000_000, type="license", on=dt.date(2024, 9, 1))
    consulting = fact(1_000_000, type="consulting")  # another preset's business
    outside = fact(1_000_000, seller=Party("上海大学", org_id=1, entity_type="022", region="310000"))
    out = compute(preset("lc2020-seller-development-transfer"), [a, b, c, consulting, outside], Y2024)
    r = out.by_key()["org:9001"]
    assert paid_by_contract(r) == {
        a.contract_id: (D("150000.00"), 0, 0),
        b.contract_id: (D("300000.00"), 0, 0),
        c.contract_id: (D("120000.00"), 0, D("70000.00")),
    }
    assert r.before_caps == D("570000.00") and r.year_cap_cut == D("70000.00") and r.total == D("500000.00")
    assert reasons(out.by_key()["org:1"]) == {outside.contract_id: "seller_region"}
    assert out.out_of_scope == 1


def test_seller_consulting_service_1_permille_cap_200k():
    # 123,456,789 × 1‰ = 123,456.789 → 123,456.79; running 223,456,789 → 223,456.79, so the second adds 100,000.00;
    # cap 200,000 cuts 23,456.79 off the second.
    a = fact("123456789.00", type="consulting", on=dt.date(2024, 2, 1))
    b = fact(100_000_000, type="service", on=dt.date(2024, 4, 1))
    r = compute(preset("lc2020-seller-consulting-service"), [a, b], Y2024).by_key()["org:9001"]
    assert paid_by_contract(r) == {
        a.contract_id: (D("123456.79"), 0, 0),
        b.contract_id: (D("100000.00"), 0, D("23456.79")),
    }
    assert r.total == D("200000.00")


def test_city_intermediary_needs_3m_of_in_city_deals_then_1_5_percent():
    # broker 1: 2,000,000 + 1,500,000 in the city = 3,500,000 ≥ 3,000,000 → 52,500; the Shanghai deal does not count.
    a = fact(2_000_000, intermediary=CITY_BROKER)
    b = fact(1_500_000, intermediary=CITY_BROKER, type="service")
    shanghai = fact(5_000_000, intermediary=CITY_BROKER, buyer=OUTSIDE_FIRM)
    small_broker = Party("小机构", org_id=9310, entity_type="150", region="330201", filing_level="city")
    small = fact(2_900_000, intermediary=small_broker)
    provincial = fact(9_000_000, intermediary=PROVINCIAL_BROKER)
    out = compute(preset("lc2020-intermediary-city"), [a, b, shanghai, small, provincial], Y2024).by_key()
    assert out["org:9301"].total == D("52500.00")
    assert reasons(out["org:9301"]) == {shanghai.contract_id: "buyer_region"}
    assert out["org:9310"].total == 0 and reasons(out["org:9310"]) == {small.contract_id: "below_annual_threshold"}
    assert reasons(out["org:9302"]) == {provincial.contract_id: "intermediary_filing_level"}


def test_intermediary_recognition_pays_once_national_1m_provincial_500k():
    national = Party("新国家级机构", org_id=9401, entity_type="150", region="330201")
    provincial = Party("新省级机构", org_id=9402, entity_type="150", region="330201")
    old = Party("去年认定", org_id=9403, entity_type="150", region="330201")
    paid_before = Party("已奖励", org_id=9404, entity_type="150", region="330201")
    recognitions = [
        Recognition(national, "national", dt.date(2024, 5, 1)),
        Recognition(provincial, "provincial", dt.date(2024, 7, 1)),
        Recognition(old, "national", dt.date(2023, 7, 1)),
        Recognition(paid_before, "national", dt.date(2024, 1, 5)),
    ]
    history = History(awarded=frozenset({("org:9404", "national")}))
    contract = fact(50_000_000, intermediary=national)  # contracts earn nothing under this policy
    out = compute(preset("lc2020-intermediary-recognition"), [contract], Y2024, history, recognitions).by_key()
    assert out["org:9401"].total == D("1000000.00") and out["org:9401"].contributions == ()
    assert out["org:9402"].total == D("500000.00")
    assert out["org:9403"].total == 0 and out["org:9404"].total == 0


def test_voucher_provider_5_percent_cap_500k_a_year():
    provider = Party("检测服务机构", org_id=9501, entity_type="150", region="330205")
    a = fact(4_000_000, type="service", seller=provider, voucher_eligible=True, on=dt.date(2024, 1, 10))
    b = fact(8_000_000, type="service", seller=provider, voucher_eligible=True, on=dt.date(2024, 2, 10))
    no_voucher = fact(1_000_000, type="service", seller=provider)
    out = compute(preset("lc2020-voucher-provider"), [a, b, no_voucher], Y2024)
    r = out.by_key()["org:9501"]
    # 200,000 + 400,000 = 600,000, capped at 500,000.
    assert paid_by_contract(r) == {
        a.contract_id: (D("200000.00"), 0, 0),
        b.contract_id: (D("400000.00"), 0, D("100000.00")),
    }
    assert r.total == D("500000.00") and reasons(r) == {} and out.out_of_scope == 1  # not a voucher contract


def test_the_sme_city_share_is_no_preset_any_more():
    # The voucher programme pays the firm's 60 % + 30 % with the reimbursement: a preset paying it again is gone.
    assert "lc2020-voucher-sme" not in {p.code for p in all_presets()}
    assert not [
        p for p in all_presets() if p.beneficiary == "buyer" and "voucher_eligible" in (p.required_flags_any or ())
    ]


def test_buyer_first_of_kind_10_percent_of_paid_cap_1m_per_contract():
    a = fact(5_000_000, paid=3_000_000, first_set=True)
    b = fact(20_000_000, paid=15_000_000, domestic_first=True)
    plain = fact(1_000_000)
    out = compute(preset("s000-buyer-first-of-kind"), [a, b, plain], Y2024)
    r = out.by_key()["org:9101"]
    # 300,000 + 1,500,000 capped to 1,000,000 = 1,300,000.
    assert paid_by_contract(r) == {
        a.contract_id: (D("300000.00"), 0, 0),
        b.contract_id: (D("1500000.00"), D("500000.00"), 0),
    }
    assert r.total == D("1300000.00") and reasons(r) == {} and out.out_of_scope == 1


def test_transfer_centre_10_percent_of_performed_amount_cap_200k_per_contract():
    centre = Party("技术转移中心", org_id=9601, entity_type="150", region="330201")
    a = fact(2_000_000, paid="1234567.89", seller=UNI, buyer=FIRM, intermediary=centre)
    b = fact(5_000_000, paid=3_000_000, seller=INSTITUTE, buyer=FIRM_2, intermediary=centre)
    firm_seller = fact(1_000_000, seller=FIRM_2, buyer=FIRM, intermediary=centre)
    r = compute(preset("s000-transfer-centre"), [a, b, firm_seller], Y2024).by_key()["org:9601"]
    # 123,456.789 → 123,456.79; 300,000 capped at 200,000.
    assert paid_by_contract(r) == {
        a.contract_id: (D("123456.79"), 0, 0),
        b.contract_id: (D("300000.00"), D("100000.00"), 0),
    }
    assert r.total == D("323456.79") and reasons(r) == {firm_seller.contract_id: "seller_entity_type"}


def test_ningbo_intermediary_marginal_1_5_then_1_percent_cap_300k():
    a = fact(9_000_000, technical=6_000_000, intermediary=CITY_BROKER, on=dt.date(2024, 1, 1))
    b = fact(7_000_000, intermediary=CITY_BROKER, on=dt.date(2024, 2, 1))
    c = fact(20_000_000, intermediary=CITY_BROKER, on=dt.date(2024, 3, 1))
    r = compute(preset("nb2014-intermediary"), [a, b, c], Y2024).by_key()["org:9301"]
    # a: 6M × 1.5 % = 90,000; b: 4M × 1.5 % + 3M × 1 % = 90,000; c: 20M × 1 % = 200,000 → 380,000, cap 300,000.
    assert paid_by_contract(r) == {
        a.contract_id: (D("90000.00"), 0, 0),
        b.contract_id: (D("90000.00"), 0, 0),
        c.contract_id: (D("200000.00"), 0, D("80000.00")),
    }
    b_pieces = next(x for x in r.contributions if x.contract_id == b.contract_id).pieces
    assert [(p.lower, p.upper, p.rate) for p in b_pieces] == [
        (D("6000000"), D("10000000"), D("0.015")),
        (D("10000000"), D("13000000"), D("0.010")),
    ]
    assert r.total == D("300000.00")


def test_ningbo_local_research_result_seller_5_percent_buyer_10_percent():
    big = fact(60_000_000, technical=50_000_000, seller=UNI, buyer=FIRM)
    small = fact(1_000_000, seller=UNI, buyer=FIRM, type="license")
    to_shanghai = fact(1_000_000, seller=UNI, buyer=OUTSIDE_FIRM)
    firm_seller = fact(1_000_000, seller=FIRM_2, buyer=FIRM)
    facts = [big, small, to_shanghai, firm_seller]
    seller = compute(preset("nb2014-seller"), facts, Y2024).by_key()
    # 50M × 5 % = 2.5M capped at 2M; 1M × 5 % = 50,000.
    assert seller["org:9001"].total == D("2050000.00")
    assert reasons(seller["org:9001"]) == {to_shanghai.contract_id: "buyer_region"}
    assert reasons(seller["org:9102"]) == {firm_seller.contract_id: "seller_entity_type"}
    buyer = compute(preset("nb2014-buyer"), facts, Y2024).by_key()
    # 50M × 10 % = 5M capped at 4M; 1M × 10 % = 100,000.
    assert buyer["org:9101"].total == D("4100000.00")
    assert buyer["org:9101"].contract_cap_cut == D("1000000.00")

"""Preset policies: every row of DOMAIN.md's subsidy table as data, with exactly its numbers.

Each preset carries the jurisdiction it was written for (a region-code prefix): 聊城's rules are
聊城's ("3715"), 宁波's are 宁波's ("3302"); seed 000 is a model text naming no city, so it is
written for the deploying city. A deployment enables only its own city's presets; another city's
rules are applied only after the bureau adopts them (`adopted`: a new version for its own city).
Where the source text leaves a point open, the choice is written next to the policy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal as D

from market.subsidies.calculator import Aggregation, Basis, Beneficiary, Bracket, OneOffAward, Policy
from market.subsidies.sources import COMMISSIONER_AWARD, PROVINCIAL_AWARD, VOUCHER_SERVICE

SEED_004 = "聊城市人民政府办公室 聊政字〔2020〕15号 (seed 004)"
SEED_000 = "科技创新跃升计划实施方案 篇二 (seed 000)"
NINGBO_2014 = "宁波市科技局 甬科计〔2014〕49号"
LIAOCHENG = "3715"  # 聊城市 371500
NINGBO = "3302"  # 宁波市 330200


def flat(rate: str) -> tuple[Bracket, ...]:
    return (Bracket(D(rate)),)


def all_presets(jurisdiction: str = NINGBO) -> list[Policy]:
    """The shipped presets as written, in the order of the table in DOMAIN.md (`jurisdiction`: the deploying city)."""
    lc, nb, local = (LIAOCHENG,), (NINGBO,), (jurisdiction,)
    lc_from = dt.date(2020, 5, 14)  # 聊政字〔2020〕15号, issued 2020-05-14, no end date
    s000_from, s000_until = dt.date(2023, 1, 1), dt.date(2026, 12, 31)  # the plan runs to 2026
    nb_from = dt.date(2014, 1, 1)
    return [
        # seed 004 §4(1): per year, on the seller's registered 成交额 of the year.
        Policy(
            code="lc2020-seller-development-transfer",
            jurisdiction=lc[0],
            name="技术开发/转让(许可)合同卖方补助",
            beneficiary=Beneficiary.seller,
            basis=Basis.total,
            aggregation=Aggregation.per_year,
            brackets=flat("0.015"),
            contract_types=frozenset({"development", "transfer", "license"}),
            seller_regions=lc,
            cap_per_year=D("500000"),
            valid_from=lc_from,
            source=SEED_004 + " 四(一)",
            description="经认定登记的技术开发、转让合同，按年度技术合同成交额不超过1.5%补助，最高50万元；同一项技术转移活动仅补助一次；多次转让仅就增值部分补助。",
        ),
        Policy(
            code="lc2020-seller-consulting-service",
            jurisdiction=lc[0],
            name="技术咨询/服务合同卖方补助",
            beneficiary=Beneficiary.seller,
            basis=Basis.total,
            aggregation=Aggregation.per_year,
            brackets=flat("0.001"),
            contract_types=frozenset({"consulting", "service"}),
            seller_regions=lc,
            cap_per_year=D("200000"),
            valid_from=lc_from,
            source=SEED_004 + " 四(一)",
            description="经认定登记的技术咨询、服务合同，按年度技术合同成交额不超过1‰补助，最高20万元。",
        ),
        # seed 004 §4(2): a city-filed intermediary whose brokered deals were transformed in the city.
        Policy(
            code="lc2020-intermediary-city",
            jurisdiction=lc[0],
            name="市级技术转移服务机构补助",
            beneficiary=Beneficiary.intermediary,
            basis=Basis.total,
            aggregation=Aggregation.per_year,
            brackets=flat("0.015"),
            intermediary_filing_levels=frozenset({"city"}),
            intermediary_regions=lc,
            buyer_regions=lc,  # 促成科技成果在市内转化: the buyer takes it up in the city
            min_annual_basis=D("3000000"),
            cap_per_year=D("500000"),
            valid_from=lc_from,
            source=SEED_004 + " 四(二)",
            description="备案为市级技术转移服务机构，促成科技成果在市内转化、年度技术合同成交额300万元以上，按1.5%补助，最高50万元。",
        ),
        # seed 004 §4(2), one-off part: kept apart so the annual cap above stays a plain cap.
        Policy(
            code="lc2020-intermediary-recognition",
            jurisdiction=lc[0],
            name="新增国家级/省级技术转移机构一次性补助",
            beneficiary=Beneficiary.intermediary,
            contract_types=frozenset(),  # pays on recognition, not on contracts
            intermediary_regions=lc,
            one_off_awards=(
                OneOffAward("national", D("1000000"), "新增国家级技术转移机构"),
                OneOffAward("provincial", D("500000"), "备案为省级技术转移服务机构"),
            ),
            valid_from=lc_from,
            source=SEED_004 + " 四(二)",
            description="新增国家级技术转移机构一次性最高100万元；备案为省级的最高50万元。",
        ),
        # seed 004 §5(3): 创新券 — the service provider's post-subsidy, and the city's share for the SME.
        Policy(
            code="lc2020-voucher-provider",
            jurisdiction=lc[0],
            name="创新券服务机构后补助",
            beneficiary=Beneficiary.service_provider,
            basis=Basis.total,
            aggregation=Aggregation.per_year,
            brackets=flat("0.05"),
            # Redemptions (market/vouchers) and registered service contracts the bureau marked as voucher-funded.
            contract_types=frozenset({"service", VOUCHER_SERVICE}),
            required_flags_any=frozenset({"voucher_eligible"}),
            seller_regions=lc,
            cap_per_year=D("500000"),
            valid_from=lc_from,
            source=SEED_004 + " 五(三)",
            description="对市内科技服务机构按兑现条件服务合同额的5%给予后补助，同一服务机构年获补助总额不超过50万元。",
        ),
        # seed 004 §5(3), second sentence: 对获得省服务绩效奖励的，市财政给予1∶1配套奖励 — rate 1 on each award.
        Policy(
            code="lc2020-voucher-provider-award-match",
            jurisdiction=lc[0],
            name="创新券服务机构省绩效奖励市级1:1配套",
            beneficiary=Beneficiary.service_provider,
            basis=Basis.total,
            aggregation=Aggregation.per_contract,
            brackets=flat("1"),
            contract_types=frozenset({PROVINCIAL_AWARD}),
            seller_regions=lc,
            value_added_only=False,
            valid_from=lc_from,
            source=SEED_004 + " 五(三)",
            description="对获得省服务绩效奖励的科技服务机构，市财政给予1∶1配套奖励。",
        ),
        # The SME's city 30 % (lc2020-voucher-sme) is no longer a preset: the voucher programme pays it with the
        # reimbursement (market/vouchers, split by the programme's shares); a policy paying it again is refused.
        # seed 000 篇二 §6: the cap is read as per contract (the text caps each supported result).
        Policy(
            code="s000-buyer-first-of-kind",
            jurisdiction=local[0],
            name="国内首创/首台(套)成果引进转化补助",
            beneficiary=Beneficiary.buyer,
            basis=Basis.paid,
            aggregation=Aggregation.per_contract,
            brackets=flat("0.10"),
            buyer_entity_types=frozenset({"enterprise"}),
            buyer_regions=local,
            required_flags_any=frozenset({"domestic_first", "first_set"}),
            cap_per_contract=D("1000000"),
            source=SEED_000 + " 6",
            description="企业引进转化应用的科技成果，经认定为国内首创、首台(套)的，按企业对成果支付的技术合同交易额的10%补助，最高100万元。",
            valid_from=s000_from,
            valid_until=s000_until,
        ),
        # seed 000 篇二 §8.
        Policy(
            code="s000-transfer-centre",
            jurisdiction=local[0],
            name="技术转移中心促成校地合作奖励",
            beneficiary=Beneficiary.intermediary,
            basis=Basis.paid,
            aggregation=Aggregation.per_contract,
            brackets=flat("0.10"),
            seller_entity_types=frozenset({"research"}),
            buyer_entity_types=frozenset({"enterprise"}),
            buyer_regions=local,
            cap_per_contract=D("200000"),
            source=SEED_000 + " 8",
            description="技术转移中心促成高校、科研院所与本市企业签订的技术合作，按实际履行金额的10%奖励，单个合同最高20万元。",
            valid_from=s000_from,
            valid_until=s000_until,
        ),
        # 甬科计〔2014〕49号: marginal brackets on the year's brokered 技术交易额.
        Policy(
            code="nb2014-intermediary",
            jurisdiction=nb[0],
            name="技术转移服务机构促成交易补助",
            beneficiary=Beneficiary.intermediary,
            basis=Basis.technical,
            aggregation=Aggregation.per_year,
            brackets=(Bracket(D("0.015"), D("10000000")), Bracket(D("0.010"))),
            intermediary_regions=nb,
            cap_per_year=D("300000"),
            valid_from=nb_from,
            source=NINGBO_2014,
            description="按年度促成的技术交易额1000万元以内1.5%、超过部分1.0%补助，最高30万元。",
        ),
        # 甬科计〔2014〕49号: a local university / institute result taken up locally; caps per contract.
        Policy(
            code="nb2014-seller",
            jurisdiction=nb[0],
            name="本市高校院所成果在甬转化(转让方)",
            beneficiary=Beneficiary.seller,
            basis=Basis.technical,
            aggregation=Aggregation.per_contract,
            brackets=flat("0.05"),
            contract_types=frozenset({"transfer", "license"}),
            seller_entity_types=frozenset({"research"}),
            seller_regions=nb,
            buyer_regions=nb,
            cap_per_contract=D("2000000"),
            valid_from=nb_from,
            source=NINGBO_2014,
            description="本市高校、科研院所科技成果在本市转化的，给予成果转让方技术交易额5%补助，最高200万元。",
        ),
        Policy(
            code="nb2014-buyer",
            jurisdiction=nb[0],
            name="本市高校院所成果在甬转化(受让方)",
            beneficiary=Beneficiary.buyer,
            basis=Basis.technical,
            aggregation=Aggregation.per_contract,
            brackets=flat("0.10"),
            contract_types=frozenset({"transfer", "license"}),
            seller_entity_types=frozenset({"research"}),
            seller_regions=nb,
            buyer_regions=nb,
            cap_per_contract=D("4000000"),
            valid_from=nb_from,
            source=NINGBO_2014,
            description="本市高校、科研院所科技成果在本市转化的，给予受让方技术交易额10%补助，最高400万元。",
        ),
        # seed 004 §4(2) names brokering; the rate and caps are the bureau's to set: shipped off (OFF_BY_DEFAULT),
        # the bureau's first edit (a version with its figures) turns it on. Paid through the employing intermediary.
        Policy(
            code="broker-reward",
            jurisdiction=local[0],
            name="技术经纪人促成交易奖励",
            beneficiary=Beneficiary.broker,
            basis=Basis.technical,
            aggregation=Aggregation.per_contract,
            brackets=flat("0.015"),
            intermediary_regions=local,
            cap_per_contract=D("30000"),
            cap_per_year=D("100000"),
            source="seed 004 四(二)",
            description="登记技术合同上经确认的技术经纪人，按技术交易额1.5%奖励，单个合同最高3万元，每人每年最高10万元，经签约之日所在中介机构发放。",
        ),
        # seed 004 §3(3): the commissioner programme decides each award (market/commissioners, four eyes); the run
        # pays the approved amount as it stands (rate 1), with its working.
        Policy(
            code="commissioner-awards",
            jurisdiction=local[0],
            name="科技特派员年度评选奖励",
            beneficiary=Beneficiary.seller,
            basis=Basis.total,
            aggregation=Aggregation.per_contract,
            brackets=flat("1"),
            contract_types=frozenset({COMMISSIONER_AWARD}),
            value_added_only=False,
            source=SEED_004 + " 三(三)",
            description="示范基地(项目)10万元、优秀科技特派员2万元、先进个人1万元；星创天地一次性20万元；省级后补助1∶1配套。",
        ),
    ]


# Shipped presets installed inactive even for their own city: their figures are the bureau's to confirm.
OFF_BY_DEFAULT = frozenset({"broker-reward"})
# Presets no longer shipped; a deployment that installed or adopted one has it switched off (migration 0019).
RETIRED = {"lc2020-voucher-sme": "the voucher programme pays the city's 30 % with the reimbursement"}


def adopted(policy: Policy, jurisdiction: str) -> Policy:
    """The policy as a bureau adopts it for its own city: its jurisdiction, and its region criteria, become that city's."""

    def swap(regions: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if regions is None else tuple(jurisdiction if r == policy.jurisdiction else r for r in regions)

    return dataclasses.replace(
        policy,
        jurisdiction=jurisdiction,
        seller_regions=swap(policy.seller_regions),
        buyer_regions=swap(policy.buyer_regions),
        intermediary_regions=swap(policy.intermediary_regions),
    )


def preset(code: str, jurisdiction: str = NINGBO) -> Policy:
    """A preset as `jurisdiction` would run it (adopted when it was written for another city)."""
    for p in all_presets(jurisdiction):
        if p.code == code:
            return p if p.jurisdiction == jurisdiction else adopted(p, jurisdiction)
    raise KeyError(code)

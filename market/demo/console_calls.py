"""Demo data for the officer's and the bureau admin's console pages: open calls at several stages, with bids,
experts and scores, and a subsidy run taken through review, approval and freezing.

Everything goes through the flows and services the API uses (audited like any other change). The calls are
dated in the past, so their deadlines and notice periods are over when the demo starts: the officer finds a
problem to vet, a call under review, and one whose notice has ended, ready to award.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from market.accounts import service as accounts
from market.accounts.models import Organisation, User
from market.accounts.roles import Role
from market.calls import flows
from market.calls.models import Bid, ReviewAssignment
from market.calls.schemas import BidIn, CallProposal
from market.core.db import after_commit, session_scope, utcnow
from market.core.deps import Actor
from market.core.vocab import OrgKind, TechnicalField

log = logging.getLogger(__name__)

FIELD = TechnicalField.new_energy
CRITERIA = [{"name": "技术方案", "weight": 50}, {"name": "团队实力", "weight": 30}, {"name": "报价", "weight": 20}]
# Each expert's scores per bid, by criterion; the third expert disagrees with the others on the second bid.
SCORES = [
    [{"技术方案": 88, "团队实力": 80, "报价": 85}, {"技术方案": 72, "团队实力": 75, "报价": 80}],
    [{"技术方案": 85, "团队实力": 82, "报价": 80}, {"技术方案": 70, "团队实力": 70, "报价": 78}],
    [{"技术方案": 90, "团队实力": 86, "报价": 88}, {"技术方案": 35, "团队实力": 40, "报价": 50}],
]
EXPERTS = (("demo-expert-1", "王评审"), ("demo-expert-2", "李评审"), ("demo-expert-3", "陈评审"))
OFFICER = ("demo-officer", "赵主管")
REVIEWER = ("demo-subsidy-reviewer", "孙复核")


def _call(title: str, problem: str, posing_org_id: int, deadline: dt.datetime) -> dict[str, Any]:
    """A call's terms through the API's own input schema (demo data passes the checks a client's would)."""
    body: dict[str, Any] = {
        "kind": "solve",
        "title": title,
        "problem": problem,
        "technical_field": str(FIELD),
        "indicators": [
            {"name": "能量密度", "target": "≥ 350", "unit": "Wh/kg"},
            {"name": "循环寿命", "target": "≥ 1000 次"},
        ],
        "total_amount": "5000000.00",
        "gov_support_ratio_pct": 30,
        "gov_support_cap": "1000000.00",
        "duration_months": 24,
        "bid_deadline": deadline,
        "review_criteria": [dict(c) for c in CRITERIA],
        "experts_per_bid": 3,
        "notice_days": 5,
        "winners_count": 1,
        "eligible_entity_types": [],
        "eligible_regions": [],
        "consortium_allowed": True,
        "first_tranche_pct": 60,
        "posing_org_id": posing_org_id,
    }
    return CallProposal.model_validate(body).data()


def _bid(leader: str, price: str) -> dict[str, Any]:
    return BidIn.model_validate(
        {
            "member_org_ids": [],
            "team_leader": leader,
            "plan": "采用硫化物固态电解质体系，分小试、中试、验收三阶段实施。",
            "promised_indicators": [{"name": "能量密度", "target": "360", "unit": "Wh/kg"}],
            "price": price,
            "milestones": [
                {"title": "小试", "deliverable": "样品与测试报告", "due_month": 8, "payment_share_pct": 30},
                {"title": "中试", "deliverable": "中试线与报告", "due_month": 16, "payment_share_pct": 30},
                {"title": "验收", "deliverable": "验收报告", "due_month": 24, "payment_share_pct": 40},
            ],
        }
    ).data()


def _user(session: Session, org: Organisation, username: str, name: str, role: Role, **kw: Any) -> Actor:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        user = accounts.create_user(
            session, org=org, username=username, password=None, display_name=name, role=role, **kw
        )
    return accounts.actor_for_user(session, user, org)


def _org_admin(session: Session, org: Organisation) -> Actor:
    user = session.scalar(sa.select(User).where(User.org_id == org.id, User.role == Role.org_admin).order_by(User.id))
    if user is None:
        return _user(session, org, f"demo-console-{org.id}", f"{org.name}管理员", Role.org_admin)
    return accounts.actor_for_user(session, user, org)


def _reviewed_call(
    session: Session,
    officer: Actor,
    experts: list[Actor],
    firm: Organisation,
    bidders: list[Organisation],
    title: str,
    start: dt.datetime,
    *,
    scored: int,
) -> int:
    """A call published at `start`, bid on, closed, checked and under review with `scored` experts' scores in."""
    deadline = start + dt.timedelta(days=20)
    call = flows.propose_call(
        session, officer, _call(title, f"{title}：面向产业化的关键技术攻关。", firm.id, deadline), now=start
    )
    flows.vet_call(session, officer, call, approve=True, note="问题清晰，指标可测")
    flows.publish_call(session, officer, call, now=start)
    leaders = ("张教授", "刘研究员", "周博士")
    for i, org in enumerate(bidders):
        flows.submit_bid(
            session, _org_admin(session, org), call.id, _bid(leaders[i % 3], f"{4_600_000 + 100_000 * i}.00"), now=start
        )
    flows.close_bidding(session, call.id, officer, now=deadline)
    bids = list(session.scalars(sa.select(Bid).where(Bid.call_id == call.id).order_by(Bid.id)))
    for bid in bids:
        flows.formal_check(session, officer, bid, passed=True, reason=None, now=deadline)
    flows.start_review(session, officer, call.id, now=deadline + dt.timedelta(days=1))
    for n, expert in enumerate(experts[:scored]):
        for k, bid in enumerate(bids):
            mine = session.scalar(
                sa.select(ReviewAssignment.id).where(
                    ReviewAssignment.bid_id == bid.id, ReviewAssignment.expert_user_id == expert.user_id
                )
            )
            if mine is not None:
                flows.submit_scores(
                    session, expert, bid, SCORES[n][k % 2], comment=None, now=deadline + dt.timedelta(days=3)
                )
    return call.id


def load_console_calls(session: Session, *, today: dt.date | None = None) -> dict[str, int]:
    """Open calls at three stages and a frozen subsidy run (computed once the loader's transaction commits)."""
    now = utcnow() if today is None else dt.datetime.combine(today, dt.time(9), tzinfo=dt.UTC)
    bureau = accounts.ensure_bureau(session, name="科技局", region_code="330200", credit_code=None)
    officer = _user(session, bureau, *OFFICER, Role.programme_officer)
    verified = sa.select(Organisation).where(Organisation.verification_status == "verified").order_by(Organisation.id)
    firms = list(session.scalars(verified.where(Organisation.kind == OrgKind.enterprise)).all())
    labs = list(session.scalars(verified.where(Organisation.kind.in_((OrgKind.university, OrgKind.institute)))).all())
    if len(firms) < 2 or len(labs) < 5:
        return {"calls": 0}
    experts = [
        _user(session, firms[-1 - i], username, name, Role.expert, expert_fields=[str(FIELD)])
        for i, (username, name) in enumerate(EXPERTS)
    ]
    # A problem posed by a firm, waiting to be vetted.
    flows.propose_call(
        session,
        _org_admin(session, firms[0]),
        _call(
            "海上风电叶片在线监测",
            "叶片裂纹早期识别准确率不足，需在线监测方案。",
            firms[0].id,
            now + dt.timedelta(days=40),
        ),
        now=now,
    )
    # Under review: two of three experts have scored.
    reviewing = _reviewed_call(
        session, officer, experts, firms[0], labs[:2], "固态电池电解质攻关", now - dt.timedelta(days=30), scored=2
    )
    # Every score in, the notice over: ready to award.
    start = now - dt.timedelta(days=60)
    ready = _reviewed_call(session, officer, experts, firms[1], labs[2:5], "高比能正极材料攻关", start, scored=3)
    best = session.scalars(sa.select(Bid.id).where(Bid.call_id == ready).order_by(Bid.id)).first()
    noticed = start + dt.timedelta(days=25)
    flows.propose_winners(session, officer, ready, [best] if best else [], now=noticed)
    flows.end_notice(session, ready, officer, now=noticed + dt.timedelta(days=6))
    reviewer = _user(session, bureau, *REVIEWER, Role.programme_officer)
    after_commit(session, lambda: _finish_quietly(reviewer, now.date()))
    return {"calls": 3, "reviewing": reviewing, "awardable": ready}


def _finish_quietly(reviewer: Actor, today: dt.date) -> None:
    finish_subsidy_run(reviewer, today)


def finish_subsidy_run(reviewer: Actor, today: dt.date) -> int | None:
    """A subsidy run over the year of most registered contracts: computed, reviewed, then approved and frozen by
    a second person (four eyes). Runs after the demo's transaction has committed (the computation commits
    its own steps)."""
    from market.contracts.models import Contract
    from market.subsidies import service as subsidies
    from market.subsidies.flows import compute_run

    try:
        with session_scope() as s:
            # The year with the most registered contracts (last year when there are none yet).
            year_of = sa.extract("year", Contract.registration_date)
            busiest = s.execute(
                sa.select(year_of, sa.func.count())
                .where(Contract.status == "registered", Contract.registration_date.is_not(None))
                .group_by(year_of)
                .order_by(sa.func.count().desc(), year_of.desc())
                .limit(1)
            ).first()
            year = int(busiest[0]) if busiest else today.year - 1
            run = subsidies.create_run(
                s, reviewer, period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31), name=f"{year} 年度补助"
            )
            run_id = run.id
        compute_run(run_id)
        with session_scope() as s:
            subsidies.transition(s, reviewer, run_id, "review")
            admin = _user(
                s,
                accounts.ensure_bureau(s, name="科技局", region_code="330200", credit_code=None),
                "demo-subsidy-approver",
                "钱审批",
                Role.bureau_admin,
            )
            subsidies.transition(s, admin, run_id, "approve")
            subsidies.transition(s, admin, run_id, "freeze")
        return run_id
    except Exception:  # noqa: BLE001 - demo data is a convenience: the console works without this run
        log.exception("demo subsidy run not finished")
        return None

"""Where a subsidy run's facts come from: sources registered by the domains that hold them.

The engine pays on `ContractFact` rows. Registered technology contracts are the first source (this package
reads the contracts ledger itself); every other domain that feeds the engine — approved voucher redemptions
and provincial awards, approved commissioner awards, confirmed broker links — registers a source here from its
own package, and `market/wiring.py` wires them all at app and worker start. Dependencies run one way: the
domains import `market.subsidies`, never the reverse.

A source either adds facts (`load`) or refines the facts loaded so far (`refine`: the broker registry puts the
confirmed broker on each brokered contract). Sources are applied in registration order: loaders first, then
refiners.

Loading wires first (`ensure_wired`): a script that computes a run without having called `wire()` still sees every
source, never contracts alone. The composition root is named here by module, not imported: importing it is what
wires the domains, so this package keeps importing none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from market.subsidies.calculator import ContractFact, Period

Loader = Callable[[Session, Period], list[ContractFact]]
Refiner = Callable[[Session, list[ContractFact]], list[ContractFact]]
Cover = Callable[[Session, int], bool]  # does this domain's record already say the contract is voucher-funded?

# Fact types of sources other than contracts (no registered technology contract has them), so a policy about
# registered contracts never pays on them by accident; a policy names them to pay on them.
VOUCHER_SERVICE = "voucher_service"  # an approved voucher redemption's service contract (vouchers); not registered
PROVINCIAL_AWARD = "provincial_award"  # 省服务绩效奖励 of a voucher service provider (vouchers)
COMMISSIONER_AWARD = "commissioner_award"  # an approved 科技特派员 evaluation award (commissioners)

# Fact ids of other sources are their row ids offset into ranges no contract id reaches, so they never collide.
ID_BASES = {
    "commissioner_award": 7_000_000_000_000,
    "voucher_claim": 8_000_000_000_000,
    "provincial_award": 9_000_000_000_000,
}


@dataclass(frozen=True)
class FactSource:
    name: str
    load: Loader | None = None
    refine: Refiner | None = None


_sources: dict[str, FactSource] = {}
WIRING = "market.wiring"  # the composition root: its `wire()` registers every domain's source


def register(name: str, *, load: Loader | None = None, refine: Refiner | None = None) -> None:
    """Register (or replace, by name: registering twice is harmless) a source of facts."""
    if (load is None) == (refine is None):
        raise ValueError("a fact source either loads facts or refines them")
    _sources[name] = FactSource(name, load, refine)


_voucher_covers: dict[str, Cover] = {}


def register_voucher_cover(name: str, covers: Cover) -> None:
    """Register (by name) a check that a registered contract's voucher funding is already another record's."""
    _voucher_covers[name] = covers


def voucher_covered(session: Session, contract_id: int) -> bool:
    """Whether a registered source already pays this contract's voucher funding (the old marking must not)."""
    ensure_wired()
    return any(covers(session, contract_id) for covers in _voucher_covers.values())


def registered() -> tuple[str, ...]:
    return tuple(_sources)


def ensure_wired() -> None:
    """Register every domain's source (idempotent and cheap: `wire()` registers by name, the module is cached)."""
    importlib.import_module(WIRING).wire()


def load(session: Session, period: Period) -> list[ContractFact]:
    """Every registered source's facts for the period, refined by the refiners (wired first, whoever calls)."""
    ensure_wired()
    facts: list[ContractFact] = []
    for source in _sources.values():
        if source.load is not None:
            facts += source.load(session, period)
    for source in _sources.values():
        if source.refine is not None:
            facts = source.refine(session, facts)
    return facts

"""What the domains plug into shared engines, in one place: called once at app start and at worker start.

The subsidy engine (market.subsidies) reads facts from registered sources and never imports the domains that
feed it; each domain registers its own source here. A new domain that feeds subsidies adds one line.
"""

from __future__ import annotations

from market.brokers import subsidy as brokers
from market.commissioners import subsidy as commissioners
from market.evaluations import subsidy as evaluations
from market.subsidies import service as subsidies
from market.vouchers import subsidy as vouchers


def wire() -> None:
    """Register every domain's subsidy fact source (idempotent: sources are registered by name)."""
    subsidies.register_sources()  # contracts first
    vouchers.register()
    commissioners.register()
    brokers.register()
    evaluations.register()

"""Voucher tasks (创新券): the beat expires vouchers and delivers voucher notices to the inbox and webhooks."""

from __future__ import annotations

from market.core.db import session_scope, utcnow
from market.core.workdays import china_date
from market.vouchers import flows, notices
from workers.base import add_beat, task

QUEUE = "default"  # light, infrequent work: no queue of its own
EXPIRE = "market.vouchers.expire_due"
DELIVER_NOTICES = "market.vouchers.deliver_notices"


@task(EXPIRE, queue=QUEUE, max_retries=3)
def expire_due() -> list[int]:
    """Expire vouchers past their date; unused value returns to the budget (idempotent)."""
    with session_scope() as session:
        return flows.expire_due(session, china_date(utcnow()))


@task(DELIVER_NOTICES, queue=QUEUE, max_retries=3)
def deliver_notices() -> int:
    """Pending voucher notices → inbox entries and webhook deliveries (sent by the webhook sweep)."""
    with session_scope() as session:
        return len(notices.deliver_pending(session))


# Hourly: a voucher expires at the end of its last day; an hour late changes nothing (the booking check
# itself refuses an expired voucher at the instant).
add_beat("vouchers-expire-due", EXPIRE, 3600.0, queue=QUEUE)
add_beat("vouchers-deliver-notices", DELIVER_NOTICES, 30.0, queue=QUEUE)

"""Every task and beat entry is routed to a queue the workers actually serve."""

import yaml

from market.core.config import PROJECT_ROOT
from workers.app import QUEUES, celery_app


def test_every_market_task_is_on_a_served_queue():
    tasks = {name: t for name, t in celery_app.tasks.items() if name.startswith("market.")}
    assert tasks, "no market tasks registered"
    for name, t in tasks.items():
        assert (t.queue or "default") in QUEUES, f"{name} is routed to {t.queue}, which no worker serves"
    for entry, spec in celery_app.conf.beat_schedule.items():
        assert spec["task"] in tasks, f"beat entry {entry} names unknown task {spec['task']}"
        assert spec["options"]["queue"] in QUEUES


def test_compose_worker_serves_every_queue():
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["worker"]["command"]
    served = set(command[command.index("-Q") + 1].split(","))
    assert served == set(QUEUES)

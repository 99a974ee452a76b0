"""`python -m workers [celery worker options]`: a Celery worker with beat, serving every queue.

The embedded stack (market/stack.py) starts the worker so, by module name: `market` never imports `workers`.
"""

from __future__ import annotations

import sys

from workers.app import QUEUES, celery_app


def main(argv: list[str]) -> None:
    celery_app.worker_main(["worker", "-B", "-Q", ",".join(QUEUES), *argv])


if __name__ == "__main__":
    main(sys.argv[1:])

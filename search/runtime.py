"""Which Meilisearch the process talks to: the configured one, or one the project starts itself.

The app never holds the master key: for its own server the project creates a scoped API key
(search, documents, indexes, tasks, settings on the project's indexes) and uses that.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from market.core.config import get_settings
from search.client import MeiliClient, SearchUnavailable

APP_KEY_NAME = "market-app"
APP_KEY_ACTIONS = ["search", "documents.*", "indexes.*", "tasks.*", "settings.*"]

_lock = threading.Lock()
_client: MeiliClient | None = None
_prefix: str | None = None


def index_prefix() -> str:
    return _prefix or get_settings().meili_index_prefix


_owned = False  # the current client was made here (and is closed here when replaced)


def configure(client: MeiliClient | None, prefix: str | None = None) -> None:
    """Point this process at a client (tests, benchmarks, the embedded run); None = read the settings again."""
    global _client, _prefix, _owned
    if _client is not None and _owned and _client is not client:
        _client.close()
    _client, _prefix, _owned = client, prefix, False


def configured() -> bool:
    return _client is not None


def get_client() -> MeiliClient:
    global _client, _owned
    if _client is None:
        with _lock:
            if _client is None:
                settings = get_settings()
                if settings.meili_url:
                    client = MeiliClient(settings.meili_url, settings.meili_api_key)
                elif (running := running_server(settings.data_dir / "meilisearch")) is not None:
                    # a running stack owns that data directory: use its server, never start a second one on it
                    client = MeiliClient(running[0], scoped_key(*running, index_prefix()))
                elif _local_server is not None:
                    client = _local_server(settings.data_dir / "meilisearch")
                else:
                    raise SearchUnavailable(details=[{"reason": "MARKET_MEILI_URL is not set"}])
                _client, _owned = client, True
    return _client


# How this process starts a Meilisearch of its own when none is configured or running: starting processes is
# the market's composition (market/embedded.py), installed by market/matching/indexing.py.
_local_server: Callable[[Path], MeiliClient] | None = None


def use_local_server(start: Callable[[Path], MeiliClient]) -> None:
    global _local_server
    _local_server = start


RUNNING_FILE = "running.json"


def announce(data_dir: Path, url: str, master_key: str, pid: int) -> None:
    """Tell other processes (the CLI) which Meilisearch serves `data_dir` (the embedded stack, once it is up)."""
    import json
    import os

    path = data_dir / RUNNING_FILE
    fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "master_key": master_key, "pid": pid}, f)
    os.replace(path.with_suffix(".tmp"), path)


def withdraw(data_dir: Path) -> None:
    (data_dir / RUNNING_FILE).unlink(missing_ok=True)


def running_server(data_dir: Path) -> tuple[str, str] | None:
    """(url, master key) of the live Meilisearch a running stack announced for `data_dir`, else None.

    A stale announcement (its process gone) is ignored; a live process that does not answer is refused
    with a clear error rather than a second server started on the same data.
    """
    import json
    import os

    try:
        info = json.loads((data_dir / RUNNING_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(int(info["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError, TypeError):
        return None
    except PermissionError:
        pass  # alive, someone else's
    probe = MeiliClient(info["url"], info["master_key"], timeout=2.0)
    try:
        probe._http.get("/health").raise_for_status()
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        raise SearchUnavailable(
            f"the running market stack's Meilisearch (pid {info['pid']}, {info['url']}) does not answer; "
            f"not starting a second one on {data_dir} — restart the stack, or set MARKET_MEILI_URL"
        ) from None
    finally:
        probe.close()
    return info["url"], info["master_key"]


def scoped_key(url: str, master_key: str, prefix: str) -> str:
    """The app's key on a server we administer: reuse the existing one, or create it."""
    admin = MeiliClient(url, master_key)
    try:
        pattern = f"{prefix}_*"
        for key in admin.list_keys():
            if key.get("name") == APP_KEY_NAME and key.get("indexes") == [pattern]:
                return key["key"]
        return admin.create_key(name=APP_KEY_NAME, actions=APP_KEY_ACTIONS, indexes=[pattern])["key"]
    finally:
        admin.close()

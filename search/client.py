"""A small synchronous Meilisearch client over httpx: one pooled connection, errors mapped to MarketError."""

from __future__ import annotations

import time
from typing import Any

import httpx

from market.core.errors import MarketError, ServiceUnavailable


class SearchUnavailable(ServiceUnavailable):
    code = "search_unavailable"
    message = "搜索服务暂不可用，请稍后再试 (search is temporarily unavailable)."


class SearchError(MarketError):
    """Meilisearch refused a request (a bad filter, a failed task): our bug or bad input, not an outage."""

    status_code = 502
    code = "search_error"


class MeiliClient:
    def __init__(self, url: str, api_key: str = "", *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        # Uncompressed: Meilisearch sits next to the app, and gzip costs both sides more CPU than it saves in transfer.
        headers = {"Accept-Encoding": "identity"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.TransportError as exc:
            raise SearchUnavailable(details=[{"reason": type(exc).__name__}]) from exc
        if response.status_code >= 500:
            raise SearchUnavailable(details=[{"reason": f"meilisearch {response.status_code}"}])
        if response.status_code >= 400:
            body = _json(response)
            raise SearchError(
                body.get("message", response.text), code=f"search_{body.get('code', 'error')}".replace("-", "_")
            )
        return _json(response)

    # -- indexes and settings -------------------------------------------------------------
    def healthy(self) -> bool:
        try:
            return self._http.get("/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def get_index(self, uid: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", f"/indexes/{uid}")
        except SearchError as exc:
            if exc.code == "search_index_not_found":
                return None
            raise

    def create_index(self, uid: str, primary_key: str = "id") -> dict[str, Any]:
        return self.request("POST", "/indexes", json={"uid": uid, "primaryKey": primary_key})

    def delete_index(self, uid: str) -> dict[str, Any]:
        return self.request("DELETE", f"/indexes/{uid}")

    def get_settings(self, uid: str) -> dict[str, Any]:
        return self.request("GET", f"/indexes/{uid}/settings")

    def update_settings(self, uid: str, settings: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"/indexes/{uid}/settings", json=settings)

    def swap_indexes(self, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        return self.request("POST", "/swap-indexes", json=[{"indexes": list(p)} for p in pairs])

    # -- documents --------------------------------------------------------------------------
    def add_documents(self, uid: str, documents: list[dict[str, Any]], primary_key: str = "id") -> dict[str, Any]:
        return self.request("POST", f"/indexes/{uid}/documents", json=documents, params={"primaryKey": primary_key})

    def delete_documents(self, uid: str, ids: list[int | str]) -> dict[str, Any]:
        return self.request("POST", f"/indexes/{uid}/documents/delete-batch", json=ids)

    def get_document(self, uid: str, doc_id: int | str) -> dict[str, Any] | None:
        try:
            return self.request("GET", f"/indexes/{uid}/documents/{doc_id}")
        except SearchError as exc:
            if exc.code in ("search_document_not_found", "search_index_not_found"):
                return None
            raise

    def stats(self, uid: str) -> dict[str, Any]:
        return self.request("GET", f"/indexes/{uid}/stats")

    # -- search -------------------------------------------------------------------------------
    def search(self, uid: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", f"/indexes/{uid}/search", json=body)

    def multi_search(self, queries: list[dict[str, Any]], federation: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"queries": queries}
        if federation is not None:
            body["federation"] = federation
        return self.request("POST", "/multi-search", json=body)

    # -- tasks ----------------------------------------------------------------------------------
    def wait_task(self, task: dict[str, Any] | int, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until the task finished; a failed task raises SearchError, a timeout SearchUnavailable."""
        uid = task if isinstance(task, int) else task["taskUid"]
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            info = self.request("GET", f"/tasks/{uid}")
            if info["status"] == "succeeded":
                return info
            if info["status"] in ("failed", "canceled"):
                error = info.get("error") or {}
                raise SearchError(
                    f"Meilisearch task {uid} {info['status']}: {error.get('message', '')}",
                    code=f"search_task_{info['status']}",
                )
            if time.monotonic() > deadline:
                raise SearchUnavailable(f"Meilisearch task {uid} still {info['status']} after {timeout}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    # -- keys -----------------------------------------------------------------------------------
    def create_key(self, *, name: str, actions: list[str], indexes: list[str]) -> dict[str, Any]:
        return self.request(
            "POST", "/keys", json={"name": name, "actions": actions, "indexes": indexes, "expiresAt": None}
        )

    def list_keys(self) -> list[dict[str, Any]]:
        return self.request("GET", "/keys", params={"limit": 1000})["results"]


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return {"message": response.text}

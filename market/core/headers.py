"""Security headers on every response (OWASP Secure Headers): no sniffing, no framing, no referrer leak."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
# The API serves JSON and files, never pages to frame; /docs loads its own inline script and styles.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = "frame-ancestors 'none'"
# The console's pages (market/console/): scripts, styles and images from the project only (htmx and ECharts are
# served by it), no inline script, forms posted only to itself.
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
CONSOLE_PREFIX = "/console"
# Responses that carry or depend on credentials must not be kept by any cache.
AUTH_PATH_PREFIX = "/api/v1/auth"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        request_headers = {k.lower() for k, _ in scope.get("headers", [])}
        credentialed = b"authorization" in request_headers or b"x-api-key" in request_headers
        console = path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")
        # Console pages depend on the session cookie: never cached (its static files and vendored libraries may be).
        no_store = (
            path.startswith(AUTH_PATH_PREFIX)
            or credentialed
            or (console and "/static/" not in path and "/vendor/" not in path)
        )
        docs = path in ("/docs", "/redoc") or path.startswith("/docs/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", CONSOLE_CSP if console else DOCS_CSP if docs else API_CSP)
                if no_store:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)

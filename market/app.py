"""The FastAPI application: routers of every domain, one error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from market.accounts.endpoints import router as accounts_router
from market.brokers.endpoints import router as brokers_router
from market.calls.endpoints import router as calls_router
from market.commissioners.endpoints import router as commissioners_router
from market.contracts.endpoints import router as contracts_router
from market.core.config import get_settings
from market.core.deps import ReadThatWritesMiddleware
from market.core.errors import install_error_handlers
from market.core.headers import SecurityHeadersMiddleware
from market.core.types import guard_params
from market.evaluations.endpoints import router as evaluations_router
from market.filings.endpoints import router as filings_router
from market.listings.endpoints import router as listings_router
from market.matching.endpoints import router as matching_router
from market.monitoring.endpoints import router as monitoring_router
from market.stats.endpoints import router as stats_router
from market.subsidies.endpoints import router as subsidies_router
from market.taxrelief.endpoints import router as taxrelief_router
from market.vouchers.endpoints import router as vouchers_router


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    from market.matching.indexing import search_startup

    # Registers the outbox nudger and applies index settings when a Meilisearch is configured.
    await run_in_threadpool(search_startup)
    yield


def create_app() -> FastAPI:
    docs = get_settings().docs_enabled
    app = FastAPI(
        lifespan=lifespan,
        # Every route: an integer past int64 or a control character in a path/query value is a 422, before any database.
        dependencies=[Depends(guard_params)],
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        title="market — 科技大市场",
        version="0.1.0",
        description="Technology market backend: listings, matching, technology contracts, subsidies, open calls.",
    )
    # Inside CatchAllMiddleware (added by install_error_handlers): a GET that wrote is replayed as a writer.
    app.add_middleware(ReadThatWritesMiddleware)
    install_error_handlers(app)
    app.add_middleware(SecurityHeadersMiddleware)  # outermost of ours: error responses get the headers too
    # Routes are tried in order, at some 20 µs each: the most requested (search and match) come first.
    # The domains' paths never overlap (each has its own first segment), so the order changes nothing else.
    for router in (
        matching_router,
        listings_router,
        accounts_router,
        contracts_router,
        stats_router,
        subsidies_router,
        calls_router,
        vouchers_router,
        filings_router,
        brokers_router,
        commissioners_router,
        taxrelief_router,
        monitoring_router,
        evaluations_router,
    ):
        app.include_router(router)

    # Operations: request id + latency by route (outermost, so every response carries X-Request-ID),
    # /readyz and /metrics.
    from market.core.health import install_outage_handlers
    from market.core.health import router as ops_router
    from market.core.metrics import RequestMiddleware

    app.add_middleware(RequestMiddleware)
    app.include_router(ops_router)
    install_outage_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

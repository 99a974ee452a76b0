"""Mounting the console on the application: page routers, our static files, the vendored libraries."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from market.console import assets, pages, web
from market.console.menu import MenuItem


def install_console(app: FastAPI) -> None:
    menu: list[MenuItem] = []
    for module in pages.modules():
        menu.extend(getattr(module, "MENU", []))
        app.include_router(module.router, prefix="/console", include_in_schema=False)
    web.MENU[:] = menu
    app.include_router(assets.router)
    app.mount("/console/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="console-static")

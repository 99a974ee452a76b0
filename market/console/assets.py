"""The vendored browser libraries, served from the project (no CDN).

Pinned by tools/console/package-lock.json (htmx.org 2.0.11, BSD-2-Clause; echarts 6.1.0, Apache-2.0) and installed
by `npm ci` in `./dev setup`, as the Meilisearch binary is. Only the files named here are served.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from market.core.errors import NotFound

# The checkout's tools/console/node_modules; an installed package (the Docker image) names its copy in
# MARKET_CONSOLE_ASSETS.
NODE_MODULES = Path(
    os.environ.get("MARKET_CONSOLE_ASSETS")
    or Path(__file__).resolve().parents[2] / "tools" / "console" / "node_modules"
)
VENDOR = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "echarts.min.js": "echarts/dist/echarts.min.js",
    "htmx.LICENSE": "htmx.org/LICENSE",
    "echarts.LICENSE": "echarts/LICENSE",
}

router = APIRouter(include_in_schema=False)


@router.get("/console/vendor/{name}")
def vendor_file(name: str) -> FileResponse:
    rel = VENDOR.get(name)
    path = NODE_MODULES / rel if rel else None
    if path is None or not path.is_file():
        raise NotFound(f"no vendored file {name!r} (run ./dev setup)", code="asset_not_found")
    media = "text/javascript" if name.endswith(".js") else "text/plain"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=86400"})

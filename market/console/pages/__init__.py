"""One module per console area; each has `router` (an APIRouter with `route_class=ConsoleRoute`) and `MENU`.

Modules are found here automatically: a new area is a new file (and its templates under
templates/console/<area>/), without editing any other.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def modules() -> list[ModuleType]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"{__name__}.{info.name}"))
    return found

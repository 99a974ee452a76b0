"""The console (控制台): server-rendered pages for the bureau's staff and the experts, under /console.

Same application, same accounts, same services: a page reads through the domain services and every action is the
service call the API makes (audited there). Layout:

- `auth.py`: the session cookie (a login token of market/accounts), CSRF, who may open the console;
- `web.py`: the route class every page router uses (CSRF on every POST, errors as pages), templates, `render`;
- `menu.py`: the menu registry (each page module lists its entries with the roles that see them);
- `pages/<area>.py`: one router per area, found automatically (`router` and `MENU` in the module);
- `templates/console/<area>/`: that area's templates; `static/`: our CSS and JS; the vendored htmx and ECharts
  are pinned by tools/console/package-lock.json and served by `assets.py`.
"""

from market.console.app import install_console

__all__ = ["install_console"]

"""The console's menu: each page module registers its entries with the roles that see them."""

from __future__ import annotations

from dataclasses import dataclass

from market.accounts.roles import Role


@dataclass(frozen=True)
class MenuItem:
    label: str  # Chinese, as shown
    path: str  # under /console, e.g. "/console/registrar"
    roles: frozenset[Role]
    group: str = ""  # the heading it is listed under
    order: int = 100  # within the whole menu, smaller first


def visible(items: list[MenuItem], role: Role) -> list[tuple[str, list[MenuItem]]]:
    """The entries `role` may open, grouped under their headings, in menu order."""
    groups: dict[str, list[MenuItem]] = {}
    for item in sorted(items, key=lambda i: (i.order, i.path)):
        if role in item.roles:
            groups.setdefault(item.group, []).append(item)
    return list(groups.items())

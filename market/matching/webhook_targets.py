"""Where a webhook may be sent: no internal addresses in any spelling (SSRF), and the POST pinned to the vetted one."""

from __future__ import annotations

import ipaddress

import httpx


class WebhookTargetRefused(ValueError):
    pass


# NAT64 prefixes: the well-known one carries a public IPv4 in its last 32 bits; the local-use one is internal.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries: mapped, compatible, 6to4, Teredo, NAT64."""
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _IPV4_COMPATIBLE or ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_internal_address(address: str) -> bool:
    """Loopback, private, link-local, reserved or multicast, in any IPv4 or IPv6 spelling."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return True
        if ip in _NAT64:  # the gateway reaches the IPv4 it carries: that address decides
            candidates = []
        candidates.extend(_embedded_ipv4(ip))
    return any(
        not a.is_global or a.is_multicast or a.is_reserved or a.is_unspecified or a.is_loopback or a.is_link_local
        for a in candidates
    )


def check_webhook_target(url: str) -> str:
    """The one address a webhook may be sent to: refuse URLs that are not http(s) or whose host resolves to an
    internal address (any of its addresses; the message never echoes one), else return the first address."""
    import socket
    from urllib.parse import urlsplit

    from market.core.config import get_settings

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookTargetRefused("webhook URL must be http(s) with a host") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookTargetRefused("webhook URL must be http(s) with a host")
    try:
        infos = socket.getaddrinfo(
            parts.hostname, port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError):
        raise WebhookTargetRefused(f"webhook host '{parts.hostname}' does not resolve") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise WebhookTargetRefused(f"webhook host '{parts.hostname}' does not resolve")
    if not get_settings().webhook_allow_private_targets and any(is_internal_address(a) for a in addresses):
        raise WebhookTargetRefused(f"webhook host '{parts.hostname}' is an internal address")
    return addresses[0]


class WebhookRejected(Exception):
    """The receiver answered, but not 2xx."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"HTTP {status_code}")
        self.status_code = status_code


def post_pinned(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST to the address vetted by check_webhook_target, never looking the name up a second time.

    The connection goes to the vetted IP; the Host header and (for https) SNI and certificate check
    use the name, so a DNS answer that changes between check and connect (rebinding) is never used.
    """
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    ip = check_webhook_target(url)
    host = f"[{ip}]" if ":" in ip else ip
    netloc = f"{host}:{parts.port}" if parts.port else host
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    name = parts.hostname or ""
    host_header = (f"[{name}]" if ":" in name else name) + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": name} if parts.scheme == "https" else {}
    with httpx.Client(timeout=timeout, follow_redirects=False) as http:
        request = http.build_request(
            "POST", pinned, content=body, headers={**headers, "Host": host_header}, extensions=extensions
        )
        response = http.send(request)
    if not 200 <= response.status_code < 300:
        raise WebhookRejected(response.status_code)
    return response.status_code

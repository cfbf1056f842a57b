"""SSRF guard for user-supplied URLs (Azure ``endpoint_url``, Ollama ``base_url``, Databricks
``workspace_url``, Lepton ``base_url``).

Defends against a user making the server call its own network: loopback, private ranges, link-local
(which includes the 169.254.169.254 cloud-metadata address) and other non-public addresses are
refused unless the host is listed in ``BYOK_ALLOWED_PRIVATE_HOSTS``. The check runs twice: on the URL
before any request (resolving the host name), and on the socket's peer address when the connection is
made, so a DNS answer that changes between the two (rebinding) is caught too.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

# Cloud metadata services that are not all covered by the private/link-local ranges.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud
}


class UnsafeURLError(ValueError):
    """A user-supplied URL the server will not call. The message says why."""


def _allowed_private_hosts() -> set[str]:
    return {h.strip().lower() for h in settings.BYOK_ALLOWED_PRIVATE_HOSTS if h.strip()}


def address_problem(address: str) -> str | None:
    """Why ``address`` may not be called, or None if it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10"):
        return "a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "a reserved address"
    if isinstance(ip, ipaddress.IPv6Address):
        # Tunnelled forms carry an IPv4 address inside (6to4 2002::/16, Teredo 2001::/32).
        embedded = [a for a in (ip.sixtofour, *(ip.teredo or ())) if a is not None]
        for inner in embedded:
            problem = address_problem(str(inner))
            if problem:
                return f"{problem} (tunnelled in IPv6)"
    if not ip.is_global:
        return "a non-public address"
    return None


def host_is_allowlisted(host: str) -> bool:
    return host.lower().strip("[]") in _allowed_private_hosts()


def check_url(url: str, *, allow_http: bool = False, field: str = "URL") -> None:
    """Raise ``UnsafeURLError`` if ``url`` may not be called. Resolves the host name."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeURLError(f"The {field} has no host name.")
    if parts.scheme != "https" and not (parts.scheme == "http" and (allow_http or settings.BYOK_ALLOW_INSECURE_URLS)):
        raise UnsafeURLError(f"The {field} must use https:// (the key is sent to it).")
    if host_is_allowlisted(host):
        return
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError):
        raise UnsafeURLError(f"The host name '{host}' in the {field} does not resolve.") from None
    for info in infos:
        problem = address_problem(str(info[4][0]))
        if problem:
            raise UnsafeURLError(
                f"The {field} points to {problem} ({host} → {info[4][0]}), which this server does not call. "
                "An operator can allow the host with BYOK_ALLOWED_PRIVATE_HOSTS."
            )


def check_peer(sock: socket.socket, host: str) -> None:
    """Connection-time check of the address actually connected to (defeats DNS rebinding)."""
    if host_is_allowlisted(host):
        return
    peer = sock.getpeername()[0]
    problem = address_problem(str(peer))
    if problem:
        raise UnsafeURLError(f"Refused to talk to {host}: it resolved to {problem} ({peer}).")

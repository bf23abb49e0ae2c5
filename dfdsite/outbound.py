"""Requests the server makes on someone's behalf (fetching a submitted link, delivering a
webhook) go to public addresses only.

A name is resolved once, every address it gives is checked (private, loopback, link-local,
multicast, reserved and unspecified ranges are refused: cloud metadata at 169.254.169.254,
the database on 127.0.0.1, the office network), and the connection then goes to the checked
address itself, with the original name kept for the Host header and TLS, so the name cannot
resolve to something else between the check and the connection (DNS rebinding). Redirects
are followed here, one hop at a time, and each hop is checked the same way.

``settings.DFD_OUTBOUND_ALLOW_PRIVATE`` (env ``DFD_OUTBOUND_ALLOW_PRIVATE=1``) admits private
and loopback addresses, for tests that serve from loopback and for an intranet deployment
that wants it; link-local (where cloud metadata answers), multicast and unspecified addresses
stay refused even then.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings

from dfdsite.errors import Invalid

MAX_REDIRECTS = 5


class AddressRefused(Invalid):
    code = "address_refused"
    default_message = "Only public http(s) addresses can be used."


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL, for the Host header and TLS
    port: int
    address: str  # the checked IP address the connection goes to


def _refused_reason(address: str, allow_private: bool) -> str | None:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast or ip.is_unspecified:
        return "a reserved address"
    if allow_private:
        return None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return "a private address"
    return None


def resolve_public(url: str) -> Target:
    """The URL's host resolved and checked. Raises AddressRefused with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("The address must start with http:// or https://.")
    if not parts.hostname:
        raise AddressRefused("The address has no host name.")
    if parts.username or parts.password:
        raise AddressRefused("Addresses with a user name or password in them are not accepted.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise AddressRefused("The address has an invalid port.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"The host {parts.hostname} could not be found.") from None
    addresses = sorted({info[4][0] for info in infos})
    for address in addresses:
        reason = _refused_reason(address, settings.DFD_OUTBOUND_ALLOW_PRIVATE)
        if reason:
            raise AddressRefused(f"{parts.hostname} points to {reason}, which is not accepted.")
    return Target(parts.scheme, parts.hostname, port, addresses[0])


def _pool(target: Target, timeout: float) -> urllib3.HTTPConnectionPool:
    options = dict(host=target.address, port=target.port, timeout=urllib3.Timeout(connect=timeout, read=timeout),
                   retries=False, maxsize=1)
    if target.scheme == "https":
        # Connect to the checked address; verify the certificate against the name in the URL.
        return urllib3.HTTPSConnectionPool(**options, server_hostname=target.host, assert_hostname=target.host,
                                           cert_reqs="CERT_REQUIRED")
    return urllib3.HTTPConnectionPool(**options)


@contextmanager
def public_request(url: str, *, method: str = "GET", body: bytes | None = None, headers: dict | None = None,
                   timeout: float = 10.0, follow_redirects: bool = True) -> Iterator[urllib3.BaseHTTPResponse]:
    """An HTTP response from a public address, streamed (read it with ``.stream()`` or ``.read()``).
    Raises AddressRefused for an address the rule refuses, at the start or on any redirect, and
    urllib3's errors (``urllib3.exceptions.HTTPError``) for network failures and timeouts."""
    for _ in range(MAX_REDIRECTS + 1):
        target = resolve_public(url)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default_port = 443 if target.scheme == "https" else 80
        host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
        if ":" in target.host and not host_header.startswith("["):  # IPv6 literal
            host_header = f"[{target.host}]" if target.port == default_port else f"[{target.host}]:{target.port}"
        with _pool(target, timeout) as pool:
            response = pool.urlopen(method, path, body=body, headers={"Host": host_header, **(headers or {})},
                                    redirect=False, preload_content=False, assert_same_host=False)
            try:
                location = response.get_redirect_location() if follow_redirects else False
                if not location:
                    yield response
                    return
            finally:
                response.release_conn()
        url = urljoin(url, location)
        if response.status in (301, 302, 303) and method != "HEAD":
            method, body = "GET", None
    raise AddressRefused(f"Too many redirects (more than {MAX_REDIRECTS}).")

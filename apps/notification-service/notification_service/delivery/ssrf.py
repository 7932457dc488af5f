"""Server-side request forgery guard for webhook URLs.

A webhook URL is someone else's input that makes this service open connections, so it
is checked where it matters: on the address the host name resolves to, at subscribe time
and again at every delivery (DNS can change in between), and the connection then goes to
exactly that checked address (the ``Host`` header and TLS SNI keep the name). Redirects
are not followed by default; when they are, every hop is checked the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud instance metadata endpoints (AWS/GCP/Azure, AWS IPv6, Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)


class UrlRefusedError(ValueError):
    """The URL may not be called; ``reason`` says why in words a user understands."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckedTarget:
    """A URL together with the one address it may be connected to."""

    url: httpx.URL
    address: IPAddress

    @property
    def pinned_url(self) -> httpx.URL:
        """The URL with its host replaced by the checked address."""
        return self.url.copy_with(host=str(self.address))

    @property
    def host_header(self) -> str:
        default = 443 if self.url.scheme == "https" else 80
        port = self.url.port
        return self.url.host if port in (None, default) else f"{self.url.host}:{port}"

    @property
    def extensions(self) -> dict[str, str]:
        """TLS server name (and certificate check) for the original host name."""
        return {"sni_hostname": self.url.host} if self.url.scheme == "https" else {}


def parse_url(raw: str, max_length: int = 2048) -> httpx.URL:
    """Syntax checks that need no DNS: http(s), a host, no credentials."""
    if len(raw) > max_length:
        raise UrlRefusedError(f"the URL is longer than {max_length} characters")
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UrlRefusedError("the URL is malformed") from exc
    if url.scheme not in {"http", "https"}:
        raise UrlRefusedError("only http and https URLs are allowed")
    if not url.host:
        raise UrlRefusedError("the URL has no host")
    if url.userinfo:
        raise UrlRefusedError("credentials in the URL are not allowed")
    return url


def forbidden_reason(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Why connecting to ``address`` is refused, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "the cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlRefusedError(f"the host {host!r} does not resolve") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefusedError(f"the host {host!r} does not resolve")
    return addresses


async def check_url(raw: str | httpx.URL, *, allow_loopback: bool) -> CheckedTarget:
    """Resolve the URL's host; refuse it if ANY of its addresses is forbidden."""
    url = raw if isinstance(raw, httpx.URL) else parse_url(raw)
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await resolve(url.host, port)
    for address in addresses:
        if (reason := forbidden_reason(address, allow_loopback=allow_loopback)) is not None:
            # The address itself is not echoed: resolving names for callers would
            # turn this check into a tool for mapping internal DNS.
            literal = url.host.strip("[]") == str(address)
            raise UrlRefusedError(
                f"the host is {reason}" if literal else f"the host resolves to {reason}"
            )
    return CheckedTarget(url=url, address=addresses[0])

"""WebSocket URIs: ``ws://`` and ``wss://`` (RFC 6455 §3).

:func:`parse_uri` turns a URI into the parts that the opening handshake
needs: where to connect (host, port, TLS or not), what to ask for (the
resource name of RFC 6455 §3, sent as the request-target), and optional
credentials. Its output is ASCII throughout, ready for an HTTP/1.1 request
line and ``Host`` header: international host names are IDNA-encoded, and
non-ASCII characters in the path and query are percent-encoded as UTF-8
(RFC 3986 §2.1, RFC 3987 §3.1).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse

from .exceptions import InvalidURI

__all__ = ["WebSocketURI", "parse_uri"]

# RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ).
_REG_NAME_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]+")
# C0 controls, DEL and SP cannot appear in a URI (RFC 3986 §2); the stdlib
# silently drops some of them, which could hide a header injection.
_FORBIDDEN_RE = re.compile(r"[\x00-\x20\x7f]")
# RFC 3986 §2.2 reserved characters, and "%" so that existing escapes stay.
_PATH_SAFE = "!$&'()*+,/:;=?@[]%"


@dataclasses.dataclass(frozen=True)
class WebSocketURI:
    """A parsed ``ws://`` or ``wss://`` URI (RFC 6455 §3).

    Attributes:
        secure: True for ``wss://``, which runs over TLS.
        host: the host, ASCII; an IPv6 address has no brackets.
        port: the port, 80 or 443 by default.
        path: the path, percent-encoded, at least ``/``.
        query: the query without its ``?``, percent-encoded, maybe empty.
        username: the percent-decoded user name, or None.
        password: the percent-decoded password, or None.
    """

    secure: bool
    host: str
    port: int
    path: str
    query: str
    username: str | None = None
    password: str | None = None

    @property
    def resource_name(self) -> str:
        """The resource name: path, then ``?`` and query if there is one."""
        return f"{self.path}?{self.query}" if self.query else self.path

    @property
    def user_info(self) -> tuple[str, str] | None:
        """``(username, password)`` for Basic auth, or None without a user.

        A user without a password gets an empty one.
        """
        if self.username is None:
            return None
        return self.username, self.password or ""


def parse_uri(uri: str) -> WebSocketURI:
    """Parse a ``ws://`` or ``wss://`` URI (RFC 6455 §3).

    Args:
        uri: an absolute WebSocket URI, such as ``wss://example.com/chat``.

    Returns:
        The parsed URI.

    Raises:
        InvalidURI: if ``uri`` is not a valid WebSocket URI: another scheme,
            no host, a bad port, a fragment (RFC 6455 §3 forbids them), or a
            control character.
    """
    if _FORBIDDEN_RE.search(uri) is not None:
        raise InvalidURI(uri, "contains a control character or a space")
    if "#" in uri:
        raise InvalidURI(uri, "fragments aren't allowed in WebSocket URIs")
    try:
        parsed = urllib.parse.urlsplit(uri)
    except ValueError as exc:  # e.g. an unclosed "[" around an IPv6 address
        raise InvalidURI(uri, str(exc)) from None
    if parsed.scheme not in ("ws", "wss"):
        raise InvalidURI(uri, "scheme isn't ws or wss")
    secure = parsed.scheme == "wss"
    host = _parse_host(uri, parsed)
    try:
        port = parsed.port
    except ValueError as exc:
        raise InvalidURI(uri, f"invalid port: {exc}") from None
    if port is None:
        port = 443 if secure else 80
    path = urllib.parse.quote(parsed.path, safe=_PATH_SAFE) or "/"
    query = urllib.parse.quote(parsed.query, safe=_PATH_SAFE)
    username = password = None
    if parsed.username is not None:
        username = urllib.parse.unquote(parsed.username)
    if parsed.password is not None:
        password = urllib.parse.unquote(parsed.password)
    return WebSocketURI(secure, host, port, path, query, username, password)


def _parse_host(uri: str, parsed: urllib.parse.SplitResult) -> str:
    """Return the host of ``parsed`` in ASCII, IPv6 addresses unbracketed."""
    host = parsed.hostname
    if not host:
        raise InvalidURI(uri, "no host")
    # After the last "@", since a user name may hold more (RFC 3986 §3.2.1).
    hostport = parsed.netloc.rpartition("@")[2]
    if hostport.startswith("["):
        # urlsplit ignores what follows "]" unless it is ":" and a port.
        after = hostport.partition("]")[2]
        if after and not after.startswith(":"):
            raise InvalidURI(uri, "invalid port")
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidURI(uri, "invalid IPv6 address") from None
        if address.scope_id is not None:
            raise InvalidURI(uri, "IPv6 zone identifiers aren't supported")
        return address.compressed
    if not host.isascii():
        try:
            # IDNA 2003, the codec of the stdlib (RFC 3490 §4.1 ToASCII).
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidURI(uri, "invalid international host name") from None
    if _REG_NAME_RE.fullmatch(host) is None:
        raise InvalidURI(uri, "invalid host")
    return host

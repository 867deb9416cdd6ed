"""The grammars of the handshake's header fields (RFC 6455 §4.3, §9.1).

Parsers walk the value once from left to right. Each step matches a regular
expression made of a single character class at the current position, so no
expression can backtrack and parsing is linear in the length of the value.
Every syntax error raises :class:`~sansws.exceptions.InvalidHeaderFormat`
with the header's name and the position where parsing stopped.

Builders check their input and raise :class:`ValueError` (or
:class:`TypeError`) for values that the grammar cannot express, because
those are mistakes of the local application.

Lists follow the ``#rule`` of RFC 7230 §7: elements are separated by commas
with optional whitespace, and empty elements are allowed and ignored. A list
holds at most :data:`MAX_LIST_ITEMS` elements per header line: a peer could
otherwise pack thousands of one-letter offers into each line and make the
server parse and negotiate hundreds of thousands of them per handshake.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from .exceptions import InvalidHeaderFormat, InvalidHeaderValue

__all__ = [
    "MAX_LIST_ITEMS",
    "ExtensionHeader",
    "ExtensionParameter",
    "Subprotocol",
    "build_authorization_basic",
    "build_extension",
    "build_host",
    "build_subprotocol",
    "build_www_authenticate_basic",
    "parse_authorization_basic",
    "parse_connection",
    "parse_extension",
    "parse_subprotocol",
    "parse_upgrade",
    "validate_subprotocols",
]

ExtensionParameter = tuple[str, "str | None"]
ExtensionHeader = tuple[str, list[ExtensionParameter]]
Subprotocol = str

T = TypeVar("T")

#: The most elements one header line's list may hold. Browsers send one or two
#: extension offers and a few subprotocols; 64 leaves room for any real client
#: while bounding the work per handshake to 64 elements per header line.
MAX_LIST_ITEMS = 64

# RFC 7230 §3.2.6: token = 1*tchar.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 7230 §7: between list elements, any run of commas and whitespace. The
# group tells whether there was a comma; it starts with one, so the pattern
# matches in exactly one way.
_LIST_SEPARATOR_RE = re.compile(r"[ \t,]*")
_LIST_NEXT_RE = re.compile(r"[ \t]*(,[ \t,]*)?")
# RFC 6455 §9.1: ";" and "=" in an extension, with the OWS that peers write.
_SEMICOLON_RE = re.compile(r"[ \t]*;[ \t]*")
_EQUALS_RE = re.compile(r"[ \t]*=[ \t]*")
# RFC 7230 §3.2.6: the content of a quoted-string, *( qdtext / quoted-pair ).
_QUOTED_CONTENT_RE = re.compile(
    r"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"
)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
# RFC 7235 §2.1: token68, the credentials of the Basic scheme.
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 3986 §3.2.2: the characters of a reg-name or an IPv4 address, and of
# an IPv6 address; Host carries them as they are (RFC 7230 §5.4).
_REG_NAME_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]+")
_IPV6_RE = re.compile(r"[0-9A-Fa-f:.]+")
# RFC 7230 §3.2.6: what a quoted-string can hold, once escaped.
_QUOTABLE_RE = re.compile(r"[\t \x21-\x7e\x80-\xff]*")


def _peek(header: str, pos: int) -> str | None:
    return header[pos] if pos < len(header) else None


def _skip(pattern: re.Pattern[str], header: str, pos: int) -> int:
    """Return the end of the match of ``pattern``, which matches empty too."""
    match = pattern.match(header, pos)
    assert match is not None
    return match.end()


def _parse_token(header: str, pos: int, name: str) -> tuple[str, int]:
    """Parse a token (RFC 7230 §3.2.6) at ``pos``; return it and the next pos."""
    match = _TOKEN_RE.match(header, pos)
    if match is None:
        raise InvalidHeaderFormat(name, "expected token", header, pos)
    return match.group(), match.end()


def _parse_quoted_string(header: str, pos: int, name: str) -> tuple[str, int]:
    """Parse the quoted-string (RFC 7230 §3.2.6) at ``pos``; return it unescaped.

    The content is matched in one pass: each character either stands for
    itself or starts a quoted pair, never both, so the match cannot
    backtrack. What follows it must be the closing DQUOTE.
    """
    match = _QUOTED_CONTENT_RE.match(header, pos + 1)  # the caller saw the DQUOTE
    assert match is not None  # "*" always matches
    end = match.end()
    char = _peek(header, end)
    if char != '"':
        if char is None:
            error = "unterminated quoted string"
        elif char == "\\":
            error = "invalid quoted pair"
            end += 1
        else:
            error = "invalid character"
        raise InvalidHeaderFormat(name, error, header, end)
    return _QUOTED_PAIR_RE.sub(r"\1", match.group()), end + 1


def _parse_list(
    parse_item: Callable[[str, int, str], tuple[T, int]],
    header: str,
    name: str,
) -> list[T]:
    """Parse ``1#item`` (RFC 7230 §7): one or more items, separated by commas.

    Empty elements are skipped, but at least one item is required, and at
    most :data:`MAX_LIST_ITEMS`.

    Raises:
        InvalidHeaderFormat: if the header does not match the grammar or
            holds more than :data:`MAX_LIST_ITEMS` elements.
    """
    # "*( "," OWS ) element": leading empty elements.
    pos = _skip(_LIST_SEPARATOR_RE, header, 0)
    items: list[T] = []
    while True:
        if len(items) == MAX_LIST_ITEMS:
            raise InvalidHeaderFormat(name, f"more than {MAX_LIST_ITEMS} elements", header, pos)
        item, pos = parse_item(header, pos, name)
        items.append(item)
        # "*( OWS "," [ OWS element ] )": further commas are empty elements.
        match = _LIST_NEXT_RE.match(header, pos)
        assert match is not None  # everything in it is optional
        pos = match.end()
        if pos == len(header):
            return items
        if match.group(1) is None:
            raise InvalidHeaderFormat(name, "expected comma", header, pos)


def parse_connection(header: str) -> list[str]:
    """Parse a ``Connection`` header (RFC 7230 §6.1).

    Args:
        header: the value, ``Connection = 1#connection-option``.

    Returns:
        The connection options, in their original case; compare them
        case-insensitively.

    Raises:
        InvalidHeaderFormat: if the header does not match the grammar.
    """
    return _parse_list(_parse_token, header, "Connection")


def _parse_protocol(header: str, pos: int, name: str) -> tuple[str, int]:
    """Parse ``protocol = protocol-name ["/" protocol-version]`` at ``pos``."""
    protocol, pos = _parse_token(header, pos, name)
    if _peek(header, pos) == "/":
        version, pos = _parse_token(header, pos + 1, name)
        protocol = f"{protocol}/{version}"
    return protocol, pos


def parse_upgrade(header: str) -> list[str]:
    """Parse an ``Upgrade`` header (RFC 7230 §6.7).

    Args:
        header: the value, ``Upgrade = 1#protocol``.

    Returns:
        The protocols, such as ``"websocket"`` or ``"HTTP/2.0"``, in their
        original case; compare them case-insensitively (RFC 6455 §4.2.1).

    Raises:
        InvalidHeaderFormat: if the header does not match the grammar.
    """
    return _parse_list(_parse_protocol, header, "Upgrade")


def _parse_extension_param(header: str, pos: int, name: str) -> tuple[ExtensionParameter, int]:
    """Parse ``extension-param = token [ "=" (token | quoted-string) ]``.

    RFC 6455 §9.1: a quoted-string value must be a token once unescaped.
    """
    param_name, pos = _parse_token(header, pos, name)
    match = _EQUALS_RE.match(header, pos)
    if match is None:
        return (param_name, None), pos
    pos = match.end()
    if _peek(header, pos) != '"':
        value, pos = _parse_token(header, pos, name)
        return (param_name, value), pos
    start = pos
    value, pos = _parse_quoted_string(header, pos, name)
    if _TOKEN_RE.fullmatch(value) is None:
        raise InvalidHeaderFormat(name, "quoted parameter value is not a token", header, start)
    return (param_name, value), pos


def _parse_extension_item(header: str, pos: int, name: str) -> tuple[ExtensionHeader, int]:
    """Parse ``extension = extension-token *( ";" extension-param )``."""
    extension_name, pos = _parse_token(header, pos, name)
    params: list[ExtensionParameter] = []
    while True:
        match = _SEMICOLON_RE.match(header, pos)
        if match is None:
            return (extension_name, params), pos
        param, pos = _parse_extension_param(header, match.end(), name)
        params.append(param)


def parse_extension(header: str) -> list[ExtensionHeader]:
    """Parse a ``Sec-WebSocket-Extensions`` header (RFC 6455 §9.1).

    Args:
        header: the value, ``1#extension``.

    Returns:
        ``(name, [(param_name, value_or_None), ...])`` for each extension, in
        order. Quoted values are returned unescaped.

    Raises:
        InvalidHeaderFormat: if the header does not match the grammar.
    """
    return _parse_list(_parse_extension_item, header, "Sec-WebSocket-Extensions")


def build_extension(extensions: Sequence[ExtensionHeader]) -> str:
    """Build a ``Sec-WebSocket-Extensions`` header (RFC 6455 §9.1).

    Values are written as tokens, the form every peer accepts.

    Args:
        extensions: ``(name, [(param_name, value_or_None), ...])`` pairs.

    Returns:
        The value, such as ``permessage-deflate; client_max_window_bits``.

    Raises:
        ValueError: if a name or value is not a token.
    """
    parts = []
    for name, params in extensions:
        _check_token(name, "extension name")
        words = [name]
        for param_name, value in params:
            _check_token(param_name, "extension parameter name")
            if value is None:
                words.append(param_name)
            else:
                _check_token(value, "extension parameter value")
                words.append(f"{param_name}={value}")
        parts.append("; ".join(words))
    return ", ".join(parts)


def _check_token(value: str, what: str) -> None:
    if _TOKEN_RE.fullmatch(value) is None:
        raise ValueError(f"invalid {what}: {value!r}")


def parse_subprotocol(header: str) -> list[Subprotocol]:
    """Parse a ``Sec-WebSocket-Protocol`` header (RFC 6455 §4.3, §11.3.4).

    Args:
        header: the value, ``1#token``.

    Returns:
        The subprotocols, in order of preference. Subprotocol names are
        case-sensitive.

    Raises:
        InvalidHeaderFormat: if the header does not match the grammar.
    """
    return _parse_list(_parse_token, header, "Sec-WebSocket-Protocol")


def build_subprotocol(subprotocols: Sequence[Subprotocol]) -> str:
    """Build a ``Sec-WebSocket-Protocol`` header (RFC 6455 §4.1).

    Raises:
        TypeError, ValueError: as :func:`validate_subprotocols`.
    """
    validate_subprotocols(subprotocols)
    return ", ".join(subprotocols)


def validate_subprotocols(subprotocols: Sequence[Subprotocol]) -> None:
    """Check subprotocols that the application wants to offer or accept.

    RFC 6455 §4.1: each must be a non-empty token, and they must be unique.

    Raises:
        TypeError: if ``subprotocols`` is a ``str`` (a list of one was
            probably meant), is not a sequence, or holds something else
            than ``str``.
        ValueError: if a subprotocol is not a token or appears twice.
    """
    if isinstance(subprotocols, str) or not isinstance(subprotocols, Sequence):
        raise TypeError("subprotocols must be a list of str")
    seen: set[str] = set()
    for subprotocol in subprotocols:
        if not isinstance(subprotocol, str):
            raise TypeError(f"subprotocol must be a str: {subprotocol!r}")
        _check_token(subprotocol, "subprotocol")
        if subprotocol in seen:
            raise ValueError(f"duplicate subprotocol: {subprotocol!r}")
        seen.add(subprotocol)


def build_authorization_basic(username: str, password: str) -> str:
    """Build an ``Authorization`` header for HTTP Basic auth (RFC 7617 §2).

    Credentials are encoded in UTF-8 (RFC 7617 §2.1).

    Raises:
        ValueError: if ``username`` contains a colon, which would split it.
    """
    if ":" in username:
        raise ValueError("username must not contain a colon")
    credentials = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(credentials).decode("ascii")


def parse_authorization_basic(header: str) -> tuple[str, str]:
    """Parse an ``Authorization`` header for HTTP Basic auth (RFC 7617 §2).

    Args:
        header: the value, ``Basic`` followed by base64 credentials.

    Returns:
        The username and password, decoded as UTF-8.

    Raises:
        InvalidHeaderFormat: if the header does not match the grammar.
        InvalidHeaderValue: if the scheme is not Basic.
    """
    name = "Authorization"
    scheme, pos = _parse_token(header, 0, name)
    # RFC 7235 §2.1: auth-scheme is case-insensitive.
    if scheme.lower() != "basic":
        raise InvalidHeaderValue(name, f"unsupported scheme: {scheme}")
    if _peek(header, pos) != " ":
        raise InvalidHeaderFormat(name, "expected space after scheme", header, pos)
    pos += 1
    while _peek(header, pos) == " ":
        pos += 1
    match = _TOKEN68_RE.match(header, pos)
    if match is None:
        raise InvalidHeaderFormat(name, "expected token68", header, pos)
    if match.end() != len(header):
        raise InvalidHeaderFormat(name, "expected end of header", header, match.end())
    try:
        credentials = base64.b64decode(match.group(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidHeaderFormat(
            name, "expected base64-encoded UTF-8 credentials", header, pos
        ) from None
    username, colon, password = credentials.partition(":")
    if not colon:
        raise InvalidHeaderFormat(name, "expected username:password credentials", header, pos)
    return username, password


def build_www_authenticate_basic(realm: str) -> str:
    """Build a ``WWW-Authenticate`` header for HTTP Basic auth (RFC 7617 §2).

    The realm is written as a quoted-string (RFC 7230 §3.2.6), and the
    ``charset`` parameter announces UTF-8 credentials (RFC 7617 §2.1).

    Raises:
        ValueError: if the realm has a character a quoted-string cannot hold.
    """
    if _QUOTABLE_RE.fullmatch(realm) is None:
        raise ValueError(f"invalid realm: {realm!r}")
    quoted = realm.replace("\\", "\\\\").replace('"', '\\"')
    return f'Basic realm="{quoted}", charset="UTF-8"'


def build_host(host: str, port: int, secure: bool) -> str:
    """Build a ``Host`` header (RFC 7230 §5.4, RFC 6455 §4.1).

    Args:
        host: a host name, an IPv4 address, or an IPv6 address with or
            without brackets.
        port: the port.
        secure: True for ``wss://``, whose default port is 443, False for
            ``ws://``, whose default port is 80.

    Returns:
        ``host``, bracketed if it is an IPv6 address, followed by ``:port``
        unless the port is the default one.

    Raises:
        ValueError: if ``host`` has a character a Host header cannot hold.
    """
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        if _IPV6_RE.fullmatch(host) is None:
            raise ValueError(f"invalid IPv6 address: {host!r}")
        host = f"[{host}]"
    elif _REG_NAME_RE.fullmatch(host) is None:
        raise ValueError(f"invalid host: {host!r}")
    if port != (443 if secure else 80):
        host = f"{host}:{port}"
    return host

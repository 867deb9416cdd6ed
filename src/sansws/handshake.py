"""Pieces of the opening handshake shared by the client and the server.

RFC 6455 §4: the key, the accept value derived from it, and the checks of
``Connection`` and ``Upgrade`` that both sides make.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from .exceptions import InvalidHeader, InvalidHeaderValue, InvalidUpgrade
from .headers import parse_connection, parse_upgrade
from .http11 import Headers, MultipleValuesError

__all__ = ["GUID", "accept_key", "check_key", "check_upgrade", "single_header"]

#: The GUID of RFC 6455 §1.3, appended to the key to compute the accept value.
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: str) -> str:
    """Compute ``Sec-WebSocket-Accept`` from ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2).

    It is the base64 of the SHA-1 of the key followed by :data:`GUID`.
    """
    digest = hashlib.sha1((key + GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def single_header(headers: Headers, name: str) -> str:
    """Return the one value of a header that must appear exactly once.

    Raises:
        InvalidHeader: the header is missing or repeated.
    """
    try:
        return headers[name]
    except MultipleValuesError:
        raise InvalidHeader(name, "multiple values") from None
    except KeyError:
        raise InvalidHeader(name) from None


def check_upgrade(headers: Headers) -> None:
    """Check that ``Connection`` and ``Upgrade`` ask for WebSocket (RFC 6455 §4.1, §4.2.1).

    ``Connection`` is a token list that must contain ``upgrade``; ``Upgrade``
    must name ``websocket`` alone. Both compare case-insensitively.

    Raises:
        InvalidUpgrade: either header is missing or wrong.
        InvalidHeaderFormat: either header does not follow its grammar.
    """
    connection = [
        token for value in headers.get_all("Connection") for token in parse_connection(value)
    ]
    if not any(token.lower() == "upgrade" for token in connection):
        raise InvalidUpgrade("Connection", ", ".join(connection) or None)
    upgrade = [token for value in headers.get_all("Upgrade") for token in parse_upgrade(value)]
    # RFC 6455 §4.2.1 asks for the keyword "websocket"; a list that offers
    # it among other protocols is not a WebSocket upgrade we can answer.
    if len(upgrade) != 1 or upgrade[0].lower() != "websocket":
        raise InvalidUpgrade("Upgrade", ", ".join(upgrade) or None)


def check_key(key: str) -> None:
    """Check ``Sec-WebSocket-Key``: the base64 of 16 bytes (RFC 6455 §4.1 item 7).

    Raises:
        InvalidHeaderValue: the key is not valid base64 of 16 bytes.
    """
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise InvalidHeaderValue("Sec-WebSocket-Key", key) from None
    if len(raw) != 16:
        raise InvalidHeaderValue("Sec-WebSocket-Key", key)

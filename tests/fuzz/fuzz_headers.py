"""Fuzz the header grammars of ``sansws.headers`` with arbitrary strings.

Run it with ``python tests/fuzz/fuzz_headers.py -max_total_time=60
tests/fuzz/corpus/headers``. The first byte of the input picks the parser
(modulo 5) and whether the rest is decoded as UTF-8 (any code point, lone
surrogates excluded) or as Latin-1 (what a header's bytes decode to).

A parser may raise InvalidHeaderFormat or InvalidHeaderValue and nothing
else. What it returns must build back into a header that parses to the
same value: ``parse(build(parse(x))) == parse(x)``, wherever the builder
can express the value (subprotocols must be unique to be built).
"""

from __future__ import annotations

import contextlib
import sys

import atheris
from atheris.import_hook import instrument_imports

# Coverage feedback for sansws and h11 only, and only when run as a fuzzer:
# a test that imports this module replays inputs without it.
INSTRUMENT: contextlib.AbstractContextManager[object] = (
    instrument_imports(include=["sansws", "h11"])
    if __name__ == "__main__"
    else contextlib.nullcontext()
)

with INSTRUMENT:
    from sansws.exceptions import InvalidHeaderFormat, InvalidHeaderValue
    from sansws.headers import (
        build_authorization_basic,
        build_extension,
        build_subprotocol,
        parse_authorization_basic,
        parse_connection,
        parse_extension,
        parse_subprotocol,
        parse_upgrade,
    )


def check_connection(header: str) -> None:
    options = parse_connection(header)
    assert options and all(options)
    assert parse_connection(", ".join(options)) == options


def check_upgrade(header: str) -> None:
    protocols = parse_upgrade(header)
    assert protocols and all(protocols)
    assert parse_upgrade(", ".join(protocols)) == protocols


def check_extension(header: str) -> None:
    extensions = parse_extension(header)
    assert extensions
    assert parse_extension(build_extension(extensions)) == extensions


def check_subprotocol(header: str) -> None:
    subprotocols = parse_subprotocol(header)
    assert subprotocols and all(subprotocols)
    if len(set(subprotocols)) == len(subprotocols):
        assert parse_subprotocol(build_subprotocol(subprotocols)) == subprotocols


def check_authorization(header: str) -> None:
    username, password = parse_authorization_basic(header)
    assert ":" not in username
    assert parse_authorization_basic(build_authorization_basic(username, password)) == (
        username,
        password,
    )


CHECKS = [check_connection, check_upgrade, check_extension, check_subprotocol, check_authorization]


def decode(data: bytes, utf8: bool) -> str:
    if utf8:
        return data.decode("utf-8", "replace")
    return data.decode("latin-1")


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    check = CHECKS[data[0] % len(CHECKS)]
    header = decode(data[1:], utf8=data[0] >= 128)
    try:
        check(header)
    except (InvalidHeaderFormat, InvalidHeaderValue):
        pass


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

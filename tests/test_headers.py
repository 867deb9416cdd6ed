from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sansws.exceptions import InvalidHeaderFormat, InvalidHeaderValue
from sansws.headers import (
    MAX_LIST_ITEMS,
    ExtensionHeader,
    build_authorization_basic,
    build_extension,
    build_host,
    build_subprotocol,
    build_www_authenticate_basic,
    parse_authorization_basic,
    parse_connection,
    parse_extension,
    parse_subprotocol,
    parse_upgrade,
    validate_subprotocols,
)

TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
tokens = st.text(alphabet=TCHARS, min_size=1, max_size=10)


def _format_error(excinfo: pytest.ExceptionInfo[InvalidHeaderFormat]) -> tuple[str, int]:
    return excinfo.value.error, excinfo.value.pos


# Connection and Upgrade: RFC 7230 §6.1, §6.7, §7


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Upgrade", ["Upgrade"]),
        ("keep-alive, Upgrade", ["keep-alive", "Upgrade"]),
        ("keep-alive,Upgrade", ["keep-alive", "Upgrade"]),
        ("keep-alive \t,\t Upgrade", ["keep-alive", "Upgrade"]),
        # RFC 7230 §7: empty list elements are allowed and ignored.
        (",Upgrade", ["Upgrade"]),
        (", ,Upgrade,, ,", ["Upgrade"]),
        (" Upgrade ", ["Upgrade"]),
    ],
)
def test_parse_connection(header: str, expected: list[str]) -> None:
    assert parse_connection(header) == expected


@pytest.mark.parametrize(
    ("header", "error", "pos"),
    [
        ("", "expected token", 0),
        (",", "expected token", 1),
        (" , , ", "expected token", 5),
        ("Upgrade keep-alive", "expected comma", 8),
        ("Upgrade;", "expected comma", 7),
        ("Upgrade, (x)", "expected token", 9),
    ],
)
def test_parse_connection_invalid(header: str, error: str, pos: int) -> None:
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_connection(header)
    assert excinfo.value.name == "Connection"
    assert excinfo.value.header == header
    assert _format_error(excinfo) == (error, pos)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("websocket", ["websocket"]),
        ("WebSocket", ["WebSocket"]),
        ("HTTP/2.0, websocket", ["HTTP/2.0", "websocket"]),
        ("SHTTP/1.3, IRC/6.9, RTA/x11", ["SHTTP/1.3", "IRC/6.9", "RTA/x11"]),
    ],
)
def test_parse_upgrade(header: str, expected: list[str]) -> None:
    assert parse_upgrade(header) == expected


@pytest.mark.parametrize(
    ("header", "error", "pos"),
    [
        ("websocket/", "expected token", 10),
        ("websocket / 13", "expected comma", 10),
        ("/13", "expected token", 0),
    ],
)
def test_parse_upgrade_invalid(header: str, error: str, pos: int) -> None:
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_upgrade(header)
    assert excinfo.value.name == "Upgrade"
    assert _format_error(excinfo) == (error, pos)


# Sec-WebSocket-Extensions: RFC 6455 §9.1


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("foo", [("foo", [])]),
        ("foo, bar", [("foo", []), ("bar", [])]),
        (
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            [
                (
                    "permessage-deflate",
                    [("client_max_window_bits", None), ("server_max_window_bits", "10")],
                )
            ],
        ),
        (
            'permessage-deflate; server_max_window_bits="10"',
            [("permessage-deflate", [("server_max_window_bits", "10")])],
        ),
        # A quoted pair may escape any character; unescaped, it is a token.
        ('foo; bar="\\b\\az"', [("foo", [("bar", "baz")])]),
        ("foo ; bar = baz ;qux", [("foo", [("bar", "baz"), ("qux", None)])]),
        ("foo;bar=baz,qux", [("foo", [("bar", "baz")]), ("qux", [])]),
        (
            "permessage-deflate; client_max_window_bits, permessage-deflate",
            [
                ("permessage-deflate", [("client_max_window_bits", None)]),
                ("permessage-deflate", []),
            ],
        ),
        (",, foo ,,", [("foo", [])]),
    ],
)
def test_parse_extension(header: str, expected: list[ExtensionHeader]) -> None:
    assert parse_extension(header) == expected


@pytest.mark.parametrize(
    ("header", "error", "pos"),
    [
        ("", "expected token", 0),
        ("foo;", "expected token", 4),
        ("foo; ", "expected token", 5),
        ("foo; =1", "expected token", 5),
        ("foo; bar=", "expected token", 9),
        ("foo; bar=1 2", "expected comma", 11),
        ('foo; bar="', "unterminated quoted string", 10),
        ('foo; bar="10', "unterminated quoted string", 12),
        ('foo; bar="1\\', "invalid quoted pair", 12),
        ('foo; bar="1\\\x00"', "invalid quoted pair", 12),
        ('foo; bar="1\x00"', "invalid character", 11),
        ('foo; bar="1\u0100"', "invalid character", 11),
        # RFC 6455 §9.1: the unescaped quoted value must be a token.
        ('foo; bar=""', "quoted parameter value is not a token", 9),
        ('foo; bar="a b"', "quoted parameter value is not a token", 9),
        ('foo; bar="\\""', "quoted parameter value is not a token", 9),
        ('foo; bar="a,b"', "quoted parameter value is not a token", 9),
        ('foo; bar="1"x', "expected comma", 12),
        ('"foo"', "expected token", 0),
    ],
)
def test_parse_extension_invalid(header: str, error: str, pos: int) -> None:
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_extension(header)
    assert excinfo.value.name == "Sec-WebSocket-Extensions"
    assert _format_error(excinfo) == (error, pos)
    assert str(excinfo.value).startswith("invalid Sec-WebSocket-Extensions header: ")


def test_build_extension() -> None:
    assert build_extension([]) == ""
    assert build_extension([("foo", [])]) == "foo"
    assert (
        build_extension(
            [
                (
                    "permessage-deflate",
                    [("client_max_window_bits", None), ("server_max_window_bits", "10")],
                ),
                ("permessage-deflate", []),
            ]
        )
        == "permessage-deflate; client_max_window_bits; server_max_window_bits=10, "
        "permessage-deflate"
    )


@pytest.mark.parametrize(
    "extensions",
    [
        [("foo bar", [])],
        [("", [])],
        [("foo", [("b r", None)])],
        [("foo", [("bar", "1 2")])],
        [("foo", [("bar", "")])],
    ],
)
def test_build_extension_invalid(extensions: list[ExtensionHeader]) -> None:
    with pytest.raises(ValueError):
        build_extension(extensions)


extension_headers = st.lists(
    st.tuples(
        tokens,
        st.lists(st.tuples(tokens, st.none() | tokens), max_size=4),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=100)
@given(extension_headers)
def test_extension_round_trip(extensions: list[ExtensionHeader]) -> None:
    assert parse_extension(build_extension(extensions)) == extensions


@settings(max_examples=100)
@given(tokens, tokens)
def test_extension_quoted_value(name: str, value: str) -> None:
    escaped = "".join(
        "\\" + char if char in '\\"' or i % 2 else char for i, char in enumerate(value)
    )
    assert parse_extension(f'x; {name}="{escaped}"') == [("x", [(name, value)])]


# Linear time: a quadratic parser would not finish these within the timeout.

MEGABYTE = 1_000_000


# Elements cost a Python step each, so their tests are smaller: still large
# enough that quadratic work would take minutes.
HALF_MEGABYTE = 500_000


@pytest.mark.timeout(10)
def test_parse_extension_many_parameters() -> None:
    extensions = parse_extension("a" + ";a" * (HALF_MEGABYTE // 2))
    assert len(extensions[0][1]) == HALF_MEGABYTE // 2
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_extension("a;" * (HALF_MEGABYTE // 2))
    assert excinfo.value.pos == HALF_MEGABYTE


@pytest.mark.timeout(10)
def test_parse_extension_many_escapes() -> None:
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_extension('a; b="' + "\\\\" * (MEGABYTE // 2))
    assert excinfo.value.error == "unterminated quoted string"
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_extension('"' + "\\" * MEGABYTE)
    assert excinfo.value.pos == 0


@pytest.mark.timeout(10)
def test_parse_extension_long_quoted_value() -> None:
    value = "x" * MEGABYTE
    assert parse_extension(f'a; b="{value}"') == [("a", [("b", value)])]
    assert parse_extension('a; b="' + "\\x" * (MEGABYTE // 2) + '"') == [
        ("a", [("b", "x" * (MEGABYTE // 2))])
    ]


@pytest.mark.timeout(10)
def test_parse_extension_many_commas() -> None:
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_extension("," * MEGABYTE)
    assert excinfo.value.pos == MEGABYTE
    assert parse_extension("," * MEGABYTE + "a" + ", " * MEGABYTE) == [("a", [])]


def test_parse_extension_up_to_max_list_items() -> None:
    header = ", ".join(f"e{i}" for i in range(MAX_LIST_ITEMS))
    assert [name for name, _ in parse_extension(header)] == [f"e{i}" for i in range(64)]
    # Empty elements do not count.
    assert len(parse_extension(",,, " + header.replace(", ", ",,, , "))) == MAX_LIST_ITEMS


@pytest.mark.parametrize(
    "parse", [parse_extension, parse_connection, parse_upgrade, parse_subprotocol]
)
def test_parse_list_refuses_more_than_max_list_items(parse: Callable[[str], object]) -> None:
    header = "a, " * MAX_LIST_ITEMS + "b"
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse(header)
    assert excinfo.value.error == "more than 64 elements"
    assert excinfo.value.pos == 3 * MAX_LIST_ITEMS


@pytest.mark.timeout(10)
def test_parse_extension_many_extensions_stops_early() -> None:
    # Half a megabyte of one-letter offers: refused at the 65th, not parsed.
    header = "a, " * (HALF_MEGABYTE // 3) + "a"
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_extension(header)
    assert excinfo.value.pos == 192
    assert excinfo.value.header == header
    # The message quotes 40 characters each side of the position, not the header.
    assert str(excinfo.value) == (
        "invalid Sec-WebSocket-Extensions header: more than 64 elements at 192 in "
        "... a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a..."
    )
    assert "..." + header[152:232] + "..." in str(excinfo.value)


@pytest.mark.timeout(10)
def test_parse_extension_long_whitespace() -> None:
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_extension("a" + " " * MEGABYTE + "b")
    assert excinfo.value.error == "expected comma"


# Sec-WebSocket-Protocol: RFC 6455 §4.1, §11.3.4


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("chat", ["chat"]),
        ("chat, superchat", ["chat", "superchat"]),
        ("chat,superchat,,", ["chat", "superchat"]),
        ("v1.mqtt", ["v1.mqtt"]),
    ],
)
def test_parse_subprotocol(header: str, expected: list[str]) -> None:
    assert parse_subprotocol(header) == expected


@pytest.mark.parametrize("header", ["", "chat superchat", "chat/1", "chat;x"])
def test_parse_subprotocol_invalid(header: str) -> None:
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_subprotocol(header)
    assert excinfo.value.name == "Sec-WebSocket-Protocol"


def test_build_subprotocol() -> None:
    assert build_subprotocol(["chat"]) == "chat"
    assert build_subprotocol(["chat", "superchat"]) == "chat, superchat"
    assert build_subprotocol(("chat",)) == "chat"


@settings(max_examples=100)
@given(st.lists(tokens, min_size=1, max_size=5, unique=True))
def test_subprotocol_round_trip(subprotocols: list[str]) -> None:
    assert parse_subprotocol(build_subprotocol(subprotocols)) == subprotocols


def test_validate_subprotocols() -> None:
    validate_subprotocols([])
    validate_subprotocols(["chat", "superchat"])


@pytest.mark.parametrize("subprotocols", ["chat", {"chat"}, None, [b"chat"], ["chat", 1]])
def test_validate_subprotocols_type_error(subprotocols: object) -> None:
    with pytest.raises(TypeError):
        validate_subprotocols(subprotocols)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "subprotocols", [[""], ["chat room"], ["chat,room"], ["caf\xe9"], ["chat", "chat"]]
)
def test_validate_subprotocols_value_error(subprotocols: list[str]) -> None:
    with pytest.raises(ValueError):
        validate_subprotocols(subprotocols)


def test_build_subprotocol_invalid() -> None:
    with pytest.raises(ValueError):
        build_subprotocol(["a b"])


# Basic authentication: RFC 7617


def test_build_authorization_basic() -> None:
    # RFC 7617 §2 gives this example.
    assert build_authorization_basic("Aladdin", "open sesame") == (
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    )
    # RFC 7617 §2.1: UTF-8.
    assert build_authorization_basic("test", "123\u00a3") == "Basic dGVzdDoxMjPCow=="


def test_build_authorization_basic_refuses_colon_in_username() -> None:
    with pytest.raises(ValueError):
        build_authorization_basic("a:b", "c")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", ("Aladdin", "open sesame")),
        ("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", ("Aladdin", "open sesame")),
        ("BASIC   QWxhZGRpbjpvcGVuIHNlc2FtZQ==", ("Aladdin", "open sesame")),
        ("Basic dGVzdDoxMjPCow==", ("test", "123\u00a3")),
        ("Basic " + base64.b64encode(b"u:p:q").decode(), ("u", "p:q")),
        ("Basic " + base64.b64encode(b":").decode(), ("", "")),
    ],
)
def test_parse_authorization_basic(header: str, expected: tuple[str, str]) -> None:
    assert parse_authorization_basic(header) == expected


@pytest.mark.parametrize(
    ("header", "error", "pos"),
    [
        ("", "expected token", 0),
        ("Basic", "expected space after scheme", 5),
        ("Basic\tQWxh", "expected space after scheme", 5),
        ("Basic ", "expected token68", 6),
        ("Basic =", "expected token68", 6),
        ("Basic QWxh ZGRp", "expected end of header", 10),
        ("Basic QWxh,", "expected end of header", 10),
        ("Basic QWx", "expected base64-encoded UTF-8 credentials", 6),
        (
            "Basic " + base64.b64encode(b"\xff:x").decode(),
            "expected base64-encoded UTF-8 credentials",
            6,
        ),
        (
            "Basic " + base64.b64encode(b"nocolon").decode(),
            "expected username:password credentials",
            6,
        ),
    ],
)
def test_parse_authorization_basic_invalid(header: str, error: str, pos: int) -> None:
    with pytest.raises(InvalidHeaderFormat) as excinfo:
        parse_authorization_basic(header)
    assert excinfo.value.name == "Authorization"
    assert _format_error(excinfo) == (error, pos)


def test_parse_authorization_unsupported_scheme() -> None:
    with pytest.raises(InvalidHeaderValue) as excinfo:
        parse_authorization_basic("Bearer abc")
    assert excinfo.value.name == "Authorization"
    assert not isinstance(excinfo.value, InvalidHeaderFormat)


@settings(max_examples=100)
@given(st.text().filter(lambda s: ":" not in s), st.text())
def test_authorization_basic_round_trip(username: str, password: str) -> None:
    try:
        header = build_authorization_basic(username, password)
    except UnicodeEncodeError:  # lone surrogates have no UTF-8 encoding
        return
    assert parse_authorization_basic(header) == (username, password)


def test_build_www_authenticate_basic() -> None:
    assert build_www_authenticate_basic("WallyWorld") == (
        'Basic realm="WallyWorld", charset="UTF-8"'
    )
    assert build_www_authenticate_basic('a "b" \\c') == (
        'Basic realm="a \\"b\\" \\\\c", charset="UTF-8"'
    )
    assert build_www_authenticate_basic("") == 'Basic realm="", charset="UTF-8"'


@pytest.mark.parametrize("realm", ["a\r\nb", "a\x00", "\u0100"])
def test_build_www_authenticate_basic_invalid(realm: str) -> None:
    with pytest.raises(ValueError):
        build_www_authenticate_basic(realm)


# Host: RFC 7230 §5.4, RFC 6455 §4.1


@pytest.mark.parametrize(
    ("host", "port", "secure", "expected"),
    [
        ("example.com", 80, False, "example.com"),
        ("example.com", 443, True, "example.com"),
        ("example.com", 443, False, "example.com:443"),
        ("example.com", 80, True, "example.com:80"),
        ("example.com", 8080, False, "example.com:8080"),
        ("192.0.2.1", 80, False, "192.0.2.1"),
        ("192.0.2.1", 8000, True, "192.0.2.1:8000"),
        ("::1", 80, False, "[::1]"),
        ("::1", 8080, False, "[::1]:8080"),
        ("[::1]", 443, True, "[::1]"),
        ("2001:db8::192.0.2.1", 443, True, "[2001:db8::192.0.2.1]"),
        ("xn--bcher-kva.example", 80, False, "xn--bcher-kva.example"),
    ],
)
def test_build_host(host: str, port: int, secure: bool, expected: str) -> None:
    assert build_host(host, port, secure) == expected


@pytest.mark.parametrize(
    "host", ["", "exa mple.com", "example.com\r\nX: 1", "b\xfccher.example", "::g", "[::1"]
)
def test_build_host_invalid(host: str) -> None:
    with pytest.raises(ValueError):
        build_host(host, 80, False)

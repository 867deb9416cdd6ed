"""The permessage-deflate extension (RFC 7692 §7).

Theory of operation
-------------------

Each direction of a connection is one DEFLATE stream (RFC 1951), cut into
messages. The sender compresses a message, ends it with a sync flush -- an
empty stored block, whose last four bytes are always ``00 00 ff ff`` -- and
strips those four bytes (§7.2.1). The receiver appends them back and inflates
(§7.2.2). RSV1 on the first frame of a message says "this message is
compressed"; continuation frames and control frames never carry it (§6).

With context takeover (the default), the LZ77 window carries over from one
message to the next, so a repeated message costs a few bytes. With
``*_no_context_takeover`` the stream restarts at each message; this module
then drops its zlib object between messages, so an idle connection holds no
zlib memory in that direction at all.

Outgoing fragments are each ended with a sync flush, so every frame carries
all the data given to it and a receiver can inflate, validate and deliver a
streamed message frame by frame; only the final frame's ``00 00 ff ff`` is
stripped.

A peer may end a message with a block that has BFINAL set (§7.2.3.4). That
ends its DEFLATE stream: the rest of the message is ignored, and the next
message is inflated with a new stream and an empty window, so a peer that
then refers back into the previous message fails with 1002.

Incoming data is inflated with an output bound: ``decompress(data, max_size +
1)`` yields at most one byte past the limit, so a "zip bomb" (a 1 MiB frame
that inflates to 1 GiB) fails with :exc:`PayloadTooBig` after at most
``max_size + 1`` bytes of output, and the rest of its input is never inflated.

Window bits
-----------

Window bits run from 8 to 15 (§7.1.2). zlib cannot *compress* with a raw
8-bit window: its manual says that deflate does not support a 256-byte window
and turns a request for 8 into 9 with the zlib header, and with a raw stream
(zlib 1.2.9 and later) ``compressobj(wbits=-8)`` is refused. This module
compresses with 9 bits when 8 was negotiated, which still keeps the promise
of §7.1.2.1 and §7.1.2.2: zlib never emits a match farther back than
``window size - 262`` bytes (``MAX_DIST`` in deflate.h), which is 250 bytes
for a 512-byte window, within the 256 bytes the peer keeps. A larger window
than the peer's is always safe for inflating, so a window of 8 is inflated
with 9 as well, away from zlib's special case.

Memory
------

zlib's deflate state needs about ``(1 << (wbits + 2)) + (1 << (memLevel +
9))`` bytes and inflate about ``(1 << wbits) + 7 KiB``. zlib's defaults
(15 bits, memLevel 8) cost 256 KiB per compressing connection. The defaults
here, :data:`DEFAULT_WINDOW_BITS` = 12 and memLevel 5, need 32 KiB to
deflate: on a stream of 100-byte JSON events, output grows by 5 % over
zlib's defaults (0.289 against 0.275 of the input); on large English-like
text, by 13 %.

Measured with ``bench/deflate_backends.py --memory 1000``: the growth of the
resident set size (``/proc/self/statm``), over 1000 extension objects each of
which compressed and inflated one 41 KiB message, so that every page of
zlib's state is touched, divided by 1000. zlib allocates with ``malloc``,
which ``tracemalloc`` does not see. With zlib 1.2.13 on x86-64 Linux:

- server defaults, 12-bit windows both ways: 51 KiB per connection;
- client defaults, 12-bit window out, 15-bit window in (the server picks
  its own window): 79 KiB per connection;
- 15-bit windows both ways, memLevel 5: 173 KiB per connection;
- no context takeover either way, between messages: 0.2 KiB.

Backend
-------

Only the standard library's :mod:`zlib` is used. ``bench/deflate_backends.py``
compared it with ``zlib-ng`` (``zlib_ng.zlib_ng``) and ``isal``
(``isal.isal_zlib``), with the settings above, best of 40 interleaved rounds
on a shared 2-core machine:

- zlib-ng: 0.44-0.63x zlib's time on one 1 MiB text message, but 0.82-0.86x
  on 1000 JSON messages of about 100 bytes, the common case. It is
  API-compatible, but its deflate state ignores memLevel: 164 KiB, and
  41 KiB to inflate, four times zlib's 38 + 12 KiB per connection.
- isal: 0.14-0.23x on the large message but 1.06-1.4x on the small ones; it
  takes levels 0-3 only and holds 141 + 68 KiB per connection.

Neither is clearly faster on typical traffic, and both break the memory
budget, so neither is imported even when installed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from ..exceptions import (
    DuplicateParameter,
    InvalidParameterName,
    InvalidParameterValue,
    NegotiationError,
    PayloadTooBig,
    ProtocolError,
)
from ..frames import OP_CONT, Frame
from .base import (
    ClientExtensionFactory,
    Extension,
    ExtensionParameter,
    ServerExtensionFactory,
)

__all__ = [
    "DEFAULT_COMPRESS_SETTINGS",
    "DEFAULT_WINDOW_BITS",
    "ClientPerMessageDeflateFactory",
    "PerMessageDeflate",
    "ServerPerMessageDeflateFactory",
    "client_extensions",
    "enable_client_permessage_deflate",
    "enable_server_permessage_deflate",
    "server_extensions",
]

NAME = "permessage-deflate"

#: The window bits that :func:`enable_server_permessage_deflate` asks for in
#: both directions, and that :func:`enable_client_permessage_deflate` uses to
#: compress. See "Memory" above.
DEFAULT_WINDOW_BITS = 12

#: The zlib settings used when none are given: memLevel 5 sizes the hash
#: table and the symbol buffer at 16 KiB together, against 128 KiB at zlib's
#: default of 8. The level stays at zlib's default, 6.
DEFAULT_COMPRESS_SETTINGS: dict[str, Any] = {"memLevel": 5}

# The four bytes a sync flush ends with (§7.2.1), and that the receiver
# appends back before inflating (§7.2.2).
_SYNC_TAIL = b"\x00\x00\xff\xff"

# §7.1.2.1, §7.1.2.2: a decimal integer from 8 to 15, without leading zeroes.
_WINDOW_BITS = {str(bits): bits for bits in range(8, 16)}

_COMPRESS_KEYWORDS = frozenset({"level", "memLevel", "strategy"})


def _check_window_bits(name: str, bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 8 <= bits <= 15:
        raise ValueError(f"{name} must be an integer from 8 to 15, got {bits!r}")


class PerMessageDeflate(Extension):
    """permessage-deflate on one connection (RFC 7692 §7).

    "Local" is this endpoint's sending direction, "remote" the peer's.

    Args:
        remote_no_context_takeover: the peer restarts its stream at each
            message; inflate each message with a fresh window.
        local_no_context_takeover: restart our stream at each message.
        remote_max_window_bits: the peer's window, 8 to 15.
        local_max_window_bits: our window, 8 to 15 (8 compresses with 9;
            see the module's notes).
        compress_settings: ``level``, ``memLevel`` and ``strategy`` for
            :func:`zlib.compressobj`, over :data:`DEFAULT_COMPRESS_SETTINGS`.
            The window comes from the negotiation, not from here.

    Raises:
        ValueError: window bits out of range, or an unknown or ``wbits``
            key in ``compress_settings``.
    """

    name = NAME
    reserved_bits = 0x40  # RSV1, §6

    def __init__(
        self,
        remote_no_context_takeover: bool,
        local_no_context_takeover: bool,
        remote_max_window_bits: int,
        local_max_window_bits: int,
        compress_settings: dict[str, Any] | None = None,
    ) -> None:
        _check_window_bits("remote_max_window_bits", remote_max_window_bits)
        _check_window_bits("local_max_window_bits", local_max_window_bits)
        settings = dict(DEFAULT_COMPRESS_SETTINGS)
        if compress_settings is not None:
            unknown = set(compress_settings) - _COMPRESS_KEYWORDS
            if unknown:
                raise ValueError(f"unsupported compress_settings: {sorted(unknown)}")
            settings.update(compress_settings)
        self.remote_no_context_takeover = remote_no_context_takeover
        self.local_no_context_takeover = local_no_context_takeover
        self.remote_max_window_bits = remote_max_window_bits
        self.local_max_window_bits = local_max_window_bits
        self.compress_settings = settings
        # Negative wbits select a raw DEFLATE stream, without zlib's header.
        self._inflate_wbits = -max(remote_max_window_bits, 9)
        self._deflate_wbits = -max(local_max_window_bits, 9)
        # zlib objects are made on first use, and dropped after each message
        # without context takeover, so an idle connection holds none.
        self._decoder: zlib._Decompress | None = None
        self._encoder: zlib._Compress | None = None
        # True while the incoming message is a compressed one (§6: RSV1 on
        # its first frame).
        self._decoding = False

    def __repr__(self) -> str:
        return (
            f"PerMessageDeflate(remote_no_context_takeover="
            f"{self.remote_no_context_takeover}, local_no_context_takeover="
            f"{self.local_no_context_takeover}, remote_max_window_bits="
            f"{self.remote_max_window_bits}, local_max_window_bits="
            f"{self.local_max_window_bits})"
        )

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        """Inflate an incoming frame of a compressed message (§7.2.2).

        Control frames, and every frame of a message whose first frame has
        RSV1 clear, pass through unchanged.

        Args:
            frame: the frame as received.
            max_size: how many more bytes the message may grow by, or None.

        Returns:
            The frame with its data inflated and RSV1 cleared.

        Raises:
            ProtocolError: RSV1 on a continuation frame (§6), or data that
                is not valid DEFLATE (§7.2.2).
            PayloadTooBig: the frame inflates to more than ``max_size``
                bytes; inflating stopped one byte past it.
        """
        opcode = frame.opcode
        if opcode is OP_CONT:
            if frame.rsv1:
                raise ProtocolError("RSV1 set on a continuation frame")
            if not self._decoding:
                return frame
        elif opcode >= 0x8 or not frame.rsv1:
            return frame
        else:
            self._decoding = True

        decoder = self._decoder
        if decoder is None:
            decoder = self._decoder = zlib.decompressobj(wbits=self._inflate_wbits)
        # decompress() takes 0 as "no bound".
        bound = 0 if max_size is None else max_size + 1
        try:
            if decoder.eof:
                # §7.2.3.4: a block with BFINAL set ended the stream; what
                # follows in the message is padding. Not feeding it to zlib
                # spares a copy of it into unused_data per frame.
                data = b""
            else:
                data = decoder.decompress(frame.data, bound)
                if max_size is not None and len(data) > max_size:
                    raise PayloadTooBig(f"message inflates past {max_size} bytes")
            if frame.fin:
                data = self._finish_message(decoder, data, max_size)
        except (zlib.error, PayloadTooBig) as exc:
            # The stream cannot go on. Dropping the decoder now frees zlib's
            # state and the input it did not consume, up to a frame's worth,
            # while the connection closes.
            self._decoder = None
            if isinstance(exc, PayloadTooBig):
                raise
            raise ProtocolError(f"invalid compressed data: {exc}") from exc
        return Frame(opcode, data, frame.fin, False, frame.rsv2, frame.rsv3)

    def _finish_message(
        self, decoder: zlib._Decompress, data: bytes, max_size: int | None
    ) -> bytes:
        """Feed the stripped tail back (§7.2.2) and end the message."""
        self._decoding = False
        if not decoder.eof:
            # A second call, rather than ``frame.data + _SYNC_TAIL``, so that a
            # large payload is not copied just to add four bytes.
            bound = 0 if max_size is None else max_size + 1 - len(data)
            tail = decoder.decompress(_SYNC_TAIL, bound)
            if tail:
                # Only a peer that did not end with a sync flush gets here.
                if max_size is not None and len(data) + len(tail) > max_size:
                    raise PayloadTooBig(f"message inflates past {max_size} bytes")
                data += tail
        if self.remote_no_context_takeover or decoder.eof:
            # After BFINAL, the peer's next message starts a new stream.
            self._decoder = None
        return data

    def encode(self, frame: Frame) -> Frame:
        """Compress an outgoing data frame (§7.2.1).

        Every data message is compressed. The first frame gets RSV1;
        continuation frames extend the same stream without it (§6). Each
        frame ends with a sync flush; the final frame's ``00 00 ff ff`` is
        stripped, which leaves a single ``00`` byte for an empty message
        (§7.2.3.6). Control frames pass through unchanged.
        """
        opcode = frame.opcode
        if opcode >= 0x8:
            return frame
        encoder = self._encoder
        if encoder is None:
            encoder = self._encoder = zlib.compressobj(
                wbits=self._deflate_wbits, **self.compress_settings
            )
        # compress() must run even for empty data: it resets zlib's record
        # of the last flush, without which a second flush in a row is a
        # no-op that outputs nothing, not even the empty block.
        data = encoder.compress(frame.data)
        flushed = encoder.flush(zlib.Z_SYNC_FLUSH)
        if frame.fin:
            flushed = flushed[:-4]
            if self.local_no_context_takeover:
                self._encoder = None
        # The slice above and this join copy compressed bytes only, fewer
        # than went in, and far cheaper than deflating them.
        data = data + flushed if data else flushed
        return Frame(opcode, data, frame.fin, opcode is not OP_CONT, frame.rsv2, frame.rsv3)


def _parse_params(
    params: Sequence[ExtensionParameter], *, response: bool
) -> tuple[bool, bool, int | None, int | bool | None]:
    """Check the parameters of an offer or a response (§7.1).

    Returns:
        ``(server_no_context_takeover, client_no_context_takeover,
        server_max_window_bits, client_max_window_bits)``, where absent
        window bits are None and ``client_max_window_bits`` offered without
        a value is True.

    Raises:
        DuplicateParameter: a parameter appears twice (§7.1).
        InvalidParameterName: a parameter is unknown (§7.1).
        InvalidParameterValue: a value is missing, present where none is
            allowed, or not a window size of 8 to 15 (§7.1.1, §7.1.2). In a
            response, ``client_max_window_bits`` needs a value (§7.1.2.2).
    """
    seen: set[str] = set()
    server_no_context_takeover = False
    client_no_context_takeover = False
    server_max_window_bits: int | None = None
    client_max_window_bits: int | bool | None = None
    for name, value in params:
        if name in seen:
            raise DuplicateParameter(name)
        seen.add(name)
        if name == "server_no_context_takeover" or name == "client_no_context_takeover":
            if value is not None:
                raise InvalidParameterValue(name, value)
            if name[0] == "s":
                server_no_context_takeover = True
            else:
                client_no_context_takeover = True
        elif name == "server_max_window_bits":
            server_max_window_bits = _window_bits(name, value)
        elif name == "client_max_window_bits":
            if value is None and not response:
                client_max_window_bits = True
            else:
                client_max_window_bits = _window_bits(name, value)
        else:
            raise InvalidParameterName(name)
    return (
        server_no_context_takeover,
        client_no_context_takeover,
        server_max_window_bits,
        client_max_window_bits,
    )


def _window_bits(name: str, value: str | None) -> int:
    bits = _WINDOW_BITS.get(value) if value is not None else None
    if bits is None:
        raise InvalidParameterValue(name, value)
    return bits


def _refuse_second(accepted_extensions: Sequence[Extension]) -> None:
    # Two permessage-deflate on one connection would both claim RSV1 (§6).
    if any(extension.name == NAME for extension in accepted_extensions):
        raise NegotiationError(f"{NAME} is already accepted")


class ClientPerMessageDeflateFactory(ClientExtensionFactory):
    """Offers permessage-deflate from a client (RFC 7692 §7.1).

    Args:
        server_no_context_takeover: ask the server to restart its stream at
            each message (§7.1.1.1); the server must agree.
        client_no_context_takeover: restart our stream at each message, and
            tell the server so (§7.1.1.2).
        server_max_window_bits: ask the server to use at most this window,
            8 to 15 (§7.1.2.1); None to let it choose. A server that does
            not support this parameter declines the whole offer.
        client_max_window_bits: None not to offer it; True to offer it
            without a value, letting the server choose our window; or 8 to
            15, a promise to use at most that window (§7.1.2.2).
        compress_settings: see :class:`PerMessageDeflate`.

    Raises:
        ValueError: a window size is out of range.
    """

    name = NAME

    def __init__(
        self,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | bool | None = True,
        compress_settings: dict[str, Any] | None = None,
    ) -> None:
        if server_max_window_bits is not None:
            _check_window_bits("server_max_window_bits", server_max_window_bits)
        if client_max_window_bits is False:
            client_max_window_bits = None
        if client_max_window_bits is not None and client_max_window_bits is not True:
            _check_window_bits("client_max_window_bits", client_max_window_bits)
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits: int | bool | None = client_max_window_bits
        self.compress_settings = compress_settings

    def get_request_params(self) -> list[ExtensionParameter]:
        """Return the offer, in the order of RFC 7692 §7.1."""
        params: list[ExtensionParameter] = []
        if self.server_no_context_takeover:
            params.append(("server_no_context_takeover", None))
        if self.client_no_context_takeover:
            params.append(("client_no_context_takeover", None))
        if self.server_max_window_bits is not None:
            params.append(("server_max_window_bits", str(self.server_max_window_bits)))
        if self.client_max_window_bits is True:
            params.append(("client_max_window_bits", None))
        elif self.client_max_window_bits is not None:
            params.append(("client_max_window_bits", str(self.client_max_window_bits)))
        return params

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> PerMessageDeflate:
        """Check the server's answer to our offer and build the extension.

        Raises:
            NegotiationError: the answer breaks RFC 7692 §7.1 or does not
                match the offer: server_no_context_takeover offered but not
                answered (§7.1.1.1); server_max_window_bits offered but not
                answered, or answered larger (§7.1.2.1);
                client_max_window_bits answered though not offered
                (§7.1.2.2); or permessage-deflate is already accepted. Its
                subclasses report a duplicate, unknown or malformed parameter.

        A client_max_window_bits answer larger than the value offered is
        accepted, and the client keeps to the window it offered. §7.1.2.2
        has the server answer the offered value or a smaller one; a larger
        answer (Autobahn|Testsuite 13.4.x and 13.6.x answer 15 to any value)
        only lets the client use a window it has already said it will not
        use, so keeping the smaller one satisfies both sides.
        """
        _refuse_second(accepted_extensions)
        server_nct, client_nct, server_bits, client_bits = _parse_params(params, response=True)
        if self.server_no_context_takeover and not server_nct:
            raise NegotiationError("server did not accept server_no_context_takeover")
        offered_server_bits = self.server_max_window_bits
        if offered_server_bits is not None:
            if server_bits is None:
                raise NegotiationError("server did not accept server_max_window_bits")
            if server_bits > offered_server_bits:
                raise NegotiationError(
                    f"server_max_window_bits={server_bits} exceeds the offered "
                    f"{offered_server_bits}"
                )
        offered_client_bits = self.client_max_window_bits
        if client_bits is not None:
            if offered_client_bits is None:
                raise NegotiationError("unsolicited client_max_window_bits")
            if offered_client_bits is True:
                local_bits = client_bits
            else:
                local_bits = min(client_bits, offered_client_bits)
        elif offered_client_bits is None or offered_client_bits is True:
            local_bits = 15
        else:
            # §7.1.2.2: the value offered is a limit we set ourselves.
            local_bits = offered_client_bits
        return PerMessageDeflate(
            remote_no_context_takeover=server_nct,
            # §7.1.1.2: offering it is a promise, whatever the server says.
            local_no_context_takeover=self.client_no_context_takeover or client_nct,
            remote_max_window_bits=15 if server_bits is None else server_bits,
            local_max_window_bits=local_bits,
            compress_settings=self.compress_settings,
        )


class ServerPerMessageDeflateFactory(ServerExtensionFactory):
    """Accepts permessage-deflate offers on a server (RFC 7692 §7.1).

    Args:
        server_no_context_takeover: restart our stream at each message, and
            say so (§7.1.1.1). Done anyway when the client asks for it.
        client_no_context_takeover: ask the client to restart its stream at
            each message (§7.1.1.2). Also answered when the client offers it.
        server_max_window_bits: our window, 8 to 15, answered to every
            client; a client's smaller offer wins (§7.1.2.1). None to answer
            only when asked, with the value asked.
        client_max_window_bits: the largest window the client may use, 8 to
            15, answered when the client offers the parameter; a client's
            smaller value wins (§7.1.2.2). None to leave it to the client.
        compress_settings: see :class:`PerMessageDeflate`.
        require_client_max_window_bits: decline clients that do not offer
            client_max_window_bits, and so could use a 15-bit window.

    Raises:
        ValueError: a window size is out of range, or
            ``require_client_max_window_bits`` is set without
            ``client_max_window_bits``.
    """

    name = NAME

    def __init__(
        self,
        server_no_context_takeover: bool = False,
        client_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
        client_max_window_bits: int | None = None,
        compress_settings: dict[str, Any] | None = None,
        require_client_max_window_bits: bool = False,
    ) -> None:
        if server_max_window_bits is not None:
            _check_window_bits("server_max_window_bits", server_max_window_bits)
        if client_max_window_bits is not None:
            _check_window_bits("client_max_window_bits", client_max_window_bits)
        elif require_client_max_window_bits:
            raise ValueError("require_client_max_window_bits needs client_max_window_bits")
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.compress_settings = compress_settings
        self.require_client_max_window_bits = require_client_max_window_bits

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        """Answer one offer (RFC 7692 §7.1) and build the extension.

        Returns:
            The parameters of the answer, in the order of §7.1, and the
            extension.

        Raises:
            NegotiationError: the offer is malformed (its subclasses), the
                client does not offer client_max_window_bits while it is
                required, or permessage-deflate is already accepted. The
                server may then accept another offer.
        """
        _refuse_second(accepted_extensions)
        server_nct, client_nct, server_bits, client_bits = _parse_params(params, response=False)
        answer: list[ExtensionParameter] = []

        # §7.1.1.1: asked for, it must be granted.
        server_nct = server_nct or self.server_no_context_takeover
        if server_nct:
            answer.append(("server_no_context_takeover", None))

        # §7.1.1.2: echoing the client's own promise confirms it.
        client_nct = client_nct or self.client_no_context_takeover
        if client_nct:
            answer.append(("client_no_context_takeover", None))

        # §7.1.2.1: answer the value asked for, or a smaller one.
        local_bits = self.server_max_window_bits
        if server_bits is not None and (local_bits is None or server_bits < local_bits):
            local_bits = server_bits
        if local_bits is not None:
            answer.append(("server_max_window_bits", str(local_bits)))

        # §7.1.2.2: only a client that offered the parameter may be answered
        # with it, and not with more than it offered.
        if client_bits is None:
            if self.require_client_max_window_bits:
                raise NegotiationError("client did not offer client_max_window_bits")
            remote_bits = 15
        else:
            offered = 15 if client_bits is True else int(client_bits)
            remote_bits = offered
            if self.client_max_window_bits is not None:
                remote_bits = min(offered, self.client_max_window_bits)
                answer.append(("client_max_window_bits", str(remote_bits)))

        return answer, PerMessageDeflate(
            remote_no_context_takeover=client_nct,
            local_no_context_takeover=server_nct,
            remote_max_window_bits=remote_bits,
            local_max_window_bits=15 if local_bits is None else local_bits,
            compress_settings=self.compress_settings,
        )


def enable_client_permessage_deflate(
    extensions: Sequence[ClientExtensionFactory] | None,
) -> list[ClientExtensionFactory]:
    """Add permessage-deflate to a client's offers, unless it is there.

    The factory added promises a window of :data:`DEFAULT_WINDOW_BITS`
    (``client_max_window_bits=12``) and compresses with
    :data:`DEFAULT_COMPRESS_SETTINGS`. It leaves the server's window to the
    server: asking for server_max_window_bits makes a server that does not
    support it decline the extension altogether (§7.1.2.1).

    Returns:
        A new list; ``extensions`` is not modified.
    """
    factories = list(extensions or ())
    if not any(factory.name == NAME for factory in factories):
        factories.append(ClientPerMessageDeflateFactory(client_max_window_bits=DEFAULT_WINDOW_BITS))
    return factories


def enable_server_permessage_deflate(
    extensions: Sequence[ServerExtensionFactory] | None,
) -> list[ServerExtensionFactory]:
    """Add permessage-deflate to a server's extensions, unless it is there.

    The factory added answers ``server_max_window_bits=12`` and, to clients
    that offer the parameter, ``client_max_window_bits=12``
    (:data:`DEFAULT_WINDOW_BITS`), and compresses with
    :data:`DEFAULT_COMPRESS_SETTINGS`.

    Returns:
        A new list; ``extensions`` is not modified.
    """
    factories = list(extensions or ())
    if not any(factory.name == NAME for factory in factories):
        factories.append(
            ServerPerMessageDeflateFactory(
                server_max_window_bits=DEFAULT_WINDOW_BITS,
                client_max_window_bits=DEFAULT_WINDOW_BITS,
            )
        )
    return factories


def _check_compression(compression: str | None) -> bool:
    if compression is None:
        return False
    if compression != "deflate":
        raise ValueError(f"unsupported compression: {compression!r}; use 'deflate' or None")
    return True


def client_extensions(
    extensions: Sequence[ClientExtensionFactory] | None, compression: str | None
) -> list[ClientExtensionFactory]:
    """Apply the I/O layers' ``compression`` option to a client's extensions.

    Args:
        extensions: the extensions the application asked for.
        compression: ``"deflate"`` to offer permessage-deflate with the
            defaults of :func:`enable_client_permessage_deflate`, None not to.

    Raises:
        ValueError: ``compression`` is neither ``"deflate"`` nor None.
    """
    if _check_compression(compression):
        return enable_client_permessage_deflate(extensions)
    return list(extensions or ())


def server_extensions(
    extensions: Sequence[ServerExtensionFactory] | None, compression: str | None
) -> list[ServerExtensionFactory]:
    """Apply the I/O layers' ``compression`` option to a server's extensions.

    Args:
        extensions: the extensions the application asked for.
        compression: ``"deflate"`` to accept permessage-deflate with the
            defaults of :func:`enable_server_permessage_deflate`, None not to.

    Raises:
        ValueError: ``compression`` is neither ``"deflate"`` nor None.
    """
    if _check_compression(compression):
        return enable_server_permessage_deflate(extensions)
    return list(extensions or ())

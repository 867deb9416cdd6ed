"""Protocol-level adapters: one way to drive each library without any I/O.

Every adapter offers the same two operations:

- a *parser* takes a list of reads (bytes objects, as a socket hands them
  over), feeds them in order, fetches the events after each read, and
  delivers every complete message as an application gets it: ``str`` for
  Text, ``bytes`` for Binary, fragments joined. It returns the number of
  complete messages. Libraries that hand out frames (sansws, websockets,
  picows) are assembled and decoded here; wsproto and aiohttp do it
  themselves.
- a *sender* takes a list of payloads and sends each as one message, then
  collects the bytes to write (``data_to_send()`` or a stub transport's
  ``write``). Text payloads arrive as ``str`` and are encoded inside the
  timed loop for every library, because wsproto does it internally.

A factory returns a string instead of a callable when the library has no
Sans-I/O entry point for the workload; the string says why (the cell is n/a).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

ParseFn = Callable[[list[bytes]], int]
SendFn = Callable[[list[Any]], int]
Factory = Callable[..., "ParseFn | SendFn | str"]

IMPLS = ["sansws", "websockets", "wsproto", "aiohttp", "picows"]


# A loop for the libraries that want one at construction (picows, aiohttp's
# queue); nothing is scheduled on it during the measurements.
_loop: asyncio.AbstractEventLoop | None = None


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
    return _loop


def sansws_deflate() -> Any | None:
    """Return sansws's PerMessageDeflate class, or None before it lands."""
    try:
        from sansws.extensions.permessage_deflate import PerMessageDeflate
    except ImportError:
        return None
    return PerMessageDeflate


# Frame-level libraries: assemble and decode like an application ----------


def _frame_consumer(op_text: Any, op_binary: Any, op_cont: Any) -> Callable[[list[Any]], int]:
    """Turn frames (``opcode``, ``data``, ``fin``) into messages; count them."""
    parts: list[bytes] = []
    text = False

    def consume(frames: list[Any]) -> int:
        nonlocal text
        done = 0
        for frame in frames:
            opcode = frame.opcode
            if opcode is op_cont:
                parts.append(frame.data)
                if frame.fin:
                    data = b"".join(parts)
                    if text:
                        data.decode()
                    parts.clear()
                    done += 1
            elif opcode is op_text:
                if frame.fin:
                    frame.data.decode()
                    done += 1
                else:
                    text = True
                    parts.append(frame.data)
            elif opcode is op_binary:
                if frame.fin:
                    done += 1
                else:
                    text = False
                    parts.append(frame.data)
        return done

    return consume


# sansws ---------------------------------------------------------------------


def _sansws_consumer() -> Callable[[list[Any]], int]:
    """Like :func:`_frame_consumer`, with the ``str`` sansws keeps in ``Frame.text``.

    sansws decodes Text while validating it and keeps the result, as
    ``sansws.asyncio`` delivers it; an application does not decode again.
    """
    from sansws.frames import OP_BINARY, OP_CONT, OP_TEXT

    parts: list[Any] = []
    text = False

    def consume(frames: list[Any]) -> int:
        nonlocal text
        done = 0
        for frame in frames:
            opcode = frame.opcode
            if opcode is OP_TEXT:
                text = True
            elif opcode is OP_BINARY:
                text = False
            elif opcode is not OP_CONT:
                continue
            if frame.fin and not parts:
                if text and frame.text is None:
                    frame.data.decode()
                done += 1
                continue
            if text:
                parts.append(frame.text if frame.text is not None else frame.data.decode())
            else:
                parts.append(frame.data)
            if frame.fin:
                ("" if text else b"").join(parts)
                parts.clear()
                done += 1
        return done

    return consume


# zlib settings for every library's deflate cells: the same for all, not each
# library's defaults (sansws's memLevel is 5), so the rows compare libraries.
DEFLATE_SETTINGS: dict[str, int] = {"level": 6, "memLevel": 8}


def sansws_protocol(side: str, deflate: bool) -> Any:
    from sansws.protocol import Protocol, Side

    protocol = Protocol(Side.SERVER if side == "server" else Side.CLIENT, max_size=None)
    if deflate:
        extension = sansws_deflate()
        assert extension is not None
        protocol.extensions = [extension(False, False, 15, 15, DEFLATE_SETTINGS)]
    return protocol


def sansws_parser(deflate: bool = False) -> ParseFn | str:
    if deflate and sansws_deflate() is None:
        return "PerMessageDeflate not landed yet"

    protocol = sansws_protocol("server", deflate)
    receive_data = protocol.receive_data
    events_received = protocol.events_received
    consume = _sansws_consumer()

    def parse(chunks: list[bytes]) -> int:
        done = 0
        for chunk in chunks:
            receive_data(chunk)
            done += consume(events_received())
        return done

    return parse


def sansws_sender(side: str, text: bool, deflate: bool = False) -> SendFn | str:
    if deflate and sansws_deflate() is None:
        return "PerMessageDeflate not landed yet"
    protocol = sansws_protocol(side, deflate)
    send = protocol.send_text if text else protocol.send_binary
    data_to_send = protocol.data_to_send

    def run(payloads: list[Any]) -> int:
        for payload in payloads:
            send(payload.encode() if text else payload)
            data_to_send()
        return len(payloads)

    return run


# websockets -----------------------------------------------------------------


def websockets_protocol(side: str, deflate: bool) -> Any:
    from websockets.protocol import OPEN, Protocol, Side

    protocol = Protocol(Side.SERVER if side == "server" else Side.CLIENT, state=OPEN, max_size=None)
    if deflate:
        from websockets.extensions.permessage_deflate import PerMessageDeflate

        protocol.extensions = [PerMessageDeflate(False, False, 15, 15, DEFLATE_SETTINGS)]
    return protocol


def websockets_parser(deflate: bool = False) -> ParseFn | str:
    from websockets.frames import Opcode

    protocol = websockets_protocol("server", deflate)
    receive_data = protocol.receive_data
    events_received = protocol.events_received
    consume = _frame_consumer(Opcode.TEXT, Opcode.BINARY, Opcode.CONT)

    def parse(chunks: list[bytes]) -> int:
        done = 0
        for chunk in chunks:
            receive_data(chunk)
            done += consume(events_received())
        return done

    return parse


def websockets_sender(side: str, text: bool, deflate: bool = False) -> SendFn | str:
    protocol = websockets_protocol(side, deflate)
    send = protocol.send_text if text else protocol.send_binary
    data_to_send = protocol.data_to_send

    def run(payloads: list[Any]) -> int:
        for payload in payloads:
            send(payload.encode() if text else payload)
            data_to_send()
        return len(payloads)

    return run


# wsproto --------------------------------------------------------------------


def wsproto_connection(side: str, deflate: bool) -> Any:
    from wsproto.connection import Connection, ConnectionType
    from wsproto.extensions import PerMessageDeflate

    extensions: list[Any] = []
    if deflate:
        # Level 6, memLevel 8, 15 window bits: zlib's defaults, which wsproto uses.
        extension = PerMessageDeflate()
        if side == "server":
            extension.accept("permessage-deflate")
        else:
            extension.finalize("permessage-deflate")
        extensions.append(extension)
    kind = ConnectionType.SERVER if side == "server" else ConnectionType.CLIENT
    return Connection(kind, extensions=extensions)


def wsproto_parser(deflate: bool = False) -> ParseFn | str:
    from wsproto.events import Message

    connection = wsproto_connection("server", deflate)
    receive_data = connection.receive_data
    events = connection.events
    # wsproto hands out a large message in pieces, one per read.
    parts: list[Any] = []

    def parse(chunks: list[bytes]) -> int:
        done = 0
        for chunk in chunks:
            receive_data(chunk)
            for event in events():
                if isinstance(event, Message):
                    if event.message_finished:
                        if parts:
                            parts.append(event.data)
                            if isinstance(event.data, str):
                                "".join(parts)
                            else:
                                b"".join(parts)
                            parts.clear()
                        done += 1
                    else:
                        parts.append(event.data)
        return done

    return parse


def wsproto_sender(side: str, text: bool, deflate: bool = False) -> SendFn | str:
    from wsproto.events import Message

    connection = wsproto_connection(side, deflate)
    send = connection.send

    def run(payloads: list[Any]) -> int:
        # A str payload makes a Text message: wsproto encodes it itself.
        for payload in payloads:
            send(Message(data=payload))
        return len(payloads)

    return run


# aiohttp --------------------------------------------------------------------


class _StubProtocol:
    """What aiohttp's reader queue and writer ask of their protocol."""

    _reading_paused = False
    _paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


class _StubTransport:
    """An asyncio transport that keeps what is written until it is cleared."""

    def __init__(self) -> None:
        self.written: list[Any] = []
        self.write = self.written.append
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def writelines(self, data: list[Any]) -> None:
        self.written.extend(data)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._socket
        if name in ("peername", "sockname"):
            return ("127.0.0.1", 0)
        return default

    def close(self) -> None:
        self._socket.close()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def aiohttp_parser(deflate: bool = False) -> ParseFn | str:
    from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader

    queue = WebSocketDataQueue(_StubProtocol(), 2**30, loop=_get_loop())  # type: ignore[arg-type]
    reader = WebSocketReader(queue, 0, compress=deflate, decode_text=True)
    feed_data = reader.feed_data
    pending = queue._buffer
    read = queue.read

    def parse(chunks: list[bytes]) -> int:
        done = 0
        for chunk in chunks:
            feed_data(chunk)
            while pending:
                # queue.read() returns at once when a message is queued.
                coroutine = read()
                try:
                    coroutine.send(None)
                except StopIteration:
                    done += 1
                else:  # pragma: no cover - would mean read() had to wait
                    coroutine.close()
                    raise RuntimeError("aiohttp queue.read() suspended")
        if reader.feed_data(b"")[0]:
            raise RuntimeError("aiohttp reader failed")
        return done

    return parse


def aiohttp_sender(side: str, text: bool, deflate: bool = False) -> SendFn | str:
    if deflate:
        return "compression level fixed at 1; frames > 16 KiB compress in a thread"
    from aiohttp._websocket.writer import WebSocketWriter

    transport = _StubTransport()
    writer = WebSocketWriter(
        _StubProtocol(),  # type: ignore[arg-type]
        transport,  # type: ignore[arg-type]
        use_mask=side == "client",
        limit=2**62,
    )
    send_frame = writer.send_frame
    written = transport.written
    opcode = 1 if text else 2

    def run(payloads: list[Any]) -> int:
        for payload in payloads:
            # send_frame() finishes without suspending when not compressing.
            coroutine = send_frame(payload.encode() if text else payload, opcode)
            try:
                coroutine.send(None)
            except StopIteration:
                pass
            else:  # pragma: no cover
                coroutine.close()
                raise RuntimeError("aiohttp send_frame() suspended")
            written.clear()
        return len(payloads)

    return run


# picows ---------------------------------------------------------------------

_UPGRADE_REQUEST = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def _picows_feed(protocol: Any, data: bytes) -> None:
    """Do what asyncio does for a BufferedProtocol: copy into its buffer, announce."""
    view = memoryview(data)
    while view:
        buffer = protocol.get_buffer(-1)
        size = min(len(buffer), len(view))
        buffer[:size] = view[:size]
        protocol.buffer_updated(size)
        view = view[size:]


def picows_parser(deflate: bool = False) -> ParseFn | str:
    if deflate:
        return "no permessage-deflate"
    from picows import WSAutoPingStrategy, WSListener, WSMsgType
    from picows.picows import WSProtocol  # type: ignore[attr-defined]

    text_type, binary_type, cont_type = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION

    class Listener(WSListener):
        def __init__(self) -> None:
            self.done = 0
            self.parts: list[bytes] = []
            self.text = False

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            msg_type = frame.msg_type
            if msg_type == cont_type:
                self.parts.append(frame.get_payload_as_bytes())
                if frame.fin:
                    data = b"".join(self.parts)
                    if self.text:
                        data.decode()
                    self.parts.clear()
                    self.done += 1
            elif msg_type == text_type:
                if frame.fin:
                    frame.get_payload_as_utf8_text()
                    self.done += 1
                else:
                    self.text = True
                    self.parts.append(frame.get_payload_as_bytes())
            elif msg_type == binary_type:
                if frame.fin:
                    frame.get_payload_as_bytes()
                    self.done += 1
                else:
                    self.text = False
                    self.parts.append(frame.get_payload_as_bytes())

    listener = Listener()

    async def build() -> Any:
        protocol = WSProtocol(
            None,
            None,
            False,
            lambda request: listener,
            logging.getLogger("bench.picows"),
            True,
            None,
            False,
            10.0,
            10.0,
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,
            2**30,
            None,
            16 * 1024,
        )
        protocol.connection_made(_StubTransport())
        _picows_feed(protocol, _UPGRADE_REQUEST)
        return protocol

    protocol = _get_loop().run_until_complete(build())

    def parse(chunks: list[bytes]) -> int:
        before = listener.done
        for chunk in chunks:
            _picows_feed(protocol, chunk)
        return listener.done - before

    return parse


def picows_sender(side: str, text: bool, deflate: bool = False) -> SendFn | str:
    if deflate:
        return "no permessage-deflate"
    from picows import WSMsgType, WSTransport

    stub = _StubTransport()

    async def build() -> Any:
        logger = logging.getLogger("bench.picows")
        return WSTransport(side == "client", stub, logger, _get_loop())  # type: ignore[call-arg]

    transport = _get_loop().run_until_complete(build())
    send = transport.send
    written = stub.written
    msg_type = WSMsgType.TEXT if text else WSMsgType.BINARY

    def run(payloads: list[Any]) -> int:
        for payload in payloads:
            send(msg_type, payload.encode() if text else payload)
            written.clear()
        return len(payloads)

    return run


PARSERS: dict[str, Callable[..., ParseFn | str]] = {
    "sansws": sansws_parser,
    "websockets": websockets_parser,
    "wsproto": wsproto_parser,
    "aiohttp": aiohttp_parser,
    "picows": picows_parser,
}

SENDERS: dict[str, Callable[..., SendFn | str]] = {
    "sansws": sansws_sender,
    "websockets": websockets_sender,
    "wsproto": wsproto_sender,
    "aiohttp": aiohttp_sender,
    "picows": picows_sender,
}

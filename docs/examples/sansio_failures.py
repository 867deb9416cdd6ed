"""How the core reports a peer's error: an event, never an exception.

A client receives two server frames in one read: a valid Text frame, then a
Text frame that is not valid UTF-8. First with the default behavior, then
with ``hold_failures``, as the asyncio layer sets it.
"""

from sansws import CLIENT, Protocol


def server_text_frame(payload: bytes) -> bytes:
    """A final, unmasked Text frame, as a server sends it (RFC 6455 §5.2)."""
    return bytes([0x81, len(payload)]) + payload


def queued(protocol: Protocol) -> list[str]:
    """The kinds of the frames waiting to be written (small frames: one per chunk)."""
    kinds = {0x81: "Text", 0x88: "Close"}
    return [kinds.get(chunk[0], hex(chunk[0])) for chunk in protocol.data_to_send() if chunk]


wire = server_text_frame(b"question?") + server_text_frame(b"caf\xe9!")  # Latin-1, not UTF-8

print("default:")
protocol = Protocol(CLIENT)
protocol.receive_data(wire)  # does not raise
print("  events:", [frame.data for frame in protocol.events_received()])
print("  state:", protocol.state.name, "| cause:", repr(protocol.parser_exc))
print("  queued:", queued(protocol), "with", protocol.close_sent)

print("hold_failures:")
protocol = Protocol(CLIENT)
protocol.hold_failures = True
protocol.receive_data(wire)
print("  events:", [frame.data for frame in protocol.events_received()])
print("  state:", protocol.state.name, "| failure held:", protocol.failure_held)
protocol.send_text(b"answer!")  # the application answers the first message
print("  queued:", queued(protocol))
protocol.release_failure()  # the application has taken every message
print("  state:", protocol.state.name, "| queued:", queued(protocol), "with", protocol.close_sent)
assert protocol.close_sent is not None and protocol.close_sent.code == 1007

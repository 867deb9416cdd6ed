"""A client and a server Protocol exchange a message in memory (no sockets).

Run: python examples/in_memory.py
"""

from sansws.client import ClientProtocol
from sansws.server import ServerProtocol


def pump(source, destination):
    """Carry every pending byte from one side to the other."""
    for chunk in source.data_to_send():
        if chunk:
            destination.receive_data(chunk)
        else:
            destination.receive_eof()


client = ClientProtocol("ws://localhost/chat")
server = ServerProtocol()

client.send_request(client.connect())
pump(client, server)
(request,) = server.events_received()
server.send_response(server.accept(request))
pump(server, client)
(response,) = client.events_received()
print(f"handshake: {response.status_code} {response.reason_phrase}")

client.send_text(b"Hello, world!")
pump(client, server)
(frame,) = server.events_received()
print(f"server received: {frame.data.decode()!r}")
server.send_text(frame.data)
pump(server, client)
(frame,) = client.events_received()
print(f"client received: {frame.data.decode()!r}")

client.send_close(1000, "done")
pump(client, server)  # the server echoes the close and half-closes
pump(server, client)  # the client sees the close, then the end of stream
pump(client, server)  # the client ends its side too
print(
    f"closed: client {client.close_code} {client.close_reason!r}, "
    f"server {server.close_code} {server.close_reason!r}"
)

"""A threaded server: refuse unknown paths, stop cleanly on SIGTERM.

``serve_forever()`` runs in the main thread, as in a real program. A client
in another thread is refused on a wrong path, then connects, and the script
sends SIGTERM to itself: the handler starts ``shutdown()`` in a thread of its
own, and the client is told 1001 (going away). Unix only.
"""

import http
import os
import signal
import threading

from sansws.exceptions import ConnectionClosed, InvalidStatus
from sansws.http11 import Request, Response
from sansws.sync import ServerConnection, connect, serve


def process_request(connection: ServerConnection, request: Request) -> Response | None:
    """Runs in the connection's thread, before the handshake."""
    if request.path != "/echo":
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not found.\n")
    return None


def echo(connection: ServerConnection) -> None:
    for message in connection:
        connection.send(message)


def client(port: int) -> None:
    try:
        connect(f"ws://127.0.0.1:{port}/nowhere")
    except InvalidStatus as exc:
        print("client: refused with", exc.response.status_code)
    with connect(f"ws://127.0.0.1:{port}/echo") as websocket:
        websocket.send("ping?")
        print("client: got", websocket.recv(timeout=5))
        os.kill(os.getpid(), signal.SIGTERM)  # as a process manager would
        try:
            websocket.recv(timeout=5)
        except ConnectionClosed as exc:
            print("client: the server closed with", exc.rcvd)


def main() -> None:
    with serve(echo, "127.0.0.1", 0, process_request=process_request, close_timeout=2) as server:

        def stop(signum, frame):
            # The handler runs in the main thread, above serve_forever(),
            # which shutdown() waits for: call it from another thread.
            threading.Thread(target=server.shutdown).start()

        signal.signal(signal.SIGTERM, stop)
        port = server.socket.getsockname()[1]
        playing = threading.Thread(target=client, args=(port,))
        playing.start()
        server.serve_forever()  # returns once shutdown() is called
    # Leaving the block waited for shutdown() to close every connection.
    playing.join()
    print("server: stopped")


if __name__ == "__main__":
    main()

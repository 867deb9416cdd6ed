"""Quick start: an echo server and a client on threads, in one script.

The server accepts connections in a thread of its own and runs the handler
in one thread per connection. The client, in the main thread, sends two
messages, prints the echoes, measures a round trip and closes; then the
server shuts down.
"""

import threading

from sansws.sync import ServerConnection, connect, serve


def echo(connection: ServerConnection) -> None:
    # Iterating over a connection yields messages until the peer closes.
    for message in connection:
        connection.send(message)


def main() -> None:
    with serve(echo, "127.0.0.1", 0) as server:
        host, port = server.socket.getsockname()[:2]
        # serve_forever() blocks until shutdown(): give it a thread.
        accepting = threading.Thread(target=server.serve_forever)
        accepting.start()

        with connect(f"ws://{host}:{port}/") as websocket:
            websocket.send("Hello, world!")  # str: a Text message
            print(websocket.recv(timeout=5))
            websocket.send(b"\x00\x01\x02")  # bytes: a Binary message
            print(websocket.recv(timeout=5))

            try:
                websocket.recv(timeout=0.1)  # nothing else is coming
            except TimeoutError:
                print("no message within 0.1 s")

            pong = websocket.ping()  # a PongWaiter: a future of the latency
            print(f"round trip: {pong.result(timeout=5) * 1000:.1f} ms")
        # Leaving the block closed the connection with 1000.

        server.shutdown()  # from any thread; leaving the block calls it too
        accepting.join()
    print("server stopped")


if __name__ == "__main__":
    main()

"""The command line: ``python -m sansws serve`` and ``sansws URI``.

Starts the echo server on a free port, reads the address it prints, then
runs the interactive client with two lines on its standard input: a message
and a Ping. End of input closes the connection with 1000.
"""

import signal
import subprocess
import sys

server = subprocess.Popen(
    [sys.executable, "-m", "sansws", "serve", "--port", "0"],
    stdout=subprocess.PIPE,
    text=True,
)
try:
    first_line = server.stdout.readline()  # "listening on ws://127.0.0.1:PORT"
    print("server:", first_line.strip())
    uri = first_line.split()[-1]

    # The installed "sansws" script and "python -m sansws" are the same program.
    client = subprocess.run(
        [sys.executable, "-m", "sansws", uri],
        input="Hello from the command line\n/ping\n",
        capture_output=True,
        text=True,
        timeout=10,
    )
    # Each line of the transcript starts with a timestamp; drop it.
    for line in client.stdout.splitlines():
        print("client:", line.split(" ", 1)[1])
    print("client exit status:", client.returncode)
finally:
    server.send_signal(signal.SIGINT)  # Ctrl-C: the server exits cleanly
    server.wait(timeout=10)
    server.stdout.close()

# Run by the Python 2.7 interpreter of .cache/autobahn/py27, NOT by Python 3:
#   .cache/autobahn/py27/bin/python tests/autobahn/wstest_loopback.py -m ... -s ...
# Keep this file valid for both Python 2.7 and 3 (ruff checks it as Python 3).
"""Run ``wstest`` with every listening socket bound to 127.0.0.1.

autobahntestsuite 25.10.1 ignores the host of the spec's ``url``:
``fuzzing.startServer`` calls ``autobahn.twisted.websocket.listenWS`` with its
default ``interface=''`` (all interfaces), and the optional web server
(``--webport``, 8080 by default) is started with ``reactor.listenTCP`` on all
interfaces too. This wrapper replaces the reactor's ``listenTCP`` and
``listenSSL`` before wstest starts, so that any address other than a loopback
one is turned into 127.0.0.1, then runs wstest's own command line entry point
with the same arguments.
"""

import sys

from autobahntestsuite import wstest
from twisted.internet import reactor

LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")

_listen_tcp = reactor.listenTCP
_listen_ssl = reactor.listenSSL


def _loopback(interface):
    # type: (str) -> str
    if interface in LOOPBACK_NAMES:
        return interface
    # No f-strings: this file must stay valid Python 2.7.
    message = "[wstest_loopback] binding to " + LOOPBACK
    sys.stdout.write(message + " instead of " + repr(interface) + "\n")
    return LOOPBACK


def listen_tcp(port, factory, backlog=50, interface=""):
    # type: (int, object, int, str) -> object
    return _listen_tcp(port, factory, backlog, _loopback(interface))


def listen_ssl(port, factory, context_factory, backlog=50, interface=""):
    # type: (int, object, object, int, str) -> object
    return _listen_ssl(port, factory, context_factory, backlog, _loopback(interface))


def main():
    # type: () -> int
    reactor.listenTCP = listen_tcp
    reactor.listenSSL = listen_ssl
    sys.argv[0] = "wstest"
    return wstest.run() or 0


if __name__ == "__main__":
    sys.exit(main())

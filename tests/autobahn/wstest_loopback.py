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

It also gives wstest a faster UTF-8 validator that returns exactly what the
original returns (see ``FastPathUtf8Validator``). Without it, wstest's own
per-byte validation of every echoed text message is most of the run time of
sections 12 and 13 here.
"""

import re
import sys

import autobahn.websocket.protocol as ws_protocol
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


# Python 2.7's UTF-8 codec rejects what RFC 3629 rejects (overlong forms,
# code points above U+10FFFF, bytes F5-FF) except the UTF-16 surrogates
# U+D800-U+DFFF, encoded as ED A0-BF xx. A chunk that the codec decodes whole
# and that holds no such sequence is therefore valid UTF-8 ending on a code
# point boundary; anything else goes to the original byte-by-byte DFA.
_SURROGATE = re.compile(b"\xed[\xa0-\xbf]")


class FastPathUtf8Validator(object):  # noqa: UP004 (a new-style class on Python 2.7)
    """The incremental validator of ``autobahn.websocket.protocol``, sped up.

    ``validate(chunk)`` returns the same quad as the original
    ``(valid, ends_on_code_point, current_index, total_index)``. When the
    previous chunk ended on a code point boundary and the new chunk is valid
    and complete by the codec check above, the answer is known without the
    DFA: ``(True, True, len(chunk), total + len(chunk))``. Otherwise the
    original DFA sees the chunk, and ``total_index`` is shifted by the bytes
    that took the fast path.
    """

    def __init__(self):
        # type: () -> None
        self._dfa = _Utf8Validator()
        self.reset()

    def reset(self):
        # type: () -> None
        self._dfa.reset()
        self._skipped = 0
        self._at_boundary = True

    def validate(self, chunk):
        # type: (bytes) -> tuple
        if self._at_boundary and not _SURROGATE.search(chunk):
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                self._skipped += len(chunk)
                return (True, True, len(chunk), self._dfa.i + self._skipped)
        valid, ends, current, total = self._dfa.validate(chunk)
        self._at_boundary = valid and ends
        return (valid, ends, current, total + self._skipped)


_Utf8Validator = ws_protocol.Utf8Validator


def main():
    # type: () -> int
    ws_protocol.Utf8Validator = FastPathUtf8Validator
    reactor.listenTCP = listen_tcp
    reactor.listenSSL = listen_ssl
    sys.argv[0] = "wstest"
    return wstest.run() or 0


if __name__ == "__main__":
    sys.exit(main())

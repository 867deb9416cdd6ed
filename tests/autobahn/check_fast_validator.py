# Run by the Python 2.7 interpreter of .cache/autobahn/py27, NOT by Python 3:
#   .cache/autobahn/py27/bin/python tests/autobahn/check_fast_validator.py
# Keep this file valid for both Python 2.7 and 3 (ruff checks it as Python 3);
# Python 2.7 has neither [*a, b], zip(strict=) nor f-strings.
# ruff: noqa: RUF005, B905, UP031
"""Check that ``FastPathUtf8Validator`` answers exactly as wstest's own validator.

Both validators get the same chunks; every ``validate`` answer must be equal,
up to the first invalid chunk. The inputs: every 1- and 2-byte sequence (whole
and split), every 3-byte sequence with a lead byte C0-FF, 4-byte sequences
with each lead F0-FF, each second byte 80-BF, third byte 80, BF or 41 and
every fourth byte, and 200,000 random strings cut at random places, drawn
from single bytes and from valid, surrogate and boundary sequences. Prints
the number of inputs; exits 1 at the first difference.
"""

import random
import sys

import wstest_loopback


def main():
    # type: () -> int
    original = wstest_loopback._Utf8Validator
    fast = wstest_loopback.FastPathUtf8Validator
    byte = [chr(i) for i in range(256)]
    count = [0]

    def same(chunks):
        # type: (list) -> None
        a, b = original(), fast()
        count[0] += 1
        for chunk in chunks:
            expected, got = a.validate(chunk), b.validate(chunk)
            if expected != got:
                sys.stdout.write("DIFFERENT %r: %r != %r\n" % (chunks, got, expected))
                sys.exit(1)
            if not expected[0]:
                return

    for x in range(256):
        same([byte[x]])
        for y in range(256):
            same([byte[x] + byte[y]])
            same([byte[x], byte[y]])
    for x in range(0xC0, 0x100):
        for y in list(range(0x80, 0xC0)) + [0x41, 0xC0, 0xFF]:
            for z in range(256):
                same([byte[x] + byte[y] + byte[z]])
    for x in range(0xF0, 0x100):
        for y in range(0x80, 0xC0):
            for z in (0x80, 0xBF, 0x41):
                for t in range(256):
                    same([byte[x] + byte[y] + byte[z] + byte[t]])
    rnd = random.Random(1)
    # A valid 3- and 4-byte character, a surrogate, the last code point before
    # the surrogates and the last code point of all.
    pieces = ["\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xed\x9f\xbf"]
    pieces.append("\xf4\x8f\xbf\xbf")
    alphabet = byte + pieces * 20 + ["abc"] * 100
    for _ in range(200000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))
        cuts = sorted(rnd.randint(0, len(text)) for _ in range(rnd.randint(0, 3)))
        same([text[i:j] for i, j in zip([0] + cuts, cuts + [len(text)])])
    sys.stdout.write("same answers on %d inputs\n" % count[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())

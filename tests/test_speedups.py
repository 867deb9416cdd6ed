"""The compiled kernels compute exactly what the pure-Python ones compute."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansws import frames

speedups = pytest.importorskip("sansws._speedups")


def reference_mask(data: bytes, mask: bytes) -> bytes:
    """RFC 6455 §5.3, byte by byte: octet i XOR mask octet i MOD 4."""
    return bytes(octet ^ mask[i % 4] for i, octet in enumerate(data))


def test_compiled_kernel_is_in_use_unless_disabled() -> None:
    if os.environ.get("SANSWS_NO_SPEEDUPS"):
        assert frames.apply_mask is frames._apply_mask_python
    else:
        assert frames.apply_mask is speedups.apply_mask


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 125, 126, 65535, 65536])
def test_mask_every_tail_length(length: int) -> None:
    data = os.urandom(length)
    key = os.urandom(4)
    expected = reference_mask(data, key)
    assert speedups.apply_mask(data, key) == expected
    assert frames._apply_mask_python(data, key) == expected


@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4))
def test_kernels_agree(data: bytes, key: bytes) -> None:
    assert speedups.apply_mask(data, key) == frames._apply_mask_python(data, key)


def test_mask_is_an_involution_on_large_buffers() -> None:
    data = os.urandom(1 << 20)
    key = b"\x01\x02\x03\x04"
    masked = speedups.apply_mask(data, key)
    assert masked != data
    assert speedups.apply_mask(masked, key) == data


def test_buffer_protocol_inputs() -> None:
    key = b"\xaa\xbb\xcc\xdd"
    data = bytearray(b"some payload bytes")
    expected = reference_mask(bytes(data), key)
    assert speedups.apply_mask(data, key) == expected
    assert speedups.apply_mask(memoryview(data)[0:], key) == expected
    assert speedups.apply_mask(memoryview(b"xx" + bytes(data))[2:], key) == expected


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask(b"data", b"abc")
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        speedups.apply_mask("text", b"abcd")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        speedups.apply_mask(b"data", 1234)  # type: ignore[arg-type]

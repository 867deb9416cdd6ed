"""What the machine can do at best: the physical limits the workloads are compared with.

- memory copy: ``bytes(bytearray)`` of 16 MiB, and ``ctypes.memmove``;
- XOR masking in C (``xor_mask.c`` compiled at run time with
  ``cc -O3 -march=native`` in a temporary directory, if ``cc`` exists), and,
  for reference, the masking kernels the libraries use;
- UTF-8 decoding: ``bytes.decode`` of 16 MiB of ASCII and of multi-byte text;
- zlib at level 6, memLevel 8, 15 window bits, on 1 MiB of text.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from .harness import Result, Row, measure
from .payloads import MIB, text_payload

LimitCell = Callable[[], int]


def _compile_xor_mask(workdir: Path) -> Callable[[bytes, bytearray, bytes], None] | str:
    compiler = shutil.which("cc")
    if compiler is None:
        return "no C compiler (cc) on PATH"
    source = Path(__file__).with_name("xor_mask.c")
    library = workdir / "xor_mask.so"
    command = [
        compiler,
        "-O3",
        "-march=native",
        "-shared",
        "-fPIC",
        "-o",
        str(library),
        str(source),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if completed.returncode != 0:
        return f"cc failed: {completed.stderr.strip()[:200]}"
    function = ctypes.CDLL(str(library)).xor_mask
    function.restype = None
    function.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]

    def xor_mask(src: bytes, dst: bytearray, key: bytes) -> None:
        address = ctypes.addressof(ctypes.c_char.from_buffer(dst))
        function(src, address, len(src), key)

    return xor_mask


def limit_rows(rounds: int, target: float, only: Callable[[str], bool]) -> list[Row]:
    """Measure every limit whose name ``only`` accepts."""
    size = 16 * MIB
    ascii_data = b"x" * size
    multi_text = text_payload(size)
    # Mostly multi-byte: a CJK-heavy text, 3 bytes per character.
    cjk = ("日本語のテキスト、東京。" * (size // 36 + 1)).encode()[:size]
    cjk = cjk.decode("utf-8", "ignore").encode()
    key = b"\x12\x34\x56\x78"
    source = bytearray(os.urandom(size))
    target_buffer = bytearray(size)
    text_1mib = text_payload(MIB)
    compressed = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
    deflated = compressed.compress(text_1mib) + compressed.flush(zlib.Z_SYNC_FLUSH)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="sansws-bench-") as workdir:
        xor_mask = _compile_xor_mask(Path(workdir))
        src_bytes = bytes(source)

        def memcpy_bytes() -> int:
            bytes(source)
            return 1

        def memcpy_memmove() -> int:
            dst = ctypes.addressof(ctypes.c_char.from_buffer(target_buffer))
            src = ctypes.addressof(ctypes.c_char.from_buffer(source))
            ctypes.memmove(dst, src, size)
            return 1

        def mask_c() -> int:
            assert not isinstance(xor_mask, str)
            xor_mask(src_bytes, target_buffer, key)
            return 1

        def decode_ascii() -> int:
            ascii_data.decode()
            return 1

        def decode_text() -> int:
            multi_text.decode()
            return 1

        def decode_cjk() -> int:
            cjk.decode()
            return 1

        def deflate() -> int:
            compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
            compressor.compress(text_1mib)
            compressor.flush(zlib.Z_SYNC_FLUSH)
            return 1

        def inflate() -> int:
            zlib.decompressobj(-15).decompress(deflated)
            return 1

        cells: list[tuple[str, int, Callable[[], int] | str]] = [
            ("memcpy bytes(bytearray) 16 MiB", size, memcpy_bytes),
            ("memcpy ctypes.memmove 16 MiB", size, memcpy_memmove),
            (
                "XOR mask, C -O3 -march=native 16 MiB",
                size,
                mask_c if callable(xor_mask) else xor_mask,
            ),
        ]
        cells += _mask_kernels(src_bytes, key)
        cells += [
            ("UTF-8 decode, ASCII 16 MiB", size, decode_ascii),
            ("UTF-8 decode, text (9% multi-byte) 16 MiB", len(multi_text), decode_text),
            ("UTF-8 decode, CJK (3 B/char) 16 MiB", len(cjk), decode_cjk),
            ("zlib compress L6/mem8 1 MiB text", MIB, deflate),
            ("zlib decompress 1 MiB text", MIB, inflate),
        ]
        for name, nbytes, cell in cells:
            if not only(name):
                continue
            results = measure({"limit": cell}, rounds=rounds, target=target, expected=1)
            rows.append(Row(name, nbytes, results))
    return rows


def _mask_kernels(data: bytes, key: bytes) -> list[tuple[str, int, Callable[[], int] | str]]:
    """The masking kernels of the libraries, on 16 MiB, to set beside C."""
    cells: list[tuple[str, int, Callable[[], int] | str]] = []
    from sansws import frames

    kernel = frames.apply_mask
    python_kernel = frames._apply_mask_python
    origin = getattr(kernel, "__module__", None) or type(kernel).__module__

    def mask_sansws() -> int:
        kernel(data, key)
        return 1

    def mask_sansws_python() -> int:
        python_kernel(data, key)
        return 1

    cells.append((f"XOR mask, sansws ({origin}) 16 MiB", len(data), mask_sansws))
    cells.append(("XOR mask, sansws pure Python 16 MiB", len(data), mask_sansws_python))
    try:
        from websockets.speedups import apply_mask as ws_mask
    except ImportError:
        cells.append(("XOR mask, websockets.speedups 16 MiB", len(data), "not built"))
    else:

        def mask_websockets() -> int:
            ws_mask(data, key)
            return 1

        cells.append(("XOR mask, websockets.speedups 16 MiB", len(data), mask_websockets))
    return cells


def render_limits(rows: list[Row]) -> str:
    """A table of GB/s and ms per operation."""
    width = max(len(row.name) for row in rows) if rows else 10
    lines = [f"{'limit'.ljust(width)} | {'best GB/s':>9} | {'median GB/s':>11} | {'best ms':>8}"]
    lines.append("-" * len(lines[0]))
    for row in rows:
        result: Result = row.results["limit"]
        if result.na is not None:
            lines.append(f"{row.name.ljust(width)} | n/a: {result.na}")
            continue
        best = row.nbytes / result.best
        median = row.nbytes / result.median
        lines.append(
            f"{row.name.ljust(width)} | {best:>9.2f} | {median:>11.2f} | {result.best / 1e6:>8.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(render_limits(limit_rows(5, 0.05, lambda name: True)))
    sys.exit(0)

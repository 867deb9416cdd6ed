from collections.abc import Sequence
from typing import Any

from .frames import Frame

def apply_mask(data: bytes | bytearray | memoryview, mask: bytes) -> bytes: ...
def apply_mask_pieces(pieces: Sequence[bytes | bytearray | memoryview], mask: bytes) -> bytes: ...
def encode_frame(
    first_byte: int, data: bytes | bytearray | memoryview, mask: bytes | None
) -> bytes: ...
def register_frame(frame_class: type[Frame], op_text: object, op_binary: object) -> None: ...
def scan_frames(
    buffer: bytes | bytearray | memoryview,
    pos: int,
    masked: bool,
    limit: int,
    events: list[Any],
) -> int: ...

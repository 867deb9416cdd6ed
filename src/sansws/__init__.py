"""sansws: WebSocket (RFC 6455, RFC 7692) as a Sans-I/O state machine."""

from __future__ import annotations

from .exceptions import *  # noqa: F403
from .exceptions import __all__ as _exceptions_all

__version__ = "0.1.0"

__all__ = [*_exceptions_all, "__version__"]

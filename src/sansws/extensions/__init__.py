"""WebSocket extensions (RFC 6455 §9): the base classes and permessage-deflate."""

from __future__ import annotations

from .base import ClientExtensionFactory, Extension, ServerExtensionFactory

__all__ = ["ClientExtensionFactory", "Extension", "ServerExtensionFactory"]

"""The extension API (RFC 6455 §9).

An extension sits between the frame parser and the application. The
:class:`~sansws.protocol.Protocol` keeps the negotiated extensions in a list:
outgoing frames pass through each extension's :meth:`Extension.encode` in
order, incoming frames through :meth:`Extension.decode` in reverse order, so
that the extension negotiated first is the one nearest the application.

The opening handshake negotiates extensions through factories: a client's
:class:`ClientExtensionFactory` makes an offer and reads the server's answer;
a server's :class:`ServerExtensionFactory` reads an offer and answers it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..frames import Frame

__all__ = ["ClientExtensionFactory", "Extension", "ServerExtensionFactory"]

#: One extension parameter: a name and an optional value (RFC 6455 §9.1).
ExtensionParameter = tuple[str, str | None]


class Extension:
    """A negotiated extension, active on one connection.

    Attributes:
        name: the extension's registered token, e.g. ``permessage-deflate``.
        reserved_bits: the RSV bits this extension gives a meaning to, as a
            mask of the frame's first byte (RSV1 is ``0x40``, RSV2 ``0x20``,
            RSV3 ``0x10``). The parser refuses any other RSV bit with close
            code 1002 as soon as the header arrives (RFC 6455 §5.2).
    """

    name: str
    reserved_bits: int = 0

    def decode(self, frame: Frame, *, max_size: int | None = None) -> Frame:
        """Decode an incoming frame.

        Args:
            frame: the frame as received, unmasked.
            max_size: how many more bytes the current message may grow by,
                or None for no bound. An extension that expands data must
                stop producing output past it.

        Returns:
            The decoded frame, with the RSV bits this extension consumed
            cleared.

        Raises:
            PayloadTooBig: decoding would exceed ``max_size`` (close 1009).
            ProtocolError: the frame breaks the extension's rules (close 1002).
        """
        raise NotImplementedError

    def encode(self, frame: Frame) -> Frame:
        """Encode an outgoing frame; the inverse of :meth:`decode`."""
        raise NotImplementedError


class ClientExtensionFactory:
    """Offers an extension in a client's handshake and reads the answer."""

    name: str

    def get_request_params(self) -> list[ExtensionParameter]:
        """Return the parameters to offer in ``Sec-WebSocket-Extensions``."""
        raise NotImplementedError

    def process_response_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> Extension:
        """Build the extension from the parameters the server accepted.

        Args:
            params: the parameters in the server's response.
            accepted_extensions: the extensions accepted before this one.

        Raises:
            NegotiationError: the answer is not acceptable.
        """
        raise NotImplementedError


class ServerExtensionFactory:
    """Answers a client's offer of an extension in the server's handshake."""

    name: str

    def process_request_params(
        self,
        params: Sequence[ExtensionParameter],
        accepted_extensions: Sequence[Extension],
    ) -> tuple[list[ExtensionParameter], Extension]:
        """Accept an offer: return the parameters to answer and the extension.

        Args:
            params: the parameters in the client's offer.
            accepted_extensions: the extensions accepted before this one.

        Raises:
            NegotiationError: this offer is refused; the server may accept
                another offer, or go on without the extension.
        """
        raise NotImplementedError

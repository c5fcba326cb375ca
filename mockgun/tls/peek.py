"""Socket-level steps before OpenSSL gets a connection: peek at the ClientHello, or refuse.

Everything here works on a raw, non-blocking, accepted socket that the listener
still owns. Peeking (``MSG_PEEK``) leaves the bytes queued, so OpenSSL later reads
the very same ClientHello. Two pitfalls shape the code:

- queued bytes keep the socket readable, so waiting for "more" would spin;
  ``SO_RCVLOWAT`` makes epoll wait until enough bytes are queued (and must be
  reset to 1 before the hand-over, or the TLS transport stalls);
- after a FIN or RST the same bytes come back and no EOF is reported while data
  is queued, so a wake-up that brings no new bytes means the peer is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from typing import NamedTuple

from .clienthello import (
    MAX_HELLO_BYTES,
    ClientHello,
    Incomplete,
    MalformedHello,
    TooLarge,
    parse_client_hello,
)

_SO_RCVLOWAT = getattr(socket, "SO_RCVLOWAT", None)
#: epoll stops honouring a low-water mark near half the receive buffer; stay well below.
_MAX_LOWAT = 32 * 1024
_DRAIN_LIMIT = 64 * 1024
#: Bytes peeked at once: the largest inspected hello, split over a few records.
PEEK_BYTES = MAX_HELLO_BYTES + 64


class Peeked(NamedTuple):
    """A ClientHello, and the bytes it came in (still queued: OpenSSL reads them next)."""

    hello: ClientHello
    data: bytes


class PeerClosed(Exception):
    def __init__(self, *, reset: bool, got_bytes: bool) -> None:
        self.reset = reset
        what = "reset the connection" if reset else "closed the connection"
        when = "in the middle of its ClientHello" if got_bytes else "before sending anything"
        super().__init__(f"the client {what} {when}")


class HelloTimeout(Exception):
    pass


async def wait_readable(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, deadline: float
) -> None:
    """Wait until ``sock`` is readable, or raise :class:`HelloTimeout` at ``deadline``."""
    remaining = deadline - loop.time()
    if remaining <= 0:
        raise HelloTimeout
    fd = sock.fileno()
    ready: asyncio.Future[bool] = loop.create_future()

    def settle(value: bool) -> None:
        if not ready.done():
            ready.set_result(value)

    loop.add_reader(fd, settle, True)
    timer = loop.call_later(remaining, settle, False)
    try:
        if not await ready:
            raise HelloTimeout
    finally:
        timer.cancel()
        loop.remove_reader(fd)


async def peek_hello(
    loop: asyncio.AbstractEventLoop, sock: socket.socket, deadline: float
) -> Peeked:
    """Read (without consuming) until a whole ClientHello is queued, and parse it.

    Raises ``NotTLS``, ``MalformedHello`` (with the bytes as ``data``) or ``TooLarge``
    (from the parser), :class:`PeerClosed` or :class:`HelloTimeout`. A hello longer
    than :data:`PEEK_BYTES` is ``TooLarge`` as soon as its length is known: the client is
    still sending, not gone. Leaves ``SO_RCVLOWAT`` at 1.
    """
    seen = -1
    lowat = 1
    try:
        while True:
            try:
                data = sock.recv(PEEK_BYTES, socket.MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                data = None
            except ConnectionError:
                raise PeerClosed(reset=True, got_bytes=seen > 0) from None
            if data is not None:
                if not data or len(data) == seen:
                    # Readable, yet nothing new: EOF or an error is all that is left.
                    raise PeerClosed(reset=_pending_reset(sock), got_bytes=bool(data))
                seen = len(data)
                try:
                    return Peeked(parse_client_hello(data), data)
                except MalformedHello as exc:
                    exc.data = data
                    raise
                except Incomplete as more:
                    if more.needed > PEEK_BYTES:
                        raise TooLarge(more.needed) from None
                    want = min(max(more.needed - seen, 1), _MAX_LOWAT)
                    # Ask epoll to wake us when the bytes still missing have arrived.
                    if _SO_RCVLOWAT is not None and want != lowat:
                        sock.setsockopt(socket.SOL_SOCKET, _SO_RCVLOWAT, seen + want)
                        lowat = seen + want
            await wait_readable(loop, sock, deadline)
    finally:
        if lowat != 1 and _SO_RCVLOWAT is not None and sock.fileno() != -1:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVLOWAT, 1)


def _pending_reset(sock: socket.socket) -> bool:
    try:
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    except OSError:
        return False
    return err in (errno.ECONNRESET, errno.EPIPE)


def _drain(sock: socket.socket) -> bytes:
    """Consume what is queued, so that closing sends FIN rather than RST."""
    got = bytearray()
    while len(got) < _DRAIN_LIMIT:
        try:
            chunk = sock.recv(_DRAIN_LIMIT)
        except (BlockingIOError, InterruptedError, OSError):
            break
        if not chunk:
            break
        got += chunk
    return bytes(got)


async def close_with_reply(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    reply: bytes = b"",
    *,
    deadline: float,
    read_until: bytes | None = None,
) -> None:
    """Consume the client's bytes (up to ``read_until`` if given), send ``reply``, and close."""
    try:
        received = _drain(sock)
        while (
            read_until is not None and read_until not in received and len(received) < _DRAIN_LIMIT
        ):
            try:
                await wait_readable(loop, sock, deadline)
            except HelloTimeout:
                break
            chunk = _drain(sock)
            if not chunk:
                break
            received += chunk
        if reply:
            await asyncio.wait_for(loop.sock_sendall(sock, reply), max(deadline - loop.time(), 0.5))
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        sock.close()

"""CPU work that must not hold up the event loop: building, parsing and previewing messages.

A hostile (or merely large) message can take seconds of pure-Python work: the standard
library folds a 5 MB subject in 5 s, parses a 20 MB upload in more, and the sanitizer walks
megabytes of HTML. On a thread that work still holds the GIL in slices the event loop must
wait for (a probe client measured 85-500 ms stalls); in a worker process it runs beside the
loop, which then only pickles the arguments and the result.

The pool is made on first use (most servers never need it), its processes are spawned, not
forked (the server has threads), and :meth:`Offload.close` terminates them at once: a stop
never waits for a render in progress.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.pool
import sys
import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar

from ..store import StoredMessage, build_parts

T = TypeVar("T")

#: Worker processes. One keeps a server's cost low (each is a Python of ~30 MB, spawned on
#: first use); a second slow message waits behind the first, but the event loop never does.
WORKERS = 1


class Offload:
    def __init__(self, workers: int = WORKERS, *, memory_limit: int | None = None) -> None:
        """``memory_limit``: bytes of address space each worker may use (a runaway job then
        fails with MemoryError instead of taking the machine's memory)."""
        self._workers = workers
        self._memory_limit = memory_limit
        self._pool: multiprocessing.pool.Pool | None = None
        self._waiting: set[asyncio.Future[Any]] = set()
        self._starting = asyncio.Lock()
        self.closed = False

    async def run(self, func: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        """``func(*args)`` in a worker process (``func`` and the arguments must pickle).

        Past ``timeout`` seconds the workers are ended (the only way to stop pure-Python
        work), :class:`TimeoutError` is raised, and other work still waiting on them fails;
        the next call starts new workers."""
        if self.closed:
            raise RuntimeError("the server is stopping")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def done(result: T) -> None:
            loop.call_soon_threadsafe(_settle, future, result, None)

        def failed(error: BaseException) -> None:
            loop.call_soon_threadsafe(_settle, future, None, error)

        pool = await self._get_pool()
        pool.apply_async(func, args, callback=done, error_callback=failed)
        self._waiting.add(future)
        try:
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            self._restart()
            raise TimeoutError(f"the work took over {timeout}s and was stopped") from None
        finally:
            self._waiting.discard(future)

    def _restart(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            # terminate() joins the pool's threads: off the event loop.
            threading.Thread(target=pool.terminate, name="mockgun-pool-stop", daemon=True).start()
        for future in list(self._waiting):
            _settle(future, None, RuntimeError("the worker was stopped (another job ran over)"))

    async def _get_pool(self) -> multiprocessing.pool.Pool:
        async with self._starting:
            if self._pool is None:
                # Starting processes forks this one (tens of milliseconds for a big server):
                # on a thread, so that the event loop serves on meanwhile.
                self._pool = await asyncio.to_thread(_spawn_pool, self._workers, self._memory_limit)
            if self.closed:
                self._pool.terminate()
                raise RuntimeError("the server is stopping")
            return self._pool

    def close(self) -> None:
        """Stop the workers now, whatever they are doing; callers still waiting get an error."""
        self.closed = True
        if self._pool is not None:
            self._pool.terminate()
            self._pool = None
        for future in list(self._waiting):
            _settle(future, None, RuntimeError("the server stopped before the work was done"))


def _spawn_pool(workers: int, memory_limit: int | None = None) -> multiprocessing.pool.Pool:
    """Spawned workers import the parent's ``__main__`` unless told otherwise: a user's script
    that runs ``serve_in_thread()`` at module level would then run again in each worker. They
    need only mockgun's modules, so they are started with a ``__main__`` that has no file."""
    real = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        context = multiprocessing.get_context("spawn")
        return context.Pool(workers, initializer=_limit_memory, initargs=(memory_limit,))
    finally:
        sys.modules["__main__"] = real


def _limit_memory(limit: int | None) -> None:
    """In a new worker: cap its address space (where the platform allows it)."""
    if limit is None:
        return
    try:
        import resource  # noqa: PLC0415 - POSIX only

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        pass


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up (a client that went away)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def built(offload: Offload, message: StoredMessage) -> StoredMessage:
    """``message`` with its MIME message built (in a worker process, the first time)."""
    if not message.is_built:
        parts = await offload.run(
            build_parts, message.request, message.id, message.received_at, message.spool
        )
        message.adopt(parts)
    return message

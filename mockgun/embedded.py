"""mockgun inside another program: a server on a background thread, for tests and scripts.

    with mockgun.serve_in_thread() as server:
        requests.post(f"{server.api_url}/example.com/messages", ..., verify=server.ca_file)
        assert server.messages(to="a@example.com")

Everything the thread's event loop owns (the store, the handshake records) is read
on that loop, so the calling thread never races it; nothing here opens a
connection of its own, so the handshake log shows only the caller's clients.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from .api.inspect.views import message_json, received_json
from .api.keys import ROUTES
from .api.receiving import receive
from .config import Config
from .faults import parse_rule
from .mailgun.inbound import Composed
from .mailgun.suppressions import Entry
from .server import Server, serve

T = TypeVar("T")
#: Sent as the key when the server accepts any: clients still need one.
DEFAULT_TEST_KEY = "key-mockgun-test"


class ThreadedServer:
    """A running mockgun on a background thread, with thread-safe views of what it saw."""

    def __init__(self, server: Server, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self._loop = loop

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT``: what the official SDKs and mailgun.js want."""
        return self.server.base_url

    @property
    def api_url(self) -> str:
        """``https://127.0.0.1:PORT/v3``: what django-anymail's ``MAILGUN_API_URL`` wants."""
        return self.server.api_url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def ca_file(self) -> str:
        return str(self.server.ca_file)

    @property
    def api_key(self) -> str:
        return self.server.config.api_key or DEFAULT_TEST_KEY

    @property
    def smtp_host(self) -> str:
        return self.server.host_for_urls

    @property
    def smtp_port(self) -> int | None:
        """The STARTTLS submission port (None when the server has no SMTP door)."""
        return self.server.smtp_port

    @property
    def smtp_login(self) -> str:
        return self.server.config.smtp_login or "postmaster@example.com"

    @property
    def smtp_password(self) -> str:
        return self.server.config.smtp_password or "smtp-password"

    @property
    def handshake_log(self) -> str:
        return self.server.handshake_log.name

    def env(self) -> dict[str, str]:
        """Variables that point common clients at this server and make them trust its CA."""
        return {
            "SSL_CERT_FILE": self.ca_file,
            "REQUESTS_CA_BUNDLE": self.ca_file,
            "NODE_EXTRA_CA_CERTS": self.ca_file,
            "MAILGUN_API_URL": self.api_url,
            "MAILGUN_API_KEY": self.api_key,
            # What an app checks webhook and inbound POST signatures with (anymail's name).
            "MAILGUN_WEBHOOK_SIGNING_KEY": self.server.webhooks.signing_key,
            **self.smtp_env(),
        }

    def smtp_env(self) -> dict[str, str]:
        """The SMTP door for apps that send by SMTP: Mailgun's Heroku add-on names (which
        Rails guides use) and Django's settings names (STARTTLS: ``EMAIL_USE_TLS``)."""
        if self.smtp_port is None:
            return {}
        host, port = self.smtp_host, str(self.smtp_port)
        login, password = self.smtp_login, self.smtp_password
        return {
            "MAILGUN_SMTP_SERVER": host,
            "MAILGUN_SMTP_PORT": port,
            "MAILGUN_SMTP_LOGIN": login,
            "MAILGUN_SMTP_PASSWORD": password,
            "EMAIL_HOST": host,
            "EMAIL_PORT": port,
            "EMAIL_HOST_USER": login,
            "EMAIL_HOST_PASSWORD": password,
            "EMAIL_USE_TLS": "True",
        }

    def _call(self, func: Callable[[], T]) -> T:
        async def run() -> T:
            return func()

        return self._run(run(), timeout=10)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def messages(self, *, since: str | None = None, **filters: str | None) -> list[dict[str, Any]]:
        """Stored messages, oldest first, as ``GET /mockgun/messages/{id}`` shows them.

        Filters: ``domain``, ``to``, ``sender``, ``subject``, ``tag``; ``since`` a message id.
        """
        store = self.server.store
        found = self._call(lambda: store.find(since=since, **filters))
        # Built here, on the caller's thread: building MIME messages must not hold the loop.
        return [message_json(m, with_content=True) for m in found]

    def received(
        self, address: str, *, since: str | None = None, **filters: str | None
    ) -> list[dict[str, Any]]:
        """What ``address`` received, oldest first: each message's copy as that recipient
        got it (template, batch and built-in variables applied), parsed: ``subject``,
        ``text``, ``html``, ``from``, ``to``, ``headers``, and the message's ``id``."""
        store = self.server.store
        found = self._call(lambda: store.find(since=since, to=address, **filters))
        out = []
        for message in found:  # built and parsed here, on the caller's thread
            payload = message.copy_for(address)
            if payload is not None:
                out.append({"id": message.id, "recipient": address, **received_json(payload)})
        return out

    def handshakes(
        self, *, outcome: str | None = None, since: str | None = None
    ) -> list[dict[str, Any]]:
        """Handshake records, oldest first; ``since`` a conn_id or an RFC 3339 time."""
        log = self.server.handshake_log
        outcomes = [o for o in (outcome or "").split(",") if o]
        return self._call(lambda: [dict(r) for r in log.select(outcomes=outcomes, since=since)])

    def wait_for_message(
        self, *, timeout: float = 10.0, since: str | None = None, **filters: str | None
    ) -> dict[str, Any]:
        """The first matching message (after ``since``), as soon as it arrives.

        Raises TimeoutError when none arrives within ``timeout`` seconds.
        """
        store = self.server.store
        message = self._run(store.wait_for(timeout, since=since, **filters), timeout + 5)
        if message is None:
            raise TimeoutError(f"no message matching {filters} within {timeout:g}s")
        return message_json(message, with_content=True)

    def clear(self) -> int:
        return self._call(self.server.store.clear)

    def add_fault(self, rule: str) -> dict[str, Any]:
        """Add a fault rule (the ``--fault`` syntax); returns it as ``/mockgun/faults`` shows it."""
        parsed = parse_rule(rule)  # a RuleError for a bad rule, in the caller's thread
        return self._call(lambda: self.server.faults.add(parsed).as_json())

    def clear_faults(self) -> int:
        return self._call(self.server.faults.clear)

    def suppress(
        self,
        *,
        domain: str = "example.com",
        bounce: str | Sequence[str] = (),
        unsubscribe: str | Sequence[str] = (),
        complaint: str | Sequence[str] = (),
    ) -> None:
        """Put addresses on ``domain``'s suppression lists, as if they had bounced, unsubscribed
        (from everything) or complained: a send to them then gets Mailgun's ``failed``."""
        book = self.server.suppressions
        kinds = (("bounces", bounce), ("unsubscribes", unsubscribe), ("complaints", complaint))

        def put() -> None:
            for kind, values in kinds:
                for address in [values] if isinstance(values, str) else values:
                    book.list(domain, kind).put(Entry(address))

        self._call(put)

    def clear_suppressions(self) -> int:
        """Empty every suppression list; how many records went."""
        return self._call(self.server.suppressions.clear)

    def clear_lists(self) -> int:
        """Forget every mailing list; how many went."""

        def clear() -> int:
            count = len(self.server.lists.lists)
            self.server.lists.lists.clear()
            return count

        return self._call(clear)

    def receive(
        self,
        message: bytes | str | dict[str, Any],
        *,
        to: str | Sequence[str] = (),
        sender: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Receive ``message`` as inbound mail and run the routes (``POST /mockgun/inbound``):
        raw MIME (bytes or str), or fields (``from``, ``to``, ``subject``, ``text``,
        ``html``). Returns what happened once every route POST had its first attempt: the
        routes each recipient fired, ``deliveries``, ``stored``, ``forwarded``, ``lists``."""
        app = self.server.app
        assert app is not None
        recipients = [to] if isinstance(to, str) else list(to)
        if isinstance(message, dict):
            fields = {k: str(v) for k, v in message.items() if k != "to"}
            listed = message.get("to") or recipients
            recipients = recipients or ([listed] if isinstance(listed, str) else list(listed))
            sender = sender or fields.get("from")
            if not sender or not recipients:
                raise ValueError("fields need 'from' and 'to'")
            content: bytes | Composed = Composed(
                sender=sender,
                to=tuple(recipients),
                subject=fields.get("subject", ""),
                text=fields.get("text"),
                html=fields.get("html"),
            )
        else:
            content = message.encode() if isinstance(message, str) else message
        base = self.server.base_url
        return self._run(receive(app, content, to=recipients, sender=sender, base=base), timeout)

    def clear_routes(self) -> int:
        """Forget every route; how many went."""
        app = self.server.app
        assert app is not None
        return self._call(app[ROUTES].clear)

    def injected_faults(self) -> list[dict[str, Any]]:
        """Every response a fault rule produced, oldest first."""
        return self._call(lambda: list(self.server.faults.injected))


@contextmanager
def serve_in_thread(
    config: Config | None = None, *, start_timeout: float = 30.0
) -> Iterator[ThreadedServer]:
    """Run mockgun on a thread until the ``with`` block ends.

    Without a config: 127.0.0.1 on a free port, certificates and the handshake log in a
    temporary folder that is removed afterwards.
    """
    with tempfile.TemporaryDirectory(prefix="mockgun-") as tmp:
        if config is None:
            config = Config(
                port=0,
                certs_dir=Path(tmp) / "certs",
                handshake_log=str(Path(tmp) / "handshakes.jsonl"),
                smtp_port=0,
            )
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        state: dict[str, Any] = {}

        async def main() -> None:
            stop = asyncio.Event()
            state["stop"] = stop
            async with serve(config) as server:
                state["server"] = server
                ready.set()
                await stop.wait()

        def run() -> None:
            try:
                loop.run_until_complete(main())
            except BaseException as exc:  # reported to the caller below
                state["error"] = exc
            finally:
                ready.set()
                loop.close()

        thread = threading.Thread(target=run, name="mockgun", daemon=True)
        thread.start()
        if not ready.wait(start_timeout):
            raise TimeoutError(f"mockgun did not start within {start_timeout:g}s")
        if "error" in state:
            raise RuntimeError(f"mockgun could not start: {state['error']}") from state["error"]
        try:
            yield ThreadedServer(state["server"], loop)
        finally:
            loop.call_soon_threadsafe(state["stop"].set)
            thread.join(timeout=10)

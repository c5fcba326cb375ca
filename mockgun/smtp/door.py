"""The SMTP door: submission with STARTTLS, and implicit TLS, logged like the HTTPS port.

- ``--smtps-port``: implicit TLS. The same :class:`~mockgun.tls.listener.TLSSite` as HTTPS
  accepts, peeks at the ClientHello, refuses legacy clients with OpenSSL's own alert and writes
  the log line; aiosmtpd's protocol then speaks SMTP over the TLS transport.
- ``--smtp-port``: plain SMTP that must upgrade. ``EHLO`` offers STARTTLS, and AUTH only after
  it; AUTH or MAIL before it gets RFC 3207's 530. On ``STARTTLS`` the connection stops reading,
  the ClientHello is peeked at on a duplicate of its descriptor (so nothing is consumed), the
  policy and log are those of the HTTPS listener, and only then is OpenSSL put on the transport.

Accepted mail becomes a stored message exactly as an API ``messages.mime`` send does
(:func:`mockgun.api.accept.accept_send`): events, webhooks, suppressions, stats, ``--relay``
and ``--data-dir`` apply, and the message carries its SMTP connection's TLS details.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import os
import socket
import ssl
import time
import warnings
from collections.abc import Iterator
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any, cast

from aiohttp import web
from aiosmtpd.smtp import (
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
    syntax,
)

from ..api.accept import accept_send
from ..api.keys import DOMAINS, FAULTS, LISTS
from ..api.v3.messages import render_template
from ..config import Config
from ..faults import STATUS_MESSAGES, FaultTarget
from ..mailgun import lists
from ..mailgun.errors import MailgunError
from ..mailgun.form import FilePart, Form
from ..mailgun.send import validate_mime_send
from ..store import TransportInfo
from ..tls import records
from ..tls.alerts import PROTOCOL_VERSION, alert_record, first_alert, openssl_answer
from ..tls.clienthello import ClientHello, MalformedHello, NotTLS, TooLarge
from ..tls.connections import negotiated
from ..tls.handshake_log import HandshakeLog
from ..tls.listener import format_peer
from ..tls.peek import HelloTimeout, PeerClosed, peek_hello
from ..tls.policy import accepted_versions

# aiosmtpd warns on every login that a field it fills itself is deprecated: not ours to fix,
# and not worth a line on stderr per session.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")


class Door:
    """What every SMTP connection shares: the app, the TLS context, the log, the policy."""

    def __init__(
        self,
        app: web.Application,
        config: Config,
        ctx: ssl.SSLContext,
        log: HandshakeLog,
        conn_ids: Iterator[int],
        base_url: str,
    ) -> None:
        self.app = app
        self.config = config
        self.ctx = ctx
        self.log = log
        self.conn_ids = conn_ids
        self.base_url = base_url
        self.accepted = accepted_versions(config.tls_max)
        self.smtp_port = 0

    def protocol(self, *, implicit: bool) -> SMTP:
        return Submission(
            Handler(self),
            door=self,
            hostname="mockgun",
            tls_context=None if implicit else self.ctx,
            require_starttls=not implicit,
            auth_require_tls=not implicit,  # implicit TLS: the whole connection is TLS
            auth_required=True,
            authenticator=self.authenticate,
            data_size_limit=self.config.max_message_size,
        )

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """A domain's SMTP credentials; any login for a domain that has none (as ``--api-key``
        unset accepts any key)."""
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = data.login.decode(errors="replace")
        password = data.password.decode(errors="replace")
        domain = self.app[DOMAINS].get(login.rpartition("@")[2])
        if self.config.smtp_login is not None:  # --smtp-login: that pair only
            expected = f"{self.config.smtp_login}\0{self.config.smtp_password or ''}"
            ok = hmac.compare_digest(f"{login}\0{password}".encode(), expected.encode())
        elif domain is not None and domain.credentials:
            ok = self.app[DOMAINS].check_login(login, password)
        else:
            ok = bool(password)
        # Not "handled": aiosmtpd answers 235 or 535 itself.
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)


class Handler:
    def __init__(self, door: Door) -> None:
        self.door = door

    async def _fault(
        self, server: SMTP, domain: str, recipients: list[str], sender: str
    ) -> str | None:
        """A fault rule (``endpoint=smtp`` or ``any``) or a magic ``fault-...`` recipient, as
        an SMTP reply: a 4xx status as ``451``, a 5xx one as ``554`` (401 as ``535``), both
        with the API's text; ``delay`` waits, then the message is taken; ``drop`` and
        ``stall`` end the connection without an answer."""
        book = self.door.app[FAULTS]
        if not book.may_apply(recipients):
            return None
        target = FaultTarget(endpoint="smtp", domain=domain, recipients=recipients, sender=sender)
        rule = book.trigger(target)
        if rule is None:
            return None
        if rule.action == "delay":
            await asyncio.sleep(rule.delay)
            return None
        if rule.action in ("drop", "stall"):
            if server.transport is not None:
                cast(asyncio.Transport, server.transport).abort()
            return "421 4.4.2 mockgun: connection dropped by a fault rule"
        text = STATUS_MESSAGES[rule.status].format(domain=domain, retry_after=rule.retry_after)
        if rule.status == 401:
            return f"535 5.7.8 {text}"
        return f"451 4.3.0 {text}" if rule.status < 500 else f"554 5.3.0 {text}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        headers = BytesHeaderParser().parsebytes(content[: 64 * 1024])
        login = str(session.auth_data or "")
        sender = str(envelope.mail_from or "")
        domain = (login.rpartition("@")[2] or sender.rpartition("@")[2]).lower()
        if not self.door.app[DOMAINS].allows(domain):
            return f"550 5.7.1 Domain not found: {domain}"
        refusal = await self._fault(server, domain, list(envelope.rcpt_tos), sender)
        if refusal is not None:
            return refusal
        try:
            request = dataclasses.replace(
                validate_mime_send(as_form(envelope.rcpt_tos, content, headers), domain),
                endpoint="smtp",
            )
            request = lists.expand(request, self.door.app[LISTS])  # a list address: its members
            failure = None
            if request.options.template:  # X-Mailgun-Template-Name: rendered as for the API
                request, failure = await render_template(self.door.app, request)
        except MailgunError as exc:
            return f"550 5.7.1 {exc.message}"
        ssl_object = session.ssl.get("ssl_object") if isinstance(session.ssl, dict) else None
        if ssl_object is None and server.transport is not None:
            ssl_object = server.transport.get_extra_info("ssl_object")
        cipher = ssl_object.cipher() if ssl_object is not None else None
        transport = TransportInfo(
            conn_id=getattr(server, "conn_id", None),
            tls_version=ssl_object.version() if ssl_object is not None else None,
            cipher=cipher[0] if cipher else None,
            peer_ip=str((session.peer or ("",))[0]),
        )
        stored = accept_send(
            self.door.app,
            request,
            base=self.door.base_url,
            transport=transport,
            template_failure=failure,
        )
        return f"250 Great success {stored.id}"


#: What Mailgun's SMTP service reads from a message's headers, as the API's form options.
_OPTION_HEADERS = {
    "x-mailgun-tag": "o:tag",
    "x-mailgun-drop-message": "o:testmode",
    "x-mailgun-deliver-by": "o:deliverytime",
    "x-mailgun-track": "o:tracking",
    "x-mailgun-track-clicks": "o:tracking-clicks",
    "x-mailgun-track-opens": "o:tracking-opens",
    "x-mailgun-recipient-variables": "recipient-variables",
}


def as_form(recipients: list[str], content: bytes, headers: Message) -> Form:
    """An SMTP message as the ``messages.mime`` form it amounts to: the envelope recipients,
    the message, and the options Mailgun reads from ``X-Mailgun-*`` headers (tags, variables,
    test mode, delivery time, tracking), so that one validation applies to both doors."""
    fields = [("to", r) for r in recipients]
    for name, value in headers.items():
        option = _OPTION_HEADERS.get(name.lower())
        if option is not None:
            fields.append((option, str(value).strip()))
        elif name.lower() == "x-mailgun-variables":
            try:
                variables = json.loads(str(value))
            except ValueError:
                variables = None
            if not isinstance(variables, dict):
                raise MailgunError(400, "X-Mailgun-Variables must be a JSON object")
            for key, item in variables.items():
                fields.append((f"v:{key}", item if isinstance(item, str) else json.dumps(item)))
    message = FilePart("message", "message.eml", "message/rfc822", data=content)
    return Form(fields=fields, files=[message], content_type="multipart/form-data")


class Submission(SMTP):
    """aiosmtpd's SMTP with a STARTTLS that peeks, applies the policy and logs."""

    def __init__(self, handler: Handler, *, door: Door, **kw: Any) -> None:
        super().__init__(handler, **kw)
        self.door = door
        self.conn_id: int | None = None

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str) -> None:
        if arg:
            await self.push("501 Syntax: STARTTLS")
            return
        assert self.transport is not None and self.tls_context is not None
        door, loop = self.door, self.loop
        transport = cast(asyncio.Transport, self.transport)
        record = records.new_attempt(
            next(door.conn_ids), format_peer(transport.get_extra_info("peername")), canary=False
        )
        record["listener"] = f"smtp:{door.smtp_port} starttls"
        self.conn_id = record["conn_id"]
        started = time.perf_counter()
        await self.push("220 Ready to start TLS")
        transport.pause_reading()
        raw = socket.socket(fileno=os.dup(transport.get_extra_info("socket").fileno()))
        raw.setblocking(False)
        deadline = loop.time() + door.config.handshake_timeout
        try:
            try:
                hello, data = await peek_hello(loop, raw, deadline)
            except HelloTimeout:
                records.end(record, "timeout", "no complete ClientHello after STARTTLS")
                return self._give_up(record, started)
            except PeerClosed as exc:
                records.end(record, "closed", str(exc))
                return self._give_up(record, started)
            except (NotTLS, MalformedHello, TooLarge) as exc:
                records.end(record, "failed", str(exc))
                return self._give_up(record, started)
            records.add_offer(record, hello)
            if not hello.offers_any(door.accepted):
                records.end(
                    record,
                    "rejected",
                    "client offered at most TLS 1.1; this endpoint requires TLS 1.2 or newer"
                    if hello.max_version < 0x0303
                    else "client offered no version this endpoint accepts",
                )
                answer = openssl_answer(door.ctx, data)
                reply = answer.reply or alert_record(PROTOCOL_VERSION, hello.legacy_version)
                alert = first_alert(reply)
                if alert is not None:
                    record["alert_sent"] = alert
                await loop.sock_sendall(raw, reply)
                return self._give_up(record, started)
        finally:
            raw.close()
        await self._upgrade(record, started, hello)

    def _give_up(self, record: records.HandshakeRecord, started: float) -> None:
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.door.log.write(record)
        if self.transport is not None:
            cast(asyncio.Transport, self.transport).abort()

    async def _upgrade(
        self, record: records.HandshakeRecord, started: float, hello: ClientHello
    ) -> None:
        """OpenSSL on the transport, as aiosmtpd does it, then the log line."""
        from asyncio import sslproto  # noqa: PLC0415 - what aiosmtpd itself uses

        assert self.transport is not None and self.tls_context is not None
        waiter = self.loop.create_future()
        self._tls_protocol = sslproto.SSLProtocol(
            self.loop, self, self.tls_context, waiter, server_side=True
        )
        self._original_transport = self.transport
        self._original_transport.set_protocol(self._tls_protocol)
        self.transport = self._tls_protocol._app_transport
        self._tls_protocol.connection_made(self._original_transport)
        cast(asyncio.Transport, self._original_transport).resume_reading()
        try:
            await asyncio.wait_for(waiter, self.door.config.handshake_timeout)
        except (ssl.SSLError, OSError, asyncio.TimeoutError, ConnectionError) as exc:
            records.end(record, "failed", f"{type(exc).__name__}: {exc}")
            record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            self.door.log.write(record)
            raise TLSSetupException() from exc
        ssl_object = self._tls_protocol._extra.get("ssl_object")
        if ssl_object is not None:
            info = negotiated(dict(record), ssl_object, hello.sni)
            records.add_session(record, info, resumed=bool(ssl_object.session_reused))
        record["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        self.door.log.write(record)

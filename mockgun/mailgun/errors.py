"""The one error type: whatever Mailgun would refuse, with its status and its text."""

from __future__ import annotations

from collections.abc import Mapping


class MailgunError(Exception):
    """Raised anywhere a request cannot be served; the API answers it in Mailgun's shape.

    ``{"message": <message>}`` with ``status`` (a 401 is Mailgun's plain ``Forbidden``);
    ``headers`` go on the answer; ``close`` drops the connection after answering (for a
    body that was not read to its end).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.close = close


def not_found(what: str) -> MailgunError:
    """Mailgun's 404 for a thing that does not exist: ``Message not found`` and the like."""
    return MailgunError(404, f"{what} not found")

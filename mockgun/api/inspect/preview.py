"""The HTML preview of a message, as the web page shows it: sanitized, and bounded.

However hostile the message, the preview is at most :data:`HTML_LIMIT` of the message's
HTML plus :data:`INLINE_BUDGET` of inlined images: ``<img src="cid:a.png">`` repeated
thousands of times inlines the image only until the budget is spent, and the rest are
blocked (and counted) like remote images. Building it is CPU work on up to megabytes of
HTML: the handler runs it on a worker thread, never on the event loop.
"""

from __future__ import annotations

import base64

from ...mailgun.form import FilePart
from ...spool import Payload
from . import view
from .sanitize import sanitize_html

#: Inline parts shown in the preview (as data: URLs), and how large one may be.
INLINE_IMAGE_TYPES = frozenset(
    {"image/png", "image/gif", "image/jpeg", "image/webp", "image/bmp", "image/svg+xml"}
)
INLINE_IMAGE_MAX = 2 * 1024 * 1024
#: Characters of data: URLs one preview may carry in all.
INLINE_BUDGET = 8 * 1024 * 1024
#: Characters of a message's HTML that are previewed; a longer body is cut (and says so).
HTML_LIMIT = 8 * 1024 * 1024


def preview(
    html: str | None,
    uploaded: Payload | None,
    files: tuple[FilePart, ...],
    html_limit: int = HTML_LIMIT,
    budget: int = INLINE_BUDGET,
) -> tuple[str, int] | None:
    """``(document, blocked)`` for a message's HTML body (``html``, or the ``text/html`` part
    of an ``uploaded`` MIME message), or None when it has none. Arguments that pickle: the
    API runs this in a worker process (mockgun.api.offload)."""
    source = html
    if source is None and uploaded is not None:
        source = view.html_body(uploaded)
    if source is None:
        return None
    cut = len(source) > html_limit
    if cut:
        source = source[:html_limit]
    inliner = _Inliner(files, budget)
    body, blocked = sanitize_html(source, resolve_cid=inliner.resolve)
    blocked += inliner.over_budget
    note = (
        f"<p><em>mockgun: the preview shows the first {html_limit:,} characters of this "
        "message's HTML.</em></p>"
        if cut
        else ""
    )
    return f"<!doctype html><meta charset=utf-8>{body}{note}", blocked


class _Inliner:
    """Makes ``cid:`` references into data: URLs while the budget lasts."""

    def __init__(self, files: tuple[FilePart, ...], budget: int) -> None:
        self._files = files
        self._left = budget
        self._urls: dict[int, str] = {}  # each part encoded once per preview
        #: References left out because the budget was spent (counted as blocked).
        self.over_budget = 0

    def resolve(self, name: str) -> str | None:
        # Inlined as data: URLs: the sandboxed preview has no origin of its own, so a browser
        # would not send the API key with a request back to mockgun for the part.
        for part in self._files:
            if (part.filename == name or part.safe_filename == name) and (
                part.content_type.lower() in INLINE_IMAGE_TYPES and part.size <= INLINE_IMAGE_MAX
            ):
                url = self._urls.get(id(part)) or self._urls.setdefault(id(part), _data_url(part))
                if len(url) > self._left:
                    self.over_budget += 1  # blocked, like a remote image
                    return None
                self._left -= len(url)
                return url
        return None


def _data_url(part: FilePart) -> str:
    encoded = base64.b64encode(part.read()).decode()
    return f"data:{part.content_type.lower()};base64,{encoded}"

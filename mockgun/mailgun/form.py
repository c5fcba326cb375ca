"""A Mailgun send form as plain data: every field in order, and the uploaded files.

The HTTP reader that fills it (:func:`mockgun.api.form.read_form`) lives with the API.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..spool import CHUNK, Payload
from .errors import MailgunError

_UNSAFE_IN_NAMES = re.compile('[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"]')


@dataclass(frozen=True)
class FilePart:
    """An uploaded file (``attachment``, ``inline``, ``message``): in memory, or spooled to
    ``path`` when it was large."""

    field: str
    filename: str
    content_type: str
    data: bytes = dataclasses.field(default=b"", repr=False)
    path: Path | None = None

    @property
    def content(self) -> Payload:
        """The bytes, wherever they are (in memory, or in the spool for a large part)."""
        return Payload(data=self.data, path=self.path)

    @property
    def size(self) -> int:
        return self.content.size

    def read(self) -> bytes:
        return self.content.read()

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        return self.content.chunks(size)

    @property
    def safe_filename(self) -> str:
        """The name to put in headers: no directories, no control characters, never empty.

        The name as sent stays in ``filename`` (and in the JSON that lists it).
        """
        # Lone surrogates (undecodable bytes in the upload's name) become U+FFFD first.
        name = self.filename.encode("utf-8", "replace").decode("utf-8")
        base = re.split(r"[/\\]", name)[-1]
        # Control characters, line breaks, and the bidirectional controls that make
        # "invoice\u202egnp.exe" show as "invoiceexe.png" in a browser's download bar.
        cleaned = re.sub(_UNSAFE_IN_NAMES, "_", base).strip(" .")
        return cleaned or "attachment"


@dataclass
class Form:
    """Every plain field in the order sent, and every file part."""

    fields: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    files: list[FilePart] = dataclasses.field(default_factory=list)
    content_type: str = ""

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]

    def get(self, name: str) -> str | None:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def files_named(self, name: str) -> list[FilePart]:
        return [part for part in self.files if part.field == name]

    def with_prefix(self, prefix: str) -> Iterator[tuple[str, str]]:
        return ((k, v) for k, v in self.fields if k.startswith(prefix))


def too_large(max_size: int) -> MailgunError:
    # Mailgun's own wording ("... exceeds 52.4MiB limit"), with mockgun's configured limit.
    limit = f"{max_size / 2**20:.1f}MiB" if max_size >= 2**20 else f"{max_size / 2**10:.1f}KiB"
    # close: the rest of the body is not read, so the connection cannot carry another request.
    return MailgunError(413, f"request size exceeds {limit} limit", close=True)

"""Templates from a folder (``mockgun serve --templates DIR``), as teams keep the ones they made
in Mailgun's dashboard.

Layout (every template serves every domain; one made through the API for a domain takes
precedence there)::

    DIR/welcome.hbs            template "welcome": one version, tag "initial", active
    DIR/receipt/v1.hbs         template "receipt", version "v1"
    DIR/receipt/v2.hbs         ... version "v2"; the active one is the version whose header
                               says ``active: yes``, else the last tag in name order

A file may start with headers between two ``---`` lines: the version's ``Subject``, ``From``
and ``Reply-To``, and ``description``, ``comment``, ``active``::

    ---
    Subject: Welcome, {{name}}
    From: Shop <shop@example.com>
    ---
    <p>Hi {{name}}</p>

A file that cannot be read as a template raises :class:`TemplateFileError` naming the file
and line; :func:`snapshot` lets a caller notice changes (the server polls it).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from . import render
from .errors import MailgunError
from .templates import (
    DEFAULT_TAG,
    MAX_TEMPLATE_BYTES,
    TEMPLATE_HEADERS,
    Template,
    TemplateBook,
    Version,
    check_name,
)

SUFFIX = ".hbs"
_META = ("description", "comment", "active")
_OPENING = re.compile(r"\{\{[#^]")


class TemplateFileError(Exception):
    """A template file that cannot be used, with where: ``path:line: what``."""

    def __init__(self, path: Path, line: int, what: str) -> None:
        super().__init__(f"{path}:{line}: {what}")
        self.path, self.line = path, line


def snapshot(directory: Path) -> tuple[tuple[str, int, float], ...]:
    """What the folder holds now (names, sizes, times): compare two to see a change."""
    if not directory.is_dir():
        return ()
    files = sorted(directory.rglob(f"*{SUFFIX}"))
    return tuple((str(p), p.stat().st_size, p.stat().st_mtime) for p in files if p.is_file())


def load(directory: Path) -> dict[str, Template]:
    """Every template in ``directory``, by name."""
    if not directory.is_dir():
        raise TemplateFileError(directory, 0, "is not a folder")
    templates: dict[str, Template] = {}
    for entry in sorted(directory.iterdir()):
        template: Template | None = None
        if entry.is_file() and entry.suffix == SUFFIX:
            template = _single(entry)
        elif entry.is_dir():
            template = _folder(entry)
        if template is None:
            continue
        if template.name in templates:
            raise TemplateFileError(entry, 0, f"a second template named '{template.name}'")
        templates[template.name] = template
    return templates


def _single(path: Path) -> Template:
    template = Template(name=_name(path, path.stem, "template name"), created_at=_mtime(path))
    version, meta = _version(path, DEFAULT_TAG)
    template.description = meta.get("description", "")
    template.add_version(version, activate=True)
    return template


def _folder(folder: Path) -> Template | None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == SUFFIX)
    if not files:
        return None
    template = Template(name=_name(folder, folder.name, "template name"), created_at=_mtime(folder))
    chosen: Version | None = None
    for path in files:
        version, meta = _version(path, _name(path, path.stem, "version tag"))
        template.add_version(version, activate=False)
        template.description = meta.get("description", template.description)
        if meta.get("active", "").lower() in ("yes", "true", "1"):
            chosen = version
    template.make_active(chosen or list(template.versions.values())[-1])
    return template


def _name(path: Path, raw: str, what: str) -> str:
    try:
        return check_name(raw, what)
    except MailgunError as exc:
        raise TemplateFileError(path, 0, exc.message) from None


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)


def _version(path: Path, tag: str) -> tuple[Version, dict[str, str]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TemplateFileError(path, 0, f"cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TemplateFileError(path, line, "is not UTF-8") from None
    headers, meta, body, first_line = _front_matter(path, text)
    if len(body.encode()) > MAX_TEMPLATE_BYTES:
        raise TemplateFileError(path, first_line, "the template is over the 100 KB limit")
    try:
        render.check(body)
    except MailgunError as exc:
        raise TemplateFileError(path, first_line + _error_line(body), exc.message) from None
    version = Version(
        tag=tag,
        template=body,
        comment=meta.get("comment", ""),
        headers=headers,
        created_at=_mtime(path),
    )
    return version, meta


def _front_matter(path: Path, text: str) -> tuple[dict[str, str], dict[str, str], str, int]:
    """(version headers, other header values, the template, the line it starts on)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, {}, text, 1
    headers: dict[str, str] = {}
    meta: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            return headers, meta, "".join(lines[number:]), number + 1
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        canonical = next((h for h in TEMPLATE_HEADERS if h.lower() == key.lower()), None)
        if not sep or not key:
            raise TemplateFileError(path, number, "expected 'Name: value' or the closing ---")
        if canonical is not None:
            headers[canonical] = value
        elif key.lower() in _META:
            meta[key.lower()] = value
        else:
            allowed = ", ".join((*TEMPLATE_HEADERS, *_META))
            raise TemplateFileError(path, number, f"unknown header '{key}' (allowed: {allowed})")
    raise TemplateFileError(path, 1, "the headers that start with --- are never closed")


def _error_line(body: str) -> int:
    """Lines into ``body`` where the engine's complaint most likely is: the first line whose
    prefix fails for another reason than a block left open, else the last opening tag."""
    lines = body.splitlines(keepends=True)
    for number in range(1, len(lines) + 1):
        try:
            render.check("".join(lines[:number]))
        except MailgunError as exc:
            if "unclosed" not in exc.message:
                return number - 1
    openings = [n for n, line in enumerate(lines) if _OPENING.search(line)]
    return openings[-1] if openings else 0


class TemplateFolder:
    """The ``--templates`` folder behind a book's shared templates, reloaded on change."""

    def __init__(self, directory: Path, book: TemplateBook) -> None:
        self.directory = directory
        self.book = book
        #: Why the last reload failed (the templates before it stay), or None.
        self.error: str | None = None
        self._seen = snapshot(directory)
        book.shared = load(directory)  # at start, a bad file is an error to stop on

    def reload(self) -> int:
        """Load the folder again now; raises :class:`TemplateFileError` (nothing changes)."""
        seen = snapshot(self.directory)
        self.book.shared = load(self.directory)
        self._seen, self.error = seen, None
        return len(self.book.shared)

    def poll(self) -> str | None:
        """Reload if the folder's files changed since last time: None when they did not,
        else what happened (``reloaded``, or why not: the templates before it stay)."""
        now = snapshot(self.directory)
        if now == self._seen:
            return None
        self._seen = now
        try:
            self.book.shared = load(self.directory)
        except TemplateFileError as exc:
            self.error = str(exc)
            return f"not reloaded: {exc}"
        self.error = None
        return "reloaded"

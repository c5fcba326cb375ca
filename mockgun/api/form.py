"""Reading a Mailgun send form: urlencoded or multipart, every field possibly repeated.

aiohttp's ``request.post()`` is not used: it caps a form at 1,000 fields (a
Mailgun send may carry 1,000 ``to`` fields alone), turns every error into an
exception of its own, and cannot say whether ``message`` came as a file or a
plain field. This reader keeps every field in order and answers bad input with
Mailgun's status and text.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import mimetypes
import re
import sys
from collections.abc import Callable, Mapping
from io import FileIO
from pathlib import Path
from urllib.parse import unquote_to_bytes

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ..mailgun.errors import MailgunError
from ..mailgun.form import FilePart, Form, too_large
from ..spool import Spool
from .keys import CONFIG

try:  # a private class of yarl's; the standard library does the same, slower, without it
    from yarl._quoting import _Unquoter

    _c_unquote: Callable[[str], str] | None = _Unquoter()
except (ImportError, TypeError):  # pragma: no cover - another yarl
    _c_unquote = None

MAX_FIELDS = 20_000
_CHUNK = 64 * 1024
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


async def read_form(
    request: web.Request,
    *,
    max_size: int,
    timeout: float | None = None,
    spool: Spool | None = None,
) -> Form:
    """Read the whole body of ``request`` as a form, or raise :class:`MailgunError`
    (``close`` set for a 408 or 413: the rest of the body is not read).

    A body that has not fully arrived within ``timeout`` seconds gets a 408.
    """
    try:
        if sys.version_info >= (3, 11):  # a timeout scope; wait_for would add a task per request
            async with asyncio.timeout(timeout):
                return await _read_form(request, max_size, spool)
        return await asyncio.wait_for(_read_form(request, max_size, spool), timeout)
    except asyncio.TimeoutError:
        raise MailgunError(
            408, f"request timed out: the body did not arrive within {timeout:g}s", close=True
        ) from None


class Fields:
    """A request's parameters: its form body, then its query string (some clients send
    ``active=yes`` on the URL, and PUTs without a body carry everything there)."""

    def __init__(self, form: Form | None, query: Mapping[str, str]) -> None:
        self.form, self._query = form, query

    def get(self, name: str) -> str | None:
        value = self.form.get(name) if self.form is not None else None
        if value is None:
            value = self._query.get(name)
        return str(value) if value is not None else None

    def getall(self, name: str) -> list[str]:
        values = self.form.getall(name) if self.form is not None else []
        return values or [v for k, v in self._query.items() if k == name]

    def yes(self, name: str) -> bool:
        return (self.get(name) or "").strip().lower() in ("yes", "true", "1")


async def read_fields(request: web.Request, *, max_size: int = 1024 * 1024) -> Fields:
    """The form body (when there is one, up to ``max_size``) and the query string."""
    form = None
    if request.can_read_body:
        config = request.app[CONFIG]
        form = await read_form(
            request,
            max_size=min(max_size, config.max_message_size),
            timeout=config.request_timeout,
        )
    return Fields(form, request.query)


async def _read_form(request: web.Request, max_size: int, spool: Spool | None) -> Form:
    length = request.content_length
    if length is not None and length > max_size:
        raise too_large(max_size)
    content_type = request.content_type
    if content_type == "multipart/form-data":
        return await _read_multipart(request, max_size, spool)
    if content_type in ("application/x-www-form-urlencoded", "application/octet-stream", ""):
        # aiohttp reports a missing Content-Type as application/octet-stream.
        if content_type == "application/octet-stream" and "Content-Type" in request.headers:
            raise _unsupported(content_type)
        return await _read_urlencoded(request, max_size)
    raise _unsupported(content_type)


def _unsupported(content_type: str) -> MailgunError:
    return MailgunError(
        400,
        "Invalid request content type. Expecting 'multipart/form-data' or "
        f"'application/x-www-form-urlencoded' but got '{content_type}'",
    )


async def _read_urlencoded(request: web.Request, max_size: int) -> Form:
    body = bytearray()
    while chunk := await request.content.readany():  # whatever has arrived, in one piece
        body += chunk
        if len(body) > max_size:
            raise too_large(max_size)
    form = Form(content_type="application/x-www-form-urlencoded")
    for pair in body.split(b"&"):
        if not pair:
            continue
        name, _, value = pair.partition(b"=")
        form.fields.append((field_name(_decode_qs(name)), _decode_qs(value)))
        if len(form.fields) > MAX_FIELDS:
            raise _too_many_fields()
    return form


def field_name(name: str) -> str:
    """A field's name without the ``[]`` that Rails-style encoders add to repeated fields:
    the Ruby SDK up to 1.2.x sends ``to[]=``, ``from[]=``, ``subject[]=`` from Rails mailers,
    and real Mailgun takes them as ``to``, ``from``, ``subject``."""
    return name[:-2] if name.endswith("[]") and len(name) > 2 else name


def _decode_qs(raw: bytes | bytearray) -> str:
    """One urlencoded name or value, or Mailgun's 400 for a bad escape or invalid UTF-8."""
    spaced = raw.replace(b"+", b" ")
    if "%" not in (text := spaced.decode("latin-1")):
        if text.isascii():
            return text
    elif _c_unquote is not None and text.isascii():
        # yarl's C unquoter (yarl comes with aiohttp) decodes a 100 KB HTML body ~13x faster
        # than the standard library's pure-Python loop. It leaves a sequence that is not UTF-8
        # as it was ("%ff"), so its answer is taken only when every escape was decoded: then
        # its UTF-8 is exactly two bytes shorter per escape than the input.
        # Every "%" was then a valid escape, too: no need to look for bad ones.
        decoded = _c_unquote(text)
        if len(decoded.encode("utf-8", "surrogatepass")) == len(text) - 2 * text.count("%"):
            return decoded
    if _BAD_ESCAPE.search(spaced):
        raise MailgunError(400, "unable to parse request: invalid URL escape")
    try:
        return unquote_to_bytes(bytes(spaced)).decode("utf-8")
    except UnicodeDecodeError:
        raise MailgunError(400, "unable to parse request: invalid UTF-8 in form data") from None


def _too_many_fields() -> MailgunError:
    return MailgunError(400, f"unable to parse request: more than {MAX_FIELDS} form fields")


async def _read_multipart(request: web.Request, max_size: int, spool: Spool | None) -> Form:
    form = Form(content_type="multipart/form-data")
    total = 0
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                raise MailgunError(400, "malformed multipart/form-data request")
            if not _is_utf8(part.name):  # undecodable bytes reach us as lone surrogates
                raise MailgunError(400, "unable to parse request: a field name is not valid UTF-8")
            data, spooled = await _read_part(part, spool, max_size, total)
            total += spooled.stat().st_size if spooled is not None else len(data)
            if part.filename is not None:
                form.files.append(_file_part(part, data, spooled))
            else:
                charset = part.get_charset(default="utf-8")
                try:
                    form.fields.append((field_name(part.name), data.decode(charset)))
                except (UnicodeDecodeError, LookupError):
                    raise MailgunError(
                        400, f"unable to parse request: field '{part.name}' is not valid {charset}"
                    ) from None
            if len(form.fields) + len(form.files) > MAX_FIELDS:
                raise _too_many_fields()
    except MailgunError:
        raise
    except (ValueError, AssertionError, RuntimeError, LookupError, HttpProcessingError) as exc:
        # aiohttp's multipart reader says "malformed" in several exception types.
        raise MailgunError(400, "malformed multipart/form-data request") from exc
    return form


async def _read_part(
    part: BodyPartReader, spool: Spool | None, max_size: int, before: int
) -> tuple[bytes, Path | None]:
    """One part's decoded content: in memory, or (a large file) streamed to the spool.

    When the spool cannot be written (a full disk), the part stays in memory instead: it is
    at most ``max_size``, and an upload mockgun can hold is never refused for want of disk.
    """
    raw = bytearray()  # received, not decoded yet
    held = bytearray()  # decoded already: what a spool file that failed had taken
    received = 0
    spooled: Path | None = None
    out: FileIO | None = None
    try:
        while chunk := await part.read_chunk(_CHUNK):
            received += len(chunk)
            if before + received > max_size:
                raise too_large(max_size)
            if out is None:
                raw += chunk
                if spool is None or part.filename is None or len(raw) <= spool.threshold:
                    continue
                # Large files go to disk as they arrive: memory stays flat.
                spooled = spool.new_path()
                chunk, raw = bytes(raw), bytearray()
                try:
                    out = spooled.open("wb", buffering=0)
                except OSError:
                    spooled, spool, raw = None, None, bytearray(chunk)
                    continue
            decoded = part.decode(chunk)
            try:
                _write_all(out, decoded)
            except _SpoolFailed as failed:
                assert spooled is not None
                held = bytearray(_unspool(spooled, out)) + decoded[failed.written :]
                spooled, out, spool = None, None, None
    except BaseException:
        if spooled is not None:
            spooled.unlink(missing_ok=True)
        raise
    finally:
        if out is not None:
            out.close()
    if spooled is not None:
        return b"", spooled
    return bytes(held) + bytes(part.decode(bytes(raw))), None


class _SpoolFailed(Exception):
    def __init__(self, written: int) -> None:
        self.written = written


def _write_all(out: FileIO, data: bytes) -> None:
    """Write all of ``data`` (unbuffered: what reached the file is known exactly)."""
    view = memoryview(data)
    done = 0
    while done < len(view):
        try:
            done += out.write(view[done:]) or 0
        except OSError:
            raise _SpoolFailed(done) from None


def _unspool(path: Path, out: FileIO) -> bytes:
    """Give up on a spool file that cannot be written: what it holds, back in memory."""
    with contextlib.suppress(OSError):
        out.close()
    try:
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _file_part(part: BodyPartReader, data: bytes, path: Path | None = None) -> FilePart:
    filename = part.filename or ""
    content_type = part.headers.get("Content-Type")
    if not content_type:
        # The official SDK sends no part Content-Type; guess as Mailgun does from the name.
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    assert part.name is not None
    return FilePart(
        field=field_name(part.name),
        filename=filename,
        content_type=content_type,
        data=data,
        path=path,
    )


def csv_rows(
    parts: list[FilePart], field: str, columns: frozenset[str] = frozenset({"address"})
) -> list[dict[str, str]]:
    """The rows of the CSV file uploaded as ``field`` (Mailgun's imports), each without its
    empty cells; a 400 for no file, one that is not UTF-8, or none of ``columns``."""
    files = [part for part in parts if part.field == field]
    if not files:
        raise MailgunError(400, f"{field} parameter is missing")
    try:
        text = files[0].read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MailgunError(400, "the file is not UTF-8 CSV") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not columns & set(reader.fieldnames):
        raise MailgunError(400, "the CSV file needs an 'address' column")
    return [{k: v for k, v in row.items() if k and v} for row in reader]

"""Making a message's HTML body safe to show on mockgun's own page.

Three layers, because a test suite's messages can be hostile on purpose: this
sanitizer removes what runs script or loads from elsewhere, the answer carries a
``Content-Security-Policy: sandbox`` that gives the document an opaque origin and
no script at all, and the page shows it in an ``<iframe sandbox>``. Any one of them
alone would keep a message from running script on mockgun's origin.

External images and stylesheets are blocked (they are how a message phones home);
``cid:`` images become what ``resolve_cid`` makes of the message's inline parts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from html.parser import HTMLParser

#: Elements dropped together with everything inside them.
_DROP_WITH_CONTENT = frozenset(
    {
        "script",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "template",
        "noscript",
        "noembed",
        "noframes",
        "portal",
        "fencedframe",
        "title",
    }  # not script, but the page shows the subject already; it would be stray text
)
#: Elements dropped, their content kept (or void, so nothing inside).
_DROP_TAG = frozenset({"base", "link", "meta", "html", "head", "body", "xmp", "plaintext"})
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
        "param",
        "keygen",
    }
)
#: Attributes whose value is a URL that would be fetched (not followed by a click).
_FETCHED = frozenset({"src", "background", "poster", "data", "lowsrc", "dynsrc", "xlink:href"})
_DROP_ATTRS = frozenset({"srcset", "srcdoc", "ping", "formaction", "action", "imagesrcset"})
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_SAFE_DATA_IMAGE = re.compile(r"data:image/(png|gif|jpeg|webp|bmp);", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(['\"]?)\s*(?!data:)[^)]*\)", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.IGNORECASE)


def _scheme(value: str) -> str:
    """The URL scheme a browser would see (it ignores controls and whitespace in it)."""
    compact = _CONTROL.sub("", html.unescape(value)).lower()
    head, sep, _ = compact.partition(":")
    return head if sep and head.isascii() and head.replace("-", "").isalnum() else ""


def clean_css(css: str) -> str:
    """Remove what would fetch from elsewhere: ``url(...)`` (but data URLs) and ``@import``."""
    return _CSS_URL.sub("none", _CSS_IMPORT.sub("", css))


class _Sanitizer(HTMLParser):
    def __init__(self, resolve_cid: Callable[[str], str | None]) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.blocked = 0
        self._skip: list[str] = []  # open dropped elements
        self._in_style = False
        self._resolve_cid = resolve_cid

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip:
            if tag == self._skip[-1] and tag not in _VOID:
                self._skip.append(tag)
            return
        if tag in _DROP_WITH_CONTENT:
            self.blocked += tag not in ("noscript", "title")
            if tag not in _VOID:
                self._skip.append(tag)
            return
        if tag in _DROP_TAG:
            self.blocked += tag in ("link", "base", "meta")
            return
        self._in_style = tag == "style"
        kept = "".join(self._attribute(tag, name, value or "") for name, value in attrs)
        self.out.append(f"<{tag}{kept}>")

    handle_startendtag = handle_starttag

    def _attribute(self, tag: str, name: str, value: str) -> str:
        if name.startswith("on") or name in _DROP_ATTRS or not _valid_name(name):
            self.blocked += name.startswith("on")
            return ""
        scheme = _scheme(value)
        if scheme in ("javascript", "vbscript", "livescript", "mocha"):
            self.blocked += 1
            return ""
        if name == "style":
            value = clean_css(value)
        elif name in _FETCHED or (name == "href" and tag in ("image", "use", "feimage")):
            if scheme == "cid":
                resolved = self._resolve_cid(value.strip()[4:])
                if resolved is None:
                    return ""
                return f' {name}="{html.escape(resolved)}"'
            elif scheme == "data" and _SAFE_DATA_IMAGE.match(value.strip()):
                pass
            else:  # http(s), protocol-relative, relative, other schemes: not fetched
                self.blocked += 1
                return f' data-mockgun-blocked-{name.replace(":", "-")}="{html.escape(value)}"'
        return f' {name}="{html.escape(value)}"'

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if tag == self._skip[-1]:
                self._skip.pop()
            return
        if tag in _DROP_WITH_CONTENT or tag in _DROP_TAG or tag in _VOID:
            return
        if tag == "style":
            self._in_style = False
        self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_style:  # raw text: escaping would break CSS (``a > b``)
            self.out.append(clean_css(data).replace("<", "\\3c "))
        else:
            self.out.append(html.escape(data, quote=False))

    # Comments (IE conditional comments too), doctypes and processing instructions go.
    def handle_comment(self, data: str) -> None:
        pass

    def handle_decl(self, decl: str) -> None:
        pass

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass


_NAME = re.compile(r"^[a-z_:][-a-z0-9_:.]*$")


def _valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def sanitize_html(source: str, *, resolve_cid: Callable[[str], str | None]) -> tuple[str, int]:
    """The body made safe, and how many things (scripts, handlers, remote loads) were removed.

    ``resolve_cid`` maps a ``cid:`` reference to a URL for the inline part, or None.
    """
    parser = _Sanitizer(resolve_cid)
    parser.feed(source)
    parser.close()
    return "".join(parser.out), parser.blocked

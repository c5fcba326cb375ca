"""Rendering a stored template as Mailgun does: Handlebars, with Mailgun's helpers.

Mailgun's engine is "a fork of Handlebars" with the helpers ``if``, ``unless``, ``each``,
``with`` and ``equal`` (which compares its two arguments as strings). The engine here is
dotpromptz-handlebars: pure Python, no dependencies, kept by Google's Genkit team and tested
for conformance against Handlebars.js 4.7.9 (the other candidates: pybars3/pybars4, last
released 2019/2021 and compiling templates to Python code with exec; pydantic-handlebars,
which pulls in pydantic). ``equal`` is written here.

Variables come from ``v:`` options and ``X-Mailgun-Variables``, overridden by
``t:variables`` and ``X-Mailgun-Template-Variables`` (Mailgun's precedence). A render is
bounded: templates are at most 100 KB (checked when stored), nesting at most 100 blocks (the
engine's own limit), and what a render produces at most :data:`MAX_OUTPUT` characters; the
time a render may take is bounded by the worker process it runs in (see
``api/offload.py``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dotpromptz_handlebars import Handlebars, HelperOptions

from .errors import MailgunError

#: Characters one rendered part may have (a runaway {{#each}} stops here, as a failure).
MAX_OUTPUT = 10 * 1024 * 1024


class RenderError(Exception):
    """The template could not be rendered with these variables."""


def _equal(args: list[Any], options: HelperOptions) -> str:
    """``{{#equal a b}}...{{else}}...{{/equal}}``: Mailgun compares the two as strings."""
    if len(args) < 2:
        raise RenderError("equal needs two arguments")
    same = _text(args[0]) == _text(args[1])
    return options.fn(options.context) if same else options.inverse(options.context)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as JavaScript's String() writes them
    if value is None:
        return ""
    return str(value)


def _engine(*, escape_html: bool) -> Handlebars:
    engine = Handlebars(escape_html=escape_html)
    engine.register_helper("equal", _equal)
    return engine


_HTML = _engine(escape_html=True)
_PLAIN = _engine(escape_html=False)


def check(source: str) -> None:
    """Raise Mailgun's 400 if ``source`` is not a template the engine can compile."""
    try:
        _HTML.compile(source)
    except RecursionError:
        raise MailgunError(400, "template is nested too deeply") from None
    except Exception as exc:  # the engine's own errors are plain ValueErrors and kin
        raise MailgunError(400, f"template is not valid: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def merge_variables(
    v_options: dict[str, str],
    header_variables: str | None,
    t_variables: dict[str, Any] | None,
    template_header_variables: str | None,
) -> dict[str, Any]:
    """Mailgun's precedence: ``t:variables`` / ``X-Mailgun-Template-Variables`` override
    ``v:`` options / ``X-Mailgun-Variables``."""
    merged: dict[str, Any] = dict(v_options)
    merged.update(_json_or_empty(header_variables))
    merged.update(_json_or_empty(template_header_variables))
    merged.update(t_variables or {})
    return merged


def _json_or_empty(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


@dataclass(frozen=True)
class RenderJob:
    """What a templated send needs rendered (pickled to the worker process)."""

    source: str
    variables: dict[str, Any]
    #: Template header values that are themselves rendered (Subject, From, Reply-To).
    headers: dict[str, str] = field(default_factory=dict)


#: What a render may produce, at most, to run on the event loop (a worker process otherwise).
SMALL_RENDER = 256 * 1024


def is_small(job: RenderJob) -> bool:
    """Whether ``job`` surely renders to at most :data:`SMALL_RENDER` characters, and so in
    a time as small (tens of microseconds for a typical receipt): then it needs no worker
    process. The bound: the template with every ``{{...}}`` as long as the longest value,
    repeated for every ``{{#each}}`` as often as there are values at all."""
    sources = [job.source, *job.headers.values()]
    size = sum(len(s) for s in sources)
    mustaches = sum(s.count("{{") for s in sources)
    loops = sum(s.count("{{#each") for s in sources)
    if loops > 8:  # no receipt nests loops this deep; and the bound is a huge number then
        return False
    longest, values = _measure(job.variables)
    repeat: int = (values + 1) ** loops
    return (size + mustaches * longest) * repeat <= SMALL_RENDER


def _measure(value: Any, depth: int = 0) -> tuple[int, int]:
    """(the longest scalar's length, how many values there are), over nested containers."""
    if depth > 50:  # as deep as no real variables go: assume the worst
        return SMALL_RENDER, SMALL_RENDER
    if isinstance(value, dict):
        parts = [_measure(v, depth + 1) for v in value.values()]
    elif isinstance(value, list):
        parts = [_measure(v, depth + 1) for v in value]
    else:
        return len(str(value)), 1
    return max((p[0] for p in parts), default=0), sum(p[1] for p in parts) + len(parts)


@dataclass(frozen=True)
class Rendered:
    html: str
    headers: dict[str, str]


def render(job: RenderJob) -> Rendered:
    """Render ``job``; raises :class:`RenderError` saying why it cannot be."""
    html = _run(_HTML, job.source, job.variables)
    headers = {name: _run(_PLAIN, value, job.variables) for name, value in job.headers.items()}
    return Rendered(html=html, headers=headers)


@functools.lru_cache(maxsize=256)
def _compiled(escape_html: bool, source: str) -> Callable[..., str]:
    # A template is rendered again and again: compiling is most of the cost of a small one.
    return (_HTML if escape_html else _PLAIN).compile(source)


def _run(engine: Handlebars, source: str, variables: dict[str, Any]) -> str:
    try:
        out = _compiled(engine is _HTML, source)(variables)
    except RenderError:
        raise
    except RecursionError:
        raise RenderError("template is nested too deeply") from None
    except MemoryError:
        raise RenderError("rendering the template ran out of memory") from None
    except Exception as exc:
        raise RenderError(f"template could not be rendered: {_first_line(exc)}") from None
    if len(out) > MAX_OUTPUT:
        raise RenderError(f"the rendered template is over {MAX_OUTPUT} characters")
    return str(out)

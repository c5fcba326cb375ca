"""mockgun: a local, TLS-1.2+-only Mailgun API endpoint that logs every TLS handshake.

The public API is what ``__all__`` lists; every other module is internal. The names are
imported on first use (PEP 562), so that ``mockgun healthcheck``, which a container runs
every few seconds, does not pay for aiohttp and the whole app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .api.app import create_app
    from .config import Config
    from .embedded import ThreadedServer, serve_in_thread
    from .server import Server, serve

__all__ = [
    "Config",
    "Server",
    "ThreadedServer",
    "__version__",
    "create_app",
    "serve",
    "serve_in_thread",
]

_HOMES = {
    "Config": ".config",
    "Server": ".server",
    "ThreadedServer": ".embedded",
    "create_app": ".api.app",
    "serve": ".server",
    "serve_in_thread": ".embedded",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mockgun' has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # once imported, plain attribute access
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

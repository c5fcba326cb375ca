"""mockgun: a local, TLS-1.2+-only Mailgun /v3 endpoint that logs every TLS handshake."""

from __future__ import annotations

__version__ = "0.1.0"

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

"""mockgun's diagnostics go to the ``mockgun`` logger, never straight to the terminal.

Library code (the pytest fixture, ``serve_in_thread``) must not write on its user's
terminal from a background thread: records go through ``logging``, where pytest's
``caplog`` and the embedding program's own handlers see them. ``mockgun serve`` installs
a handler with the ``mockgun: ...`` format on standard error (:func:`to_stderr`).
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("mockgun")
# A library's logger: without this, logging's last-resort handler would print warnings on
# the terminal of a program that configured no logging.
logger.addHandler(logging.NullHandler())


def to_stderr(level: int = logging.INFO) -> logging.Handler:
    """Print mockgun's records on standard error as ``mockgun: message`` (the CLI does this)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("mockgun: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler

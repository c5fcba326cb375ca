"""Small helpers shared by test modules."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import requests


def basic(user: str, password: str) -> dict[str, str]:
    """An ``Authorization`` header for HTTP Basic auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


AUTH = basic("api", "key-test")


def inspect_json(base_url: str, ca_file: Path, path: str, key: str) -> Any:
    """GET an inspection endpoint of a server started with ``--api-key key``, as JSON."""
    resp = requests.get(f"{base_url}{path}", auth=("api", key), verify=str(ca_file), timeout=10)
    resp.raise_for_status()
    return resp.json()

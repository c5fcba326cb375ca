"""What users and the code base rely on staying put: the handshake-log schema, the settings
(one declaration: CLI, Config and docs agree), the public API, the import graph, and which
package serves which URLs."""

from __future__ import annotations

import dataclasses
import pkgutil
import re
import socket
import ssl
import subprocess
import sys
import typing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import pytest
import requests
from support import AUTH, LOG_SCHEMA, ROOT, Client, MockgunProcess, assert_log_schema, wait_for

import mockgun
from mockgun import Config, create_app
from mockgun.cli.options import env_name, markdown_table
from mockgun.cli.serve import serve_command
from mockgun.config import settings
from mockgun.embedded import ThreadedServer
from mockgun.pytest_plugin import MockgunFixture
from mockgun.server import Server
from mockgun.tls.records import OUTCOMES, HandshakeRecord


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_real_lines_of_every_outcome_match_the_published_schema(
    spawn: Callable[..., MockgunProcess],
) -> None:
    server = spawn("--handshake-timeout", "0.5", "--canary-port", "0")
    canary_port = int(
        wait_for(
            lambda: next(
                (
                    m.group(1)
                    for x in server.stdout_lines
                    if (m := re.search(r"canary.*:(\d+) ", x))
                ),
                None,
            ),
            what="the canary port in the banner",
        )
    )
    address = ("127.0.0.1", server.port)
    with server.client_context().wrap_socket(
        socket.create_connection(address), server_hostname="localhost"
    ):
        pass  # ok
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    legacy.check_hostname, legacy.verify_mode = False, ssl.CERT_NONE
    legacy.minimum_version = legacy.maximum_version = ssl.TLSVersion.TLSv1
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that Python really offers TLS 1.0
    with pytest.raises(ssl.SSLError), socket.create_connection(address) as sock:
        legacy.wrap_socket(sock)  # rejected
    cbc_only = server.client_context(ssl.TLSVersion.TLSv1_2)
    cbc_only.set_ciphers("AES128-SHA")
    with pytest.raises((ssl.SSLError, ConnectionError)), socket.create_connection(address) as sock:
        cbc_only.wrap_socket(sock, server_hostname="localhost")  # failed: no shared cipher
    with socket.create_connection(address) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not_tls
        sock.recv(4096)
    socket.create_connection(address).close()  # closed
    with socket.create_connection(address) as silent:  # timeout
        wait_for(lambda: len(server.handshakes()) >= 6, what="six lines")
    resp = requests.get(  # insecure: a client that verifies nothing, on the canary port
        f"https://127.0.0.1:{canary_port}/mockgun/health",
        verify=False,  # noqa: S501 - the point of the canary
        timeout=10,
    )
    assert resp.status_code == 403
    silent.close()
    lines = wait_for(
        lambda: (h := server.handshakes()) and {x["outcome"] for x in h} >= set(OUTCOMES) and h,
        what="a line of every outcome",
    )
    assert_log_schema(lines)


def test_the_schema_and_the_record_type_name_the_same_keys() -> None:
    keys = set(typing.get_type_hints(HandshakeRecord))
    assert set(LOG_SCHEMA["properties"]) == keys
    assert set(LOG_SCHEMA["required"]) == set(HandshakeRecord.__required_keys__)
    assert LOG_SCHEMA["properties"]["outcome"]["enum"] == list(OUTCOMES)


def test_serve_takes_exactly_the_config_fields() -> None:
    """uvicorn's parity test: a setting cannot be added to one side only."""
    params = {p.name for p in serve_command.params if isinstance(p, click.Option)}
    assert params == {f.name for f in dataclasses.fields(Config)}


def test_every_setting_has_a_mockgun_variable_shown_in_help() -> None:
    for param in serve_command.params:
        assert isinstance(param, click.Option) and param.show_envvar
        assert isinstance(param.envvar, str) and param.envvar.startswith("MOCKGUN_")
    assert [env_name(n, s) for n, _, s in settings()] == [p.envvar for p in serve_command.params]


def test_the_docs_option_table_is_the_one_click_shows() -> None:
    docs = (ROOT / "docs" / "cli.md").read_text()
    table = markdown_table(serve_command)
    assert table in docs, f"docs/cli.md's table differs; make it:\n{table}"


def test_defaults_come_from_config() -> None:
    """`mockgun serve` with no options builds exactly Config()."""
    seen: list[Config] = []
    command = click.Command(
        "probe",
        params=serve_command.params,
        callback=lambda **kw: seen.append(Config.from_settings(kw)),
    )
    command.main(args=[], standalone_mode=False)
    assert seen == [Config()]


def test_the_public_api_is_pinned() -> None:
    assert mockgun.__all__ == [
        "Config",
        "Server",
        "ThreadedServer",
        "__version__",
        "create_app",
        "serve",
        "serve_in_thread",
    ]
    for name in mockgun.__all__:
        assert getattr(mockgun, name) is not None


def _modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(mockgun.__path__, "mockgun.")
        if m.name != "mockgun.__main__"
    )


def test_every_module_imports_on_its_own() -> None:
    """A fresh interpreter per module: an import cycle shows up as an ImportError here."""

    def load(name: str) -> tuple[str, int, str]:
        result = subprocess.run(
            [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=60
        )
        return name, result.returncode, result.stderr[-500:]

    with ThreadPoolExecutor(4) as pool:
        failed = [r for r in pool.map(load, _modules()) if r[1] != 0]
    assert not failed


def test_the_healthcheck_imports_neither_aiohttp_nor_the_app() -> None:
    """`mockgun healthcheck` runs every few seconds in the container: it must stay light."""
    code = (
        "import sys, mockgun.cli\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp' "
        "or m.startswith(('mockgun.api', 'mockgun.server', 'cryptography')))\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_each_route_is_served_by_the_package_of_its_url_surface() -> None:
    app = create_app()
    for route in app.router.routes():
        module = route.handler.__module__
        path = route.resource.canonical if route.resource is not None else ""
        if module.startswith("mockgun.api.v3."):
            assert path.startswith(("/v3/", "/v4/", "/v1/")), (module, path)
        elif module.startswith("mockgun.api.inspect."):
            assert path == "/" or path.startswith("/mockgun"), (module, path)
        else:
            assert (module, path) == ("mockgun.api.app", "/{tail}"), (module, path)


async def test_the_not_emulated_404_lists_every_mailgun_route(client: Client) -> None:
    resp = await client.get("/v3/ips", headers=AUTH)
    assert resp.status == 404
    message = (await resp.json())["message"]
    assert message.startswith("mockgun does not emulate GET /v3/ips: it serves ")
    for served in (
        "POST /v3/{domain}/messages",
        "GET /v3/{domain}/templates/{name}/versions",
        "GET /v3/{domain}/events",
        "GET /v3/domains/{domain}/webhooks",
        "GET /v4/domains",
        "POST /v3/domains/{domain}/messages/{key}",
    ):
        assert served in message


def test_docs_pages_linked_from_the_readme_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert links, "the README links the docs pages"
    for link in links:
        assert (ROOT / link).is_file(), link
    assert len(readme.encode()) <= 10 * 1024


def test_links_between_docs_pages_resolve() -> None:
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to a missing {target}"


def test_license_and_changelog_ship() -> None:
    assert "MIT" in (ROOT / "LICENSE").read_text()
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")
    assert Path(mockgun.__file__).parent.name == "mockgun"


def test_the_three_ways_of_holding_a_server_say_the_same_things() -> None:
    """Server (async), ThreadedServer (a thread) and the pytest fixture each re-expose where
    the server is: a property added to one must be added to all."""
    shared = {"base_url", "api_url", "ca_file"}
    for holder in (Server, ThreadedServer, MockgunFixture):
        assert shared <= set(dir(holder)), holder
    assert {"api_key", "handshake_log", "env", "messages", "handshakes", "wait_for_message"} <= (
        set(dir(ThreadedServer)) & set(dir(MockgunFixture))
    )

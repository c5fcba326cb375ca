"""``--data-dir``: a server killed with SIGKILL in the middle of a flood of sends comes back with
every message it answered 200, their events, and the templates, suppressions, routes and
domains the API made."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from support import MockgunProcess, wait_for

SEND = {"from": "shop@example.com", "subject": "flood", "text": "t"}


def api(server: MockgunProcess, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(
        method,
        f"{server.base_url}{path}",
        auth=("api", "key"),
        verify=str(server.ca_file),
        timeout=30,
        **kw,
    )


def test_a_sigkill_loses_no_answered_message_and_keeps_the_books(
    spawn: Callable[..., MockgunProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = spawn("--data-dir", str(data))
    # What an app set up through the API before the crash.
    assert (
        api(
            server,
            "POST",
            "/v3/example.com/templates",
            data={"name": "welcome", "template": "<p>Hi {{name}}</p>"},
        ).status_code
        == 200
    )
    assert (
        api(
            server, "POST", "/v3/example.com/bounces", data={"address": "gone@example.com"}
        ).status_code
        == 200
    )
    route = api(
        server, "POST", "/v3/routes", data={"expression": "catch_all()", "action": "store()"}
    ).json()["route"]
    assert api(server, "POST", "/v4/domains", data={"name": "tenant.example.org"}).ok

    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def flood(worker: int) -> None:
        session = requests.Session()
        n = 0
        while not stop.is_set():
            n += 1
            try:
                resp = session.post(
                    f"{server.base_url}/v3/example.com/messages",
                    data={**SEND, "to": f"w{worker}-{n}@example.com"},
                    auth=("api", "key"),
                    verify=str(server.ca_file),
                    timeout=10,
                )
            except requests.RequestException:
                return  # the server is gone
            if resp.status_code == 200:
                with lock:
                    answered.append(resp.json()["id"])

    workers = [threading.Thread(target=flood, args=(w,)) for w in range(8)]
    for worker in workers:
        worker.start()
    wait_for(lambda: len(answered) >= 300, what="300 answered sends")
    server.proc.kill()  # SIGKILL: no clean-up, no last flush
    server.proc.wait()
    stop.set()
    for worker in workers:
        worker.join()

    again = spawn("--data-dir", str(data))
    listed = api(again, "GET", "/mockgun/messages").json()
    kept = {m["id"] for m in listed["items"]}
    lost = [i for i in answered if i not in kept]
    assert not lost, f"{len(lost)} of {len(answered)} answered messages lost"
    one = answered[len(answered) // 2].strip("<>")
    events = api(again, "GET", "/v3/example.com/events", params={"message-id": one}).json()
    assert {e["event"] for e in events["items"]} == {"accepted", "delivered"}
    assert api(again, "GET", "/v3/example.com/templates/welcome").status_code == 200
    assert api(again, "GET", "/v3/example.com/bounces/gone@example.com").status_code == 200
    assert api(again, "GET", f"/v3/routes/{route['id']}").json()["route"]["id"] == route["id"]
    domain = api(again, "GET", "/v4/domains/tenant.example.org").json()["domain"]
    assert domain["state"] == "unverified"
    # The restored server goes on as before: new sends, new ids, nothing replaced.
    fresh = api(again, "POST", "/v3/example.com/messages", data={**SEND, "to": "new@example.com"})
    assert fresh.status_code == 200 and fresh.json()["id"] not in kept
    assert api(again, "GET", "/mockgun/messages").json()["total"] == len(kept) + 1


def test_this_starts_options_still_apply_over_what_was_kept(
    spawn: Callable[..., MockgunProcess], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = spawn("--data-dir", str(data))  # any domain may send
    assert api(first, "POST", "/v3/anything.example/messages", data={**SEND, "to": "a@b.co"}).ok
    first.stop()
    second = spawn("--data-dir", str(data), "--domain", "mg.example.com", "--fault", "503 to=x@*")
    refused = api(second, "POST", "/v3/anything.example/messages", data={**SEND, "to": "a@b.co"})
    assert refused.status_code == 404  # --domain now limits sends, as it says
    faulted = api(second, "POST", "/v3/mg.example.com/messages", data={**SEND, "to": "x@y.com"})
    assert faulted.status_code == 503
    assert api(second, "GET", "/mockgun/messages").json()["total"] == 1  # the first run's


def test_without_data_dir_nothing_is_kept(spawn: Callable[..., MockgunProcess]) -> None:
    server = spawn()
    assert api(server, "POST", "/v3/example.com/messages", data={**SEND, "to": "a@b.co"}).ok
    assert api(server, "GET", "/mockgun/health").json()["status"] == "ok"

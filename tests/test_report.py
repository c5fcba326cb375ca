"""``mockgun handshakes``: the report after a run, and the CI gate on legacy TLS."""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from support import MockgunProcess, tls_attempt
from support import run_report as report

from mockgun.certs import ensure_certs
from mockgun.cli import main
from mockgun.tls.report import MAX_SLOTS, Tally


def test_fail_on_legacy_after_a_tls11_attempt(
    spawn: Callable[..., MockgunProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    server = spawn()
    tls_attempt(server, ssl.TLSVersion.TLSv1_3)
    tls_attempt(server, ssl.TLSVersion.TLSv1_1, sni="old-client.test")
    tls_attempt(server, ssl.TLSVersion.TLSv1_2)
    server.wait_handshakes(3)

    code, out, err = report(server.log_path, "--fail-on-legacy", capsys=capsys)
    assert code == 1
    assert "legacy TLS" in err and "old-client.test" in err and "TLSv1.1" in err
    assert "rejected" in out and "client offered at most TLSv1.1" in out

    code, out, _ = report(server.log_path, "--json", capsys=capsys)
    assert code == 0  # without --fail-on-legacy the report only reports
    data = json.loads(out)
    assert data["attempts"] == 3
    assert data["outcomes"] == {"ok": 2, "rejected": 1}
    assert {(n["tls_version"], n["count"]) for n in data["negotiated"]} == {
        ("TLSv1.3", 1),
        ("TLSv1.2", 1),
    }
    assert data["legacy_found"] is True
    [legacy] = data["legacy_clients"]
    assert legacy["sni"] == "old-client.test" and legacy["offered"] == ["TLSv1.1"]
    assert legacy["got"] == [] and legacy["count"] == 1
    assert [f["outcome"] for f in data["failures"]] == ["rejected"]


def test_only_modern_clients_pass_the_gate(
    spawn: Callable[..., MockgunProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    server = spawn()
    for _ in range(2):
        tls_attempt(server, ssl.TLSVersion.TLSv1_2)
    tls_attempt(server, ssl.TLSVersion.TLSv1_3)
    server.wait_handshakes(3)
    code, out, err = report(server.log_path, "--fail-on-legacy", capsys=capsys)
    assert (code, err) == (0, "")
    assert "\nClients\n" in out and "What to do" not in out
    data = json.loads(report(server.log_path, "--json", capsys=capsys)[1])
    # Two distinct clients (a 1.2-only and a 1.3-only context fingerprint differently).
    assert sorted(c["count"] for c in data["clients"]) == [1, 2]
    assert all(c["sni"] == "localhost" and not c["legacy"] for c in data["clients"])


def test_health_checks_are_left_out(
    spawn: Callable[..., MockgunProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    server = spawn()
    url = f"{server.base_url}/mockgun/health"
    assert main(["healthcheck", "--url", url, "--ca", str(server.ca_file)]) == 0
    assert capsys.readouterr().out.startswith(f"healthy: {url} is healthy (TLSv1.3")
    tls_attempt(server, ssl.TLSVersion.TLSv1_3)
    lines = server.wait_handshakes(2)
    assert lines[0]["healthcheck"] is True and "healthcheck" not in lines[1]
    data = json.loads(report(server.log_path, "--json", capsys=capsys)[1])
    assert (data["attempts"], data["healthchecks_left_out"]) == (1, 1)


def test_reads_a_log_cut_off_by_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "crashed.jsonl"
    ok = {
        "ts": "2026-01-01T00:00:00.000Z",
        "conn_id": 1,
        "peer": "127.0.0.1:1",
        "outcome": "ok",
        "tls_version": "TLSv1.2",
        "cipher": "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ja4": "t12i",
        "client_max_version": "TLSv1.2",
    }
    log.write_text(json.dumps(ok) + "\nnot json at all\n" + json.dumps(ok)[:30])
    # The report is still printed, and the gate fails, naming what is wrong, with or
    # without a --fail-on-* flag: a corrupt or cut-off log cannot vouch for anything.
    for flags in (["--format", "json", "--fail-on-legacy"], []):
        code, _, err = report(log, *flags, capsys=capsys)
        assert code == 1 and "Traceback" not in err
        assert "1 line(s) are not JSON objects (line 2)" in err
        assert "the last line has no newline" in err
    data = json.loads(report(log, "--json", capsys=capsys)[1])
    assert (data["attempts"], data["corrupt_lines"], data["cut_off_tail"]) == (1, 1, True)
    assert data["corrupt"] == [{"line": 2, "start": "not json at all"}]


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_a_missing_or_empty_log_fails_the_gate_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: str
) -> None:
    # A wrong volume or path must not pass CI green.
    log = tmp_path / "h.jsonl"
    if make == "empty":
        log.touch()
    code, _, err = report(log, "--fail-on-legacy", capsys=capsys)
    assert code == 1 and "Traceback" not in err
    assert ("does not exist" if make == "missing" else "is empty") in err
    code, out, _ = report(log, "--allow-empty", capsys=capsys)
    assert code == 0 and out.startswith("no attempts:")


def test_an_unreadable_log_fails_even_when_empty_is_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = report(tmp_path, "--allow-empty", capsys=capsys)  # a directory
    assert code != 0 and "Traceback" not in err


def test_healthcheck_fails_with_one_line_saying_why(
    mockgun_process: MockgunProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other_ca = ensure_certs(tmp_path / "other").paths.ca_cert
    url = f"{mockgun_process.base_url}/mockgun/health"
    assert main(["healthcheck", "--url", url, "--ca", str(other_ca)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("unhealthy: ") and "CERTIFICATE_VERIFY_FAILED" in out
    assert len(out.strip().splitlines()) == 1
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    assert (
        main(
            [
                "healthcheck",
                "--url",
                f"https://127.0.0.1:{port}/",
                "--ca",
                str(mockgun_process.ca_file),
            ]
        )
        == 1
    )
    assert "refused" in capsys.readouterr().out.lower()


def test_the_timeline_stays_bounded_over_a_long_run() -> None:
    """A sidecar up for days with a page open: the per-second slots coarsen instead of growing."""
    tally = Tally(keep_failures=False)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    seconds = MAX_SLOTS * 3
    for n in range(seconds):
        ts = (start + dt.timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        outcome = "rejected" if n % 1000 == 0 else "ok"
        tally.add({"ts": ts, "outcome": outcome, "tls_version": "TLSv1.3", "cipher": "C"})
    assert len(tally.slots) <= MAX_SLOTS and tally.resolution == 10
    timeline = tally.timeline(buckets=60)
    assert timeline["bucket_seconds"] % tally.resolution == 0
    assert len(timeline["buckets"]) <= 60
    totals = Counter[str]()
    for bucket in timeline["buckets"]:
        totals.update(bucket["counts"])
    assert totals == {"TLSv1.3": seconds - 30, "refused": 30}  # nothing lost in the merging

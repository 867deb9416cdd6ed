"""Autobahn|Testsuite conformance (RFC 6455) for the sansws server and client.

Server side: ``wstest -m fuzzingclient`` against ``python -m sansws serve``.
Client side: ``wstest -m fuzzingserver`` driven by ``tests/autobahn/client.py``.

Environment variables (see tests/autobahn/README.md):

- ``AUTOBAHN_CASES``: cases to run, e.g. ``"1.*,2.*"``, ``"9 12 13"`` (a bare
  section number means all its cases) or ``all``; default sections 1-11.
- ``AUTOBAHN_SERVER_CMD``: command template of the server under test, with
  ``{port}`` and optionally ``{python}`` and ``{compression}``
  (``--no-compression`` unless section 12 or 13 is selected).
- ``AUTOBAHN_CLIENT_LIB``: ``sansws`` (default) or ``websockets``.
- ``AUTOBAHN_AGENT``: agent name in the reports (default ``sansws``).
- ``AUTOBAHN_TIMEOUT``: seconds allowed for one wstest run (default 1800).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import AutobahnEnv

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

DEFAULT_CASES = [f"{section}.*" for section in range(1, 12)]
ALL_CASES = [f"{section}.*" for section in range(1, 14)]
COMPRESSION_SECTIONS = {"12", "13"}
# Cases whose behavior is INFORMATIONAL by design of the test suite.
INFORMATIONAL_CASES = {"7.1.6", "7.13.1", "7.13.2"}
GOOD_CLOSE = {"OK", "INFORMATIONAL"}
BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]

DEFAULT_SERVER_CMD = (
    "{python} -m sansws serve --host 127.0.0.1 --port {port} --max-size 16777216 {compression}"
)
WSTEST_TIMEOUT = float(os.environ.get("AUTOBAHN_TIMEOUT", "1800"))
AGENT = os.environ.get("AUTOBAHN_AGENT", "sansws")

pytestmark = [
    pytest.mark.autobahn,
    pytest.mark.timeout(WSTEST_TIMEOUT + 600),
]


# --- configuration -----------------------------------------------------------


def selected_cases() -> list[str]:
    raw = os.environ.get("AUTOBAHN_CASES", "").strip()
    if not raw:
        return list(DEFAULT_CASES)
    if raw.lower() == "all":
        return list(ALL_CASES)
    cases = []
    for item in re.split(r"[,\s]+", raw):
        if item:
            cases.append(f"{item}.*" if item.isdigit() else item)
    return cases


def uses_compression(cases: list[str]) -> bool:
    return any(case == "*" or case.split(".")[0] in COMPRESSION_SECTIONS for case in cases)


def subprocess_env() -> dict[str, str]:
    """Our environment, with the clone's src/ first on PYTHONPATH."""
    env = dict(os.environ)
    paths = [str(REPO / "src")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --- processes and sockets ---------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no output)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


@contextmanager
def background(cmd: list[str], log: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` with output to ``log``; stop it (this process only) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=subprocess_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


def wait_for_port(
    proc: subprocess.Popen[bytes], port: int, log: Path, name: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"{name} exited with {proc.returncode} before listening on "
                f"127.0.0.1:{port}.\ncommand: {proc.args!r}\n"
                f"--- output ({log}) ---\n{tail(log)}",
                pytrace=False,
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(
        f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f} s.\n"
        f"--- output ({log}) ---\n{tail(log)}",
        pytrace=False,
    )


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on ``port`` (Linux /proc)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


LOOPBACK_HEX = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1


def assert_loopback_only(port: int, name: str) -> None:
    addresses = listening_addresses(port)
    if not Path("/proc/net/tcp").exists():
        return
    others = addresses - LOOPBACK_HEX
    assert not others, (
        f"{name} listens on port {port} on non-loopback addresses "
        f"(hex, as in /proc/net/tcp): {sorted(others)}"
    )


def run_wstest(cmd: list[str], log: Path, timeout: float) -> int:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            pytest.fail(
                f"wstest did not finish within {timeout:.0f} s.\n"
                f"--- output ({log}) ---\n{tail(log)}",
                pytrace=False,
            )


def announced_cases(log: Path) -> list[str] | None:
    """The case ids wstest prints as ``Cases = ['1.1.1', ...]`` when it starts."""
    match = re.search(r"^Cases = (\[.*\])$", log.read_text(errors="replace"), re.M)
    return [str(case) for case in ast.literal_eval(match.group(1))] if match else None


# --- results -----------------------------------------------------------------


def case_key(case_id: str) -> tuple[int, ...]:
    return tuple(int(part) for part in case_id.split("."))


@dataclass
class Results:
    side: str
    agent: str
    cases: dict[str, dict[str, Any]]
    report_dir: Path
    wall_time: float

    def failures(self) -> list[str]:
        lines = []
        for case_id in sorted(self.cases, key=case_key):
            result = self.cases[case_id]
            behavior = result["behavior"]
            close = result["behaviorClose"]
            expected = "INFORMATIONAL" if case_id in INFORMATIONAL_CASES else "OK"
            if behavior != expected or close not in GOOD_CLOSE:
                lines.append(
                    f"  {case_id:<10} behavior={behavior:<14} "
                    f"behaviorClose={close:<14} (expected behavior {expected})"
                )
        return lines

    def summary(self, patterns: list[str]) -> str:
        behaviors = Counter(r["behavior"] for r in self.cases.values())
        closes = Counter(r["behaviorClose"] for r in self.cases.values())
        sections: dict[str, Counter[str]] = {}
        durations: Counter[str] = Counter()
        for case_id, result in self.cases.items():
            section = case_id.split(".")[0]
            sections.setdefault(section, Counter())[result["behavior"]] += 1
            durations[section] += int(result.get("duration") or 0)

        def counts(counter: Counter[str]) -> str:
            names = [b for b in BEHAVIORS if counter[b]]
            names += sorted(set(counter) - set(BEHAVIORS))
            return ", ".join(f"{name} {counter[name]}" for name in names) or "none"

        header = f"  {'section':<8}{'cases':>6}" + "".join(f"{b:>15}" for b in BEHAVIORS)
        header += f"{'case time':>11}"
        rows = [header]
        for section in sorted(sections, key=int):
            counter = sections[section]
            row = f"  {section:<8}{sum(counter.values()):>6}"
            row += "".join(f"{counter[b]:>15}" for b in BEHAVIORS)
            row += f"{durations[section] / 1000:>10.1f}s"
            rows.append(row)
        failures = self.failures()
        return "\n".join(
            [
                f"Autobahn {self.side} (agent {self.agent})",
                f"  cases requested: {' '.join(patterns)}",
                f"  cases run: {len(self.cases)}; wall time {self.wall_time:.1f} s",
                f"  behavior:      {counts(behaviors)}",
                f"  behaviorClose: {counts(closes)}",
                *rows,
                f"  unexpected results: {len(failures)}",
                *failures,
                f"  report: {self.report_dir / 'index.html'}",
            ]
        )


def load_results(
    side: str, report_dir: Path, agent: str, wall_time: float, wstest_log: Path
) -> Results:
    index_file = report_dir / "index.json"
    if not index_file.exists():
        pytest.fail(
            f"{side}: wstest wrote no {index_file}.\n"
            f"--- wstest output ({wstest_log}) ---\n{tail(wstest_log)}",
            pytrace=False,
        )
    index = json.loads(index_file.read_text())
    if agent not in index:
        pytest.fail(
            f"{side}: agent {agent!r} not in {index_file} (agents: {sorted(index)})",
            pytrace=False,
        )
    return Results(side, agent, index[agent], report_dir, wall_time)


def check(results: Results, announced: list[str] | None) -> None:
    """Fail the test, listing every unexpected case, unless all is as expected."""
    problems = []
    if announced is None:
        problems.append("wstest did not announce its case list ('Cases = [...]')")
    else:
        missing = sorted(set(announced) - set(results.cases), key=case_key)
        extra = sorted(set(results.cases) - set(announced), key=case_key)
        if missing:
            problems.append(f"{len(missing)} announced case(s) not reported: {missing}")
        if extra:
            problems.append(f"{len(extra)} unannounced case(s) reported: {extra}")
    if not results.cases:
        problems.append("no case was reported")
    failures = results.failures()
    if failures:
        problems.append(
            f"{len(failures)} case(s) without the expected behavior "
            f"(OK; INFORMATIONAL for {', '.join(sorted(INFORMATIONAL_CASES))}; "
            "behaviorClose OK or INFORMATIONAL):\n" + "\n".join(failures)
        )
    if problems:
        pytest.fail(
            f"Autobahn {results.side}: "
            + "\n".join(problems)
            + f"\nreport: {results.report_dir / 'index.html'}"
            + f"\n        {results.report_dir / 'index.json'}",
            pytrace=False,
        )


# --- the tests ---------------------------------------------------------------


def test_server_conformance(
    autobahn_env: AutobahnEnv, tmp_path: Path, autobahn_summary: list[str]
) -> None:
    """wstest -m fuzzingclient against the server under test."""
    autobahn_env.require()
    patterns = selected_cases()
    port = free_port()
    template = os.environ.get("AUTOBAHN_SERVER_CMD", DEFAULT_SERVER_CMD)
    server_cmd = shlex.split(
        template.format(
            port=port,
            python=shlex.quote(sys.executable),
            compression="" if uses_compression(patterns) else "--no-compression",
        )
    )
    report_dir = tmp_path / "reports" / "servers"
    spec = tmp_path / "fuzzingclient.json"
    spec.write_text(
        json.dumps(
            {
                "outdir": str(report_dir),
                "servers": [{"agent": AGENT, "url": f"ws://127.0.0.1:{port}"}],
                "cases": patterns,
                "exclude-cases": [],
                "exclude-agent-cases": {},
            },
            indent=2,
        )
    )
    server_log = tmp_path / "server.log"
    wstest_log = tmp_path / "wstest-fuzzingclient.log"
    with background(server_cmd, server_log, "server under test") as server:
        wait_for_port(server, port, server_log, "server under test")
        assert_loopback_only(port, "server under test")
        start = time.monotonic()
        code = run_wstest(
            autobahn_env.wstest_command("fuzzingclient", spec),
            wstest_log,
            WSTEST_TIMEOUT,
        )
        wall_time = time.monotonic() - start
        server_died = server.poll()
    if code != 0:
        pytest.fail(
            f"wstest fuzzingclient exited with {code}.\n"
            f"--- wstest output ({wstest_log}) ---\n{tail(wstest_log)}\n"
            f"--- server output ({server_log}) ---\n{tail(server_log)}",
            pytrace=False,
        )
    results = load_results(
        "server side (wstest fuzzingclient)", report_dir, AGENT, wall_time, wstest_log
    )
    summary = results.summary(patterns)
    summary += f"\n  server command: {shlex.join(server_cmd)}"
    if server_died is not None:
        summary += f"\n  WARNING: server exited with {server_died} during the run"
    autobahn_summary.append(summary)  # printed by conftest's terminal summary
    check(results, announced_cases(wstest_log))


def test_client_conformance(
    autobahn_env: AutobahnEnv, tmp_path: Path, autobahn_summary: list[str]
) -> None:
    """client.py against wstest -m fuzzingserver (bound to 127.0.0.1)."""
    autobahn_env.require()
    patterns = selected_cases()
    port = free_port()
    report_dir = tmp_path / "reports" / "clients"
    spec = tmp_path / "fuzzingserver.json"
    spec.write_text(
        json.dumps(
            {
                "url": f"ws://127.0.0.1:{port}",
                "outdir": str(report_dir),
                "cases": patterns,
                "exclude-cases": [],
                "exclude-agent-cases": {},
            },
            indent=2,
        )
    )
    lib = os.environ.get("AUTOBAHN_CLIENT_LIB", "sansws")
    client_cmd = [
        sys.executable,
        str(HERE / "client.py"),
        "--uri",
        f"ws://127.0.0.1:{port}",
        "--agent",
        AGENT,
        "--lib",
        lib,
    ]
    wstest_log = tmp_path / "wstest-fuzzingserver.log"
    client_log = tmp_path / "client.log"
    with background(
        autobahn_env.wstest_command("fuzzingserver", spec),
        wstest_log,
        "wstest fuzzingserver",
    ) as fuzzingserver:
        wait_for_port(fuzzingserver, port, wstest_log, "wstest fuzzingserver")
        assert_loopback_only(port, "wstest fuzzingserver")
        start = time.monotonic()
        with client_log.open("wb") as out:
            try:
                client = subprocess.run(
                    client_cmd,
                    cwd=REPO,
                    env=subprocess_env(),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=WSTEST_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"client.py did not finish within {WSTEST_TIMEOUT:.0f} s.\n"
                    f"--- client output ({client_log}) ---\n{tail(client_log)}",
                    pytrace=False,
                )
        wall_time = time.monotonic() - start
    if client.returncode != 0:
        pytest.fail(
            f"client.py ({lib}) exited with {client.returncode}.\n"
            f"--- client output ({client_log}) ---\n{tail(client_log)}\n"
            f"--- wstest output ({wstest_log}) ---\n{tail(wstest_log)}",
            pytrace=False,
        )
    results = load_results(
        "client side (wstest fuzzingserver)", report_dir, AGENT, wall_time, wstest_log
    )
    summary = results.summary(patterns)
    summary += f"\n  client: {shlex.join(client_cmd)}"
    client_tail = tail(client_log, 1)
    summary += f"\n  client says: {client_tail}"
    autobahn_summary.append(summary)  # printed by conftest's terminal summary
    check(results, announced_cases(wstest_log))

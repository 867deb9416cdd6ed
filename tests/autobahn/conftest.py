"""Fixtures for the Autobahn|Testsuite conformance harness.

- ``autobahn_env`` makes sure the Python 2.7 wstest environment exists in
  ``.cache/autobahn/``, running ``tests/autobahn/setup.sh`` when it does not.
  If setup fails, the tests FAIL with its output (they never skip).
- ``autobahn_summary`` collects the summaries written by the tests; a terminal
  summary hook prints them at the end of the run and writes them to
  ``reports/autobahn-summary.txt``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path(os.environ.get("AUTOBAHN_CACHE_DIR", REPO / ".cache" / "autobahn"))
SETUP_SH = HERE / "setup.sh"
SUMMARY_FILE = REPO / "reports" / "autobahn-summary.txt"
SETUP_TIMEOUT = 900

SUMMARY_KEY = pytest.StashKey[list[str]]()


@dataclass
class AutobahnEnv:
    """Where wstest lives, or why it could not be set up."""

    python27: Path
    wstest: Path
    setup_output: str
    error: str | None = None

    def require(self) -> None:
        """Fail the calling test (never skip) when the environment is missing."""
        if self.error is not None:
            pytest.fail(self.error, pytrace=False)

    def wstest_command(self, mode: str, spec: Path) -> list[str]:
        """wstest with every listening socket forced onto 127.0.0.1."""
        return [
            str(self.python27),
            str(HERE / "wstest_loopback.py"),
            "--mode",
            mode,
            "--spec",
            str(spec),
            "--webport",
            "0",
        ]


def wstest_works(wstest: Path) -> bool:
    if not wstest.is_file():
        return False
    try:
        result = subprocess.run(
            [str(wstest), "--autobahnversion"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@pytest.fixture(scope="session")
def autobahn_env() -> AutobahnEnv:
    python27 = CACHE / "py27" / "bin" / "python"
    wstest = CACHE / "py27" / "bin" / "wstest"
    if wstest_works(wstest):
        return AutobahnEnv(python27, wstest, "already set up")
    try:
        result = subprocess.run(
            ["bash", str(SETUP_SH)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=SETUP_TIMEOUT,
            check=False,
        )
        output, code = result.stdout, result.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        output = out.decode(errors="replace") if isinstance(out, bytes) else out
        code = -1
        output += f"\n(setup.sh killed after {SETUP_TIMEOUT} s)"
    print(output)
    if code != 0 or not wstest_works(wstest):
        error = (
            f"Autobahn|Testsuite environment could not be set up: "
            f"`bash {SETUP_SH}` exited with {code}.\n--- setup.sh output ---\n{output}"
        )
        return AutobahnEnv(python27, wstest, output, error)
    return AutobahnEnv(python27, wstest, output)


@pytest.fixture
def autobahn_summary(request: pytest.FixtureRequest) -> list[str]:
    """A list to append summary blocks to; printed at the end of the run."""
    stash = request.config.stash
    if SUMMARY_KEY not in stash:
        stash[SUMMARY_KEY] = []
    return stash[SUMMARY_KEY]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter,
    exitstatus: int,
    config: pytest.Config,
) -> None:
    blocks = config.stash.get(SUMMARY_KEY, [])
    if not blocks:
        return
    text = "\n\n".join(blocks) + "\n"
    SUMMARY_FILE.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY_FILE.write_text(text)
    terminalreporter.write_sep("=", "Autobahn|Testsuite summary")
    terminalreporter.write(text)
    terminalreporter.write_line(f"(also written to {SUMMARY_FILE})")

"""Configuration of the interop tests: the implementation under test, and the summary.

``SANSWS_INTEROP_OURS=websockets`` swaps sansws for websockets on "our" side,
to check the harness itself against a known-good library.
"""

from __future__ import annotations

import pytest
from interop_battery import SUMMARIES
from interop_peers import Implementation, ours


@pytest.fixture
def our() -> Implementation:
    """The library whose client and server meet the peers: sansws, or the stand-in."""
    return ours()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not SUMMARIES:
        return
    terminalreporter.section("interop: cases passed per peer")
    for report in SUMMARIES:
        terminalreporter.write_line(report.summary())
        for case in report.failures:
            terminalreporter.write_line(f"    FAIL {case.name}: {case.detail}")

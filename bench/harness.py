"""Timing and tables, shared by the protocol-level and end-to-end benchmarks.

A *cell* is one implementation on one workload: a zero-argument callable
that processes a batch and returns how many messages it handled. Every
cell of a workload is warmed up and calibrated first (so that one round
lasts about ``target`` seconds), then the cells run round by round in a
rotating order, each round timed with ``perf_counter_ns`` with the garbage
collector off. A cell keeps the best and the median of its rounds.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Runner = Callable[[], int]


@dataclass
class Result:
    """The per-message times of one cell, in nanoseconds."""

    impl: str
    rounds_ns: list[float] = field(default_factory=list)
    na: str | None = None

    @property
    def best(self) -> float:
        return min(self.rounds_ns)

    @property
    def median(self) -> float:
        return statistics.median(self.rounds_ns)

    def to_json(self) -> dict[str, Any]:
        if self.na is not None:
            return {"impl": self.impl, "na": self.na}
        return {
            "impl": self.impl,
            "best_ns": self.best,
            "median_ns": self.median,
            "rounds_ns": self.rounds_ns,
        }


@dataclass
class Row:
    """One workload's results."""

    name: str
    nbytes: int  # payload bytes per message, for MB/s
    results: dict[str, Result]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nbytes": self.nbytes,
            "results": {impl: r.to_json() for impl, r in self.results.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        results = {}
        for impl, r in data["results"].items():
            results[impl] = Result(impl, r.get("rounds_ns", []), r.get("na"))
        return cls(data["name"], data["nbytes"], results)


def _timed(runner: Runner, reps: int) -> tuple[int, int]:
    """Run ``runner`` ``reps`` times with gc off; return (messages, nanoseconds)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        done = 0
        for _ in range(reps):
            done += runner()
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    return done, elapsed


def measure(
    cells: dict[str, Runner | str],
    *,
    rounds: int,
    target: float,
    expected: int | None = None,
    max_reps: int = 100_000,
) -> dict[str, Result]:
    """Time each cell for ``rounds`` rounds, alternating cells round by round.

    Args:
        cells: implementation name to runner, or to the reason it is n/a.
        rounds: how many timed rounds per cell.
        target: the duration of one round, in seconds, that calibration aims at.
        expected: messages one call of a runner must report; a runner that
            reports another count is wrong and its cell becomes n/a.
        max_reps: a bound on the calls per round.
    """
    results: dict[str, Result] = {}
    reps: dict[str, int] = {}
    for impl, cell in cells.items():
        if isinstance(cell, str):
            results[impl] = Result(impl, na=cell)
            continue
        # Warm up, check, calibrate.
        done, elapsed = _timed(cell, 1)
        if expected is not None and done != expected:
            results[impl] = Result(impl, na=f"handled {done} messages, expected {expected}")
            continue
        reps[impl] = max(1, min(max_reps, math.ceil(target * 1e9 / max(elapsed, 1))))
        if elapsed < target * 1e9:  # a slow cell was warmed up by its first call
            _timed(cell, max(1, reps[impl] // 4))
        results[impl] = Result(impl)
    live = [impl for impl in cells if impl in reps]
    for round_index in range(rounds):
        shift = round_index % max(1, len(live))
        for impl in live[shift:] + live[:shift]:
            done, elapsed = _timed(cells[impl], reps[impl])  # type: ignore[arg-type]
            results[impl].rounds_ns.append(elapsed / max(done, 1))
    return results


# Tables ----------------------------------------------------------------------


def _fmt_us(ns: float) -> str:
    us = ns / 1000
    if us >= 10000:
        return f"{us:,.0f}"
    if us >= 100:
        return f"{us:.0f}"
    if us >= 10:
        return f"{us:.1f}"
    return f"{us:.2f}"


def _fmt_mbs(nbytes: int, ns: float) -> str:
    mbs = nbytes / ns * 1e3  # bytes per ns = GB/s; * 1000 = MB/s
    if mbs >= 100:
        return f"{mbs:,.0f}"
    return f"{mbs:.1f}"


def render(
    rows: list[Row], impls: list[str], *, stat: str = "best", baseline: str = "websockets"
) -> str:
    """Render rows as a fixed-width table of µs/message, MB/s and speed vs ``baseline``.

    The ratio is the baseline's time divided by this cell's time: 2.00x means
    twice as fast as the baseline, 0.50x half as fast.
    """
    shown = [impl for impl in impls if any(impl in row.results for row in rows)]
    name_width = max([len("workload")] + [len(row.name) for row in rows])
    header1 = " " * name_width
    header2 = "workload".ljust(name_width)
    for impl in shown:
        header1 += " | " + impl.center(22)
        header2 += " | " + f"{'µs':>7} {'MB/s':>7} {'x ws':>6}"
    lines = [f"({stat} of rounds; x ws = {baseline} time / this time)", header1, header2]
    lines.append("-" * len(header2))
    for row in rows:
        base = row.results.get(baseline)
        base_ns = None
        if base is not None and base.na is None and base.rounds_ns:
            base_ns = getattr(base, stat)
        line = row.name.ljust(name_width)
        for impl in shown:
            result = row.results.get(impl)
            if result is None or result.na is not None or not result.rounds_ns:
                line += " | " + f"{'n/a':>7} {'':>7} {'':>6}"
                continue
            ns = getattr(result, stat)
            ratio = f"{base_ns / ns:.2f}x" if base_ns else ""
            line += " | " + f"{_fmt_us(ns):>7} {_fmt_mbs(row.nbytes, ns):>7} {ratio:>6}"
        lines.append(line)
    notes = sorted({(impl, r.na) for row in rows for impl, r in row.results.items() if r.na})
    if notes:
        lines.append("")
        lines.append("n/a:")
        seen: set[tuple[str, str]] = set()
        for impl, reason in notes:
            if reason and (impl, reason) not in seen:
                seen.add((impl, reason))
                lines.append(f"  {impl}: {reason}")
    return "\n".join(lines)

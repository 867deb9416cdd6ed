"""The documentation: every example runs, and Sphinx builds it without a warning.

Each ``docs/examples/*.py`` runs in a subprocess of its own, as a reader
would run it, with a time-out; an example starts whatever server it needs
on 127.0.0.1 and stops by itself. The Sphinx build runs with ``-W``, so a
broken cross-reference, a docstring that does not parse or an example that
no page includes fails the suite.
"""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("*.py"))
EXAMPLE_TIMEOUT = 60  # each finishes in about a second; this only guards hangs


def included_files() -> set[str]:
    """The files under docs/examples/ that some page includes."""
    pattern = re.compile(r"^\s*\.\. literalinclude:: /?examples/(\S+)\s*$", re.MULTILINE)
    names: set[str] = set()
    for page in DOCS.rglob("*.rst"):
        if "_build" not in page.parts:
            names.update(pattern.findall(page.read_text(encoding="utf-8")))
    return names


def test_examples_found() -> None:
    assert len(EXAMPLES) >= 10


def test_every_example_is_included() -> None:
    on_disk = {path.name for path in (DOCS / "examples").iterdir() if path.is_file()}
    assert on_disk - included_files() == set()
    assert included_files() - on_disk == set()


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_runs(example: pathlib.Path, tmp_path: pathlib.Path) -> None:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stdout.strip(), "an example shows what it did"
    # Errors that asyncio only logs (a failed callback, a task exception never
    # retrieved) would not change the exit status.
    assert "Traceback" not in result.stderr, result.stderr
    assert "exception was never retrieved" not in result.stderr, result.stderr


def test_sphinx_build_has_no_warnings(tmp_path: pathlib.Path) -> None:
    import sphinx  # a missing Sphinx fails here: it is in the test extras

    assert sphinx.version_info >= (7,)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "WARNING" not in result.stderr, result.stderr
    html = tmp_path / "html"
    assert (html / "reference" / "protocol.html").exists()
    assert (html / "conformance.html").exists()
    # The reference pages are generated from the docstrings, not written by hand.
    sync_page = (html / "reference" / "sync.html").read_text(encoding="utf-8")
    assert 'id="sansws.sync.server.Server.serve_forever"' in sync_page
    assert 'id="sansws.sync.connection.PongWaiter"' in sync_page
    asyncio_page = (html / "reference" / "asyncio.html").read_text(encoding="utf-8")
    assert 'id="sansws.asyncio.broadcast"' in asyncio_page

"""wstest_loopback's fast-path UTF-8 validator answers exactly as wstest's own."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import AutobahnEnv

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.autobahn


def test_fast_path_validator_matches_wstest(autobahn_env: AutobahnEnv) -> None:
    autobahn_env.require()
    result = subprocess.run(
        [str(autobahn_env.python27), str(HERE / "check_fast_validator.py")],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("same answers on "), result.stdout
    assert int(result.stdout.split()[3]) > 2_000_000

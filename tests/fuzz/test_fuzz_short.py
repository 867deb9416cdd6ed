"""Run each atheris fuzzer for a short, bounded time, and replay the seed corpus.

The short runs are the fuzzers' smoke test in CI: each runs for
``SANSWS_FUZZ_SECONDS`` seconds (default 12) from a copy of its seed corpus,
with ``-rss_limit_mb=2048``, and must exit with 0. Longer runs are
``make fuzz``. atheris is a test dependency: if it is missing, these tests
fail, they do not skip.

The replay tests run every fuzz target in-process over its seed corpus, so
that a regression in a target shows with a plain traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import fuzz_handshake
import fuzz_headers
import fuzz_protocol
import pytest
from test_regressions import HANDSHAKE_CRASH

HERE = Path(__file__).resolve().parent
TARGETS = {
    "protocol": fuzz_protocol.TestOneInput,
    "handshake": fuzz_handshake.TestOneInput,
    "headers": fuzz_headers.TestOneInput,
}
SECONDS = int(os.environ.get("SANSWS_FUZZ_SECONDS", "12"))


def test_atheris_is_installed() -> None:
    import atheris

    assert callable(atheris.Fuzz)


def corpus_files(target: str) -> list[Path]:
    files = sorted((HERE / "corpus" / target).iterdir())
    assert len(files) >= 10, f"the seed corpus of {target} is missing: run make_corpus.py"
    return files


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_replay_corpus(target: str) -> None:
    for path in corpus_files(target):
        TARGETS[target](path.read_bytes())


def run_fuzzer(target: str, tmp_path: Path, extra_inputs: list[bytes]) -> str:
    """Run one fuzzer for SECONDS seconds; return its output, asserting exit code 0."""
    corpus = tmp_path / "corpus"
    # New inputs go to the first directory: a copy, so the seeds stay as they are.
    shutil.copytree(HERE / "corpus" / target, corpus)
    for index, data in enumerate(extra_inputs):
        (corpus / f"regression-{index}").write_bytes(data)
    # pytest-cov would start coverage in the child and slow it down.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    command = [
        sys.executable,
        str(HERE / f"fuzz_{target}.py"),
        f"-max_total_time={SECONDS}",
        "-rss_limit_mb=2048",
        "-timeout=10",
        "-print_final_stats=1",
        f"-artifact_prefix={tmp_path}/",
        str(corpus),
    ]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        errors="replace",
        env=env,
        timeout=SECONDS + 120,
        check=False,
    )
    output = result.stdout + result.stderr
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name != "corpus")
    assert result.returncode == 0, f"fuzz_{target} failed, artifacts {crashes}:\n{output[-6000:]}"
    # libFuzzer's last words: "#N DONE cov: ... exec/s: ..." then "Done N runs in S second(s)".
    done = [line for line in output.splitlines() if "\tDONE " in line or line.startswith("Done ")]
    assert done, output[-3000:]
    print(f"fuzz_{target}: " + " | ".join(done))
    return output


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_fuzz_briefly(target: str, tmp_path: Path) -> None:
    # The handshake fuzzer's first crash stays among its inputs.
    run_fuzzer(target, tmp_path, [HANDSHAKE_CRASH] if target == "handshake" else [])

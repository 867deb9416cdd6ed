#!/usr/bin/env bash
# Create the Autobahn|Testsuite environment for the conformance harness.
#
# autobahntestsuite (wstest) runs on Python 2.7 only. This script builds, in
# the clone's ignored folder .cache/autobahn/:
#   py3/   a Python 3 venv holding virtualenv==20.21.1 (the last release that
#          can still create Python 2.7 environments)
#   py27/  a Python 2.7 env made by that virtualenv, with the pinned set in
#          tests/autobahn/requirements-py27.txt (autobahntestsuite==25.10.1)
#
# It is idempotent: when .cache/autobahn/py27/bin/wstest already runs it
# exits at once. Exit status is non-zero on any failure.
#
# Overrides (environment variables):
#   AUTOBAHN_CACHE_DIR   where to build (default: <repo>/.cache/autobahn)
#   AUTOBAHN_PYTHON27    Python 2.7 interpreter
#                        (default: /root/.pyenv/versions/2.7.18/bin/python2.7,
#                        then python2.7 on PATH)
#   AUTOBAHN_PYTHON3     Python 3 interpreter for the helper venv
#                        (default: python3 on PATH)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${AUTOBAHN_CACHE_DIR:-$repo/.cache/autobahn}"
requirements="$here/requirements-py27.txt"
wstest="$cache/py27/bin/wstest"

export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_PYTHON_VERSION_WARNING=1
export PIP_NO_INPUT=1

log() { printf '[autobahn setup] %s\n' "$*"; }
die() { printf '[autobahn setup] ERROR: %s\n' "$*" >&2; exit 1; }

wstest_works() {
    # `wstest --autobahnversion` imports autobahntestsuite, autobahn and
    # Twisted, so it fails on a broken or half-installed environment.
    # wsaccel is checked too, so that an environment built before it was
    # pinned gets rebuilt.
    [ -x "$wstest" ] && "$wstest" --autobahnversion >/dev/null 2>&1 \
        && "$cache/py27/bin/python" -c 'import wsaccel.xormask' >/dev/null 2>&1
}

if wstest_works; then
    log "already set up: $wstest ($("$wstest" --autobahnversion 2>&1 | tail -n 1))"
    exit 0
fi

mkdir -p "$cache"
# Serialise concurrent runs (e.g. two pytest processes on a fresh clone).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache/.setup.lock"
    flock 9
    if wstest_works; then
        log "set up by a concurrent run: $wstest"
        exit 0
    fi
fi

start=$(date +%s)

# --- interpreters ---------------------------------------------------------
py27="${AUTOBAHN_PYTHON27:-}"
if [ -z "$py27" ]; then
    if [ -x /root/.pyenv/versions/2.7.18/bin/python2.7 ]; then
        py27=/root/.pyenv/versions/2.7.18/bin/python2.7
    elif command -v python2.7 >/dev/null 2>&1; then
        py27="$(command -v python2.7)"
    else
        die "no Python 2.7 found; set AUTOBAHN_PYTHON27 (autobahntestsuite is Python 2.7 only)"
    fi
fi
"$py27" -c 'import sys; assert sys.version_info[:2] == (2, 7)' \
    || die "$py27 is not a working Python 2.7"
log "Python 2.7: $py27"

py3="${AUTOBAHN_PYTHON3:-python3}"
"$py3" -c 'import sys; assert sys.version_info >= (3, 7)' \
    || die "$py3 is not a working Python >= 3.7"
log "Python 3 (for virtualenv): $("$py3" -c 'import sys; print(sys.executable)')"

# --- step 1: Python 3 venv with virtualenv==20.21.1 -----------------------
if "$cache/py3/bin/python" -c \
    'import virtualenv, sys; sys.exit(virtualenv.__version__ != "20.21.1")' \
    >/dev/null 2>&1; then
    log "step 1/3: $cache/py3 already has virtualenv 20.21.1"
else
    log "step 1/3: creating $cache/py3 with virtualenv==20.21.1"
    rm -rf "$cache/py3"
    "$py3" -m venv "$cache/py3"
    "$cache/py3/bin/python" -m pip install --quiet virtualenv==20.21.1
fi

# --- step 2: Python 2.7 env -------------------------------------------------
log "step 2/3: creating the Python 2.7 env $cache/py27"
rm -rf "$cache/py27"
"$cache/py3/bin/virtualenv" --quiet --no-periodic-update -p "$py27" "$cache/py27"

# --- step 3: autobahntestsuite and its pinned dependencies ---------------
log "step 3/3: installing $(basename "$requirements") into py27 (about 30 s)"
# The machine-wide pip config may list local indexes that do not exist for
# every package; drop pip's "Url ... is ignored" warnings about them.
if ! "$cache/py27/bin/python" -m pip install --quiet -r "$requirements" 2>&1 \
    | { grep -v "^WARNING: Url '.*' is ignored" || true; }; then
    rm -rf "$cache/py27"
    die "pip install -r $requirements failed"
fi

if ! wstest_works; then
    "$wstest" --autobahnversion || true
    rm -rf "$cache/py27"
    die "wstest does not run after installation"
fi

log "done in $(( $(date +%s) - start )) s: $wstest ($("$wstest" --autobahnversion 2>&1 | tail -n 1))"

"""Shared test configuration: Hypothesis profiles.

Select one with ``HYPOTHESIS_PROFILE=ci`` (the default is ``dev``):

- ``dev``: 200 examples per property, random seeds; quick enough to run on
  every change.
- ``ci``: 1000 examples per property, derandomized so that a failure
  reproduces from run to run, and the failing example printed as a blob.

Neither has a deadline: feeding a frame one byte at a time is slow on a
loaded machine, and a timing flake is not a bug in the code under test.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=200, deadline=None)
settings.register_profile("ci", max_examples=1000, deadline=None, derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

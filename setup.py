"""Build the optional compiled kernels; everything else is in pyproject.toml.

``sansws._speedups`` is built when a C compiler is present. If the build
fails, the install goes on without it and sansws uses its pure-Python
kernels, which compute the same results.
"""

import os

from setuptools import Extension, setup

ext_modules = []
if not os.environ.get("SANSWS_NO_EXTENSION"):
    ext_modules.append(
        Extension(
            "sansws._speedups",
            sources=["src/sansws/_speedups.c"],
            extra_compile_args=["-O3"] if os.name != "nt" else [],
            optional=True,
        )
    )

setup(ext_modules=ext_modules)

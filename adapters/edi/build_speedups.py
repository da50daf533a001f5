"""Build the compiled tokenizer (``_speedups.pyx``) in place: ``python adapters/edi/build_speedups.py``.

``make setup`` (and so ``make test``/``make demo``) runs this after installing the lock file.
It builds from this folder, away from the project's pyproject.toml, so setuptools compiles one
extension instead of trying to package the project. Without the built module the codec runs
its pure-Python path (same results, slower); ``HUB_EDI_PURE_PYTHON=1`` forces that path.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    from Cython.Build import cythonize
    from setuptools import Extension, setup

    os.chdir(HERE)
    scratch = tempfile.mkdtemp(prefix="hub-speedups-")  # object files: not in the source tree
    try:
        setup(name="mes-hub-edi-speedups", packages=[], py_modules=[],
              ext_modules=cythonize([Extension("_speedups", ["_speedups.pyx"])], language_level=3, quiet=True),
              script_args=["--quiet", "build", "--build-base", scratch, "build_ext", "--inplace"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

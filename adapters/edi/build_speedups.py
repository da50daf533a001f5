"""Build every compiled accelerator of the project in place: ``python adapters/edi/build_speedups.py``.

``make setup`` (and so ``make test``/``make demo``) runs this after installing the lock file.
The accelerators (``EXTENSIONS``), each optional, each with a pure-Python path giving the same
results and a switch to force that path:

* ``adapters/edi/_speedups.pyx``: the EDIFACT/X12 tokenizer's batch path (``HUB_EDI_PURE_PYTHON=1``);
* ``mappings/_fastmap.pyx``: the mapping fast path for segment sources, X12 HL levels
  included (``HUB_MAPPING_PURE_PYTHON=1``).

Each is built from its own folder, away from the project's pyproject.toml, so setuptools
compiles one extension instead of trying to package the project. The generated C and the
object files go to a scratch folder; only the importable module lands next to its ``.pyx``.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: (folder relative to the repository, module name): ``<folder>/<module>.pyx`` -> ``<folder>/<module>*.so``
EXTENSIONS = (
    ("adapters/edi", "_speedups"),
    ("mappings", "_fastmap"),
)


def build(folder: str, module: str) -> None:
    from Cython.Build import cythonize
    from setuptools import Extension, setup

    here = Path.cwd()
    os.chdir(ROOT / folder)
    scratch = tempfile.mkdtemp(prefix=f"hub-{module.strip('_')}-")  # C and object files: not in the source tree
    try:
        setup(name=f"mes-hub-{module.strip('_')}", packages=[], py_modules=[],
              ext_modules=cythonize([Extension(module, [f"{module}.pyx"])], language_level=3, quiet=True,
                                    build_dir=scratch),
              script_args=["--quiet", "build", "--build-base", scratch, "build_ext", "--inplace"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        os.chdir(here)


def main(argv: list[str]) -> None:
    """Build all of ``EXTENSIONS``, or only the modules named on the command line."""
    known = {module: folder for folder, module in EXTENSIONS}
    unknown = [name for name in argv if name not in known]
    if unknown:
        raise SystemExit(f"unknown extension(s) {', '.join(unknown)}; known: {', '.join(known)}")
    for folder, module in EXTENSIONS:
        if not argv or module in argv:
            build(folder, module)


if __name__ == "__main__":
    main(sys.argv[1:])

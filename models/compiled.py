"""Which of our modules run compiled (Cython, see ``setup.py``), and a way back to Python.

``setup.py`` compiles the hot path (the default detectors and the rule engine) in place
when the package is installed; Python then imports the compiled module before the
``.py`` next to it. ``SENTINELLE_PURE=1`` in the environment imports the ``.py`` sources
instead (for a line profiler, or to rule out a compiled-code difference); the
:mod:`models` and :mod:`rules` packages install that switch when they are first imported.

Examples
--------
>>> from models import compiled
>>> built = compiled.status()  # {} for a pure Python install
>>> all(name.startswith(("models.", "rules.")) for name in built)
True
>>> compiled.stale()  # nothing older than its source
[]
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

#: Packages whose modules may be compiled.
PACKAGES = ("models", "rules")
ROOT = Path(__file__).resolve().parent.parent


def source(origin: str | None) -> Path | None:
    """The ``.py`` next to a compiled module file, or None if ``origin`` is not one."""
    if not origin:
        return None
    p = Path(origin)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if p.name.endswith(suffix):
            src = p.with_name(p.name[: -len(suffix)] + ".py")
            return src if src.exists() else None
    return None


class _Pure(importlib.abc.MetaPathFinder):
    """Finds our compiled modules' ``.py`` sources instead of the compiled files."""

    def find_spec(self, name: str, path=None, target=None):  # noqa: ANN001
        if name.partition(".")[0] not in PACKAGES or "." not in name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        src = source(spec.origin if spec else None)
        return importlib.util.spec_from_file_location(name, src) if src else None


def _asked() -> bool:
    return os.environ.get("SENTINELLE_PURE", "") not in ("", "0")


def pure() -> bool:
    """Whether ``SENTINELLE_PURE`` asks for the Python sources (installs the finder)."""
    if not _asked():
        return False
    if not any(isinstance(f, _Pure) for f in sys.meta_path):
        sys.meta_path.insert(0, _Pure())
    return True


def _built() -> list[tuple[str, Path, Path]]:
    """``(module, compiled file, its .py source)`` for every compiled module."""
    out = []
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).iterdir()):
            src = source(str(f))
            if src is not None:
                out.append((f"{pkg}.{src.stem}", f, src))
    return out


def status() -> dict[str, bool]:
    """``{module: runs compiled}`` for every module that has a compiled build next to it
    (imported modules as loaded; the others as they would load)."""
    out: dict[str, bool] = {}
    for name, _, _ in _built():
        mod = sys.modules.get(name)
        if mod is not None:
            out[name] = source(getattr(mod, "__file__", None)) is not None
        else:
            out[name] = not _asked()
    return out


def stale() -> list[str]:
    """Compiled files older than their ``.py`` or ``.pxd`` source: rebuild them with
    ``pip install -e .`` (``make`` does it when a source changes)."""
    old = []
    for _, f, src in _built():
        built = f.stat().st_mtime
        pxd = src.with_suffix(".pxd")
        if src.stat().st_mtime > built or (pxd.exists() and pxd.stat().st_mtime > built):
            old.append(f.name)
    return sorted(old)

"""The compiled hot path (``setup.py``) behaves exactly as its Python source, and is
rebuilt when the source changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import compiled
from models.base import init_signature
from models.robust_z import RobustZ

TWIN = Path(__file__).with_name("twin.py")
ROOT = Path(__file__).resolve().parents[2]


def run_twin(pure: bool) -> dict:
    env = {**os.environ, "SENTINELLE_PURE": "1" if pure else "0", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, str(TWIN)], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True, timeout=240)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_no_compiled_module_is_older_than_its_source():
    assert compiled.stale() == [], (
        "compiled modules older than their .py/.pxd: rebuild with `make venv` "
        "(or `.venv/bin/pip install -e .`)")


def test_compiled_modules_equal_their_python_source_bit_for_bit():
    if not any(compiled.status().values()):
        pytest.skip("pure Python install (no Cython or no C compiler): nothing to compare")
    fast, slow = run_twin(pure=False), run_twin(pure=True)
    assert all(fast["compiled"].values()) and not any(slow["compiled"].values())
    assert fast["alerts"] == slow["alerts"] > 50
    assert fast["engine"] == slow["engine"]  # alerts and every key's pickled state
    assert fast["detectors"] == slow["detectors"]  # scores, expectations, states


def test_init_signature_reads_the_source_of_a_compiled_class():
    ps = init_signature(RobustZ).parameters
    assert list(ps) == ["self", "window", "min_samples", "min_scale", "rel_scale", "guard",
                        "patience"]
    assert ps["window"].default == 96 and ps["guard"].default is None


def test_a_subclass_redefining_centre_scale_says_so():
    from models.base import Detector

    def every(cls):
        for c in cls.__subclasses__():
            yield c
            yield from every(c)

    import models.mad  # noqa: F401  (the known one)

    for c in every(Detector):
        if issubclass(c, RobustZ) and c is not RobustZ and "centre_scale" in c.__dict__:
            assert c._plain is False, c  # RobustZ.update inlines the base's centre_scale


def test_the_sources_run_without_cython_installed():
    """A pure install has no ``cython`` module: the compiled modules' sources fall back to
    :mod:`models.nocython` and never take their C branches."""
    code = (
        "import sys; sys.modules['cython'] = None\n"  # `import cython` now raises ImportError
        "from models import nocython, robust_z, seasonal, novelty\n"
        "assert all(m.cython is nocython for m in (robust_z, seasonal, novelty))\n"
        "from models.registry import build\n"
        "for spec in ('robust_z', 'seasonal', 'context_novelty'):\n"
        "    d = build(spec)\n"
        "    s = [d.update(20.0 + (i % 7) * 0.5 + (40.0 if i == 450 else 0.0), 1.7e9 + 300 * i)"
        " for i in range(500)]\n"
        "    assert max(s[:440]) < s[450], spec\n"
        "print('ok')\n"
    )
    env = {**os.environ, "SENTINELLE_PURE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_the_compiled_engine_reads_reading_fields_from_their_slots():
    """The compiled engine found every field's offset (else it falls back to attribute
    reads, correct but slower); the twin test above proves the reads right."""
    import rules.engine as eng

    offs = (eng.O_SENSOR, eng.O_KIND, eng.O_TS, eng.O_VALUE, eng.O_ATTRS)
    if not compiled.status().get("rules.engine"):
        assert offs == (0, 0, 0, 0, 0)  # plain Python: attribute reads
        return
    assert 0 not in offs and len(set(offs)) == 5

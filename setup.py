"""Build hook: compiles the hot path (the default detectors and the rule engine) with Cython.

The ``.py`` files stay the one source: Cython compiles them as they are, and the ``.pxd``
file next to each (an "augmenting" declaration file) gives its classes' attributes C
types (doubles and integers stored in the object, read without a Python float) and its
helpers' locals. The detectors' steady path also reads and writes their windows' arrays
through C pointers, in branches under ``if cython.compiled:`` that plain Python never
takes (:mod:`models.nocython` stands in for Cython where it is not installed): the same
searches and the same arithmetic in the same order as the Python lines they replace.
The rule engine reads a reading's fields from their slots the same way (offsets checked
on probe readings at import, else plain attribute reads).
The compiled modules behave exactly as the Python ones (``tests/models/test_compiled.py``
compares them value for value); the detectors are 1.5-3x faster. Without Cython or a C
compiler (e.g. a slim Docker image) each extension is skipped (``optional``) and the
package is pure Python. Everything else lives in ``pyproject.toml``.

Cython's limits the compiled classes respect: no ``__init_subclass__``, and
``__init__`` keeps no signature (:func:`models.base.init_signature` reads it from the
source).
"""

from setuptools import setup

#: The modules compiled; a ``.pxd`` next to one declares its classes' attribute types.
HOT = [
    "models/base.py",
    "models/exact.py",
    "models/ew.py",
    "models/flatline.py",
    "models/robust_z.py",
    "models/seasonal.py",
    "models/calibrate.py",
    "models/ensemble.py",
    "models/novelty.py",
    "rules/engine.py",
]


def extensions() -> list:
    try:
        from Cython.Build import cythonize
    except ImportError:  # pure Python
        return []
    exts = cythonize(
        HOT,
        language_level=3,
        # annotations are documentation here, never C types: `x: float` must accept an
        # int and `value: float` in a check must raise ParamError, not TypeError
        compiler_directives={"annotation_typing": False, "binding": True},
        quiet=True,
    )
    for e in exts:
        e.optional = True  # a failed compile leaves the pure Python module in use
    return exts


setup(ext_modules=extensions())

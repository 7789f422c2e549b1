"""Stand-in for the ``cython`` module where Cython is not installed: the code runs as
plain Python (``compiled`` is False), and the branches of a compiled module that use C
pointers are never taken.

A compiled module (``setup.py``) imports ``cython`` first and this only if that fails;
Cython itself resolves ``cython.compiled`` when it compiles the module.
"""

compiled = False

# C types for the attributes of models/base.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

cdef class Detector:
    cdef public object guard
    cdef public object patience
    cdef public Py_ssize_t _held

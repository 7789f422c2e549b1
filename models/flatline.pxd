# C types for the attributes of models/flatline.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

from models.base cimport Detector

cdef class Flatline(Detector):
    cdef public Py_ssize_t run
    cdef public double tol
    cdef public double rel_tol
    cdef public Py_ssize_t min_samples
    cdef public Py_ssize_t _n
    cdef public double _first
    cdef public Py_ssize_t _len

# C types for the attributes of models/novelty.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

from models.base cimport Detector

cdef class ContextNovelty(Detector):
    cdef public Py_ssize_t bins
    cdef public Py_ssize_t order
    cdef public double power
    cdef public double margin
    cdef public double tolerance
    cdef public Py_ssize_t history
    cdef public Py_ssize_t grids
    cdef public Py_ssize_t rest
    cdef public double base
    cdef public Py_ssize_t min_samples
    cdef public double _lo
    cdef public double _hi
    cdef public object _vals
    cdef public Py_ssize_t _dec
    cdef public Py_ssize_t _pos
    cdef public object _seen
    cdef public object _ctx
    cdef public Py_ssize_t _since
    cdef public Py_ssize_t _n
    cdef public double _step
    cdef public object _k

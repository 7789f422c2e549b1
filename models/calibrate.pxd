# C types for the attributes of models/calibrate.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

from models.base cimport Detector

cdef class Likelihood(Detector):
    cdef public object detector
    cdef public Py_ssize_t short
    cdef public double alpha
    cdef public Py_ssize_t min_samples
    cdef public double min_std
    cdef public double rel_std
    cdef public bint two_sided
    cdef public bint log
    cdef public object _recent
    cdef public double _sum
    cdef public Py_ssize_t _n
    cdef public double _m
    cdef public double _v

# C types for the attributes of models/ensemble.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

from models.base cimport Detector

cdef class Ensemble(Detector):
    cdef public object members
    cdef public object how
    cdef public bint calibrate

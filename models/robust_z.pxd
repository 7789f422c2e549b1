# C types for the attributes of models/robust_z.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

from models.base cimport Detector

cdef class RobustZ(Detector):
    cdef public Py_ssize_t window
    cdef public Py_ssize_t min_samples
    cdef public double min_scale
    cdef public double rel_scale
    cdef public object _buf
    cdef public Py_ssize_t _dec
    cdef public Py_ssize_t _i
    cdef public object _sorted
    cdef public double _k
    cdef public double _s
    cdef public double _ss
    cdef public Py_ssize_t _t

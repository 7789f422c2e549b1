# C types for the attributes of models/seasonal.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

cimport cython
from cpython.array cimport array as carray

from models.base cimport Detector

cdef class Seasonal(Detector):
    cdef public object period
    cdef public double alpha
    cdef public Py_ssize_t min_per_slot
    cdef public Py_ssize_t min_samples
    cdef public object tz
    cdef public object country
    cdef public object subdiv
    cdef public double min_scale
    cdef public double rel_scale
    cdef public Py_ssize_t _n
    cdef public object _cnt
    cdef public object _mv
    cdef public object _days
    cdef public object _slots
    cdef public Py_ssize_t _cap

    @cython.locals(p="double *", m=double)
    cdef double _z(self, double x, Py_ssize_t i) except? -1.0

    @cython.locals(alpha=double, a=double, cap=Py_ssize_t, n=Py_ssize_t)
    cdef int _learn_slot(self, double x, Py_ssize_t k) except -1


@cython.locals(m=double, d=double)
cdef int _ew(double* p, Py_ssize_t i, double x, double a) except -1

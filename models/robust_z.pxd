# C types for the attributes of models/robust_z.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

cimport cython
from cpython.array cimport array as carray

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

    @cython.locals(a=carray, tc=char, dec=Py_ssize_t, sc=double, h=Py_ssize_t, hi=double,
                   med=double, iqr=double, spread=double)
    cdef double _zscore(self, double x, Py_ssize_t n) except? -1.0

    @cython.locals(w=Py_ssize_t, n=Py_ssize_t, grow=bint, a=carray, srt=carray, tc=char,
                   i=Py_ssize_t, dec=Py_ssize_t, od=double, sc=double, y=double, r=double,
                   q="long long", o=double, d=double)
    cdef bint _step(self, double x) except -1


ctypedef fused num:
    signed char
    short
    int
    double

cdef double _at(carray a, char tc, Py_ssize_t k, double sc)

@cython.locals(old=num)
cdef double _replace(num* p, num* srt, Py_ssize_t n, Py_ssize_t i, num q) except? -1.0

@cython.locals(lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t, k=Py_ssize_t)
cdef int _insert(num* p, Py_ssize_t n, num q) except -1

@cython.locals(lo=Py_ssize_t, hi=Py_ssize_t, mid=Py_ssize_t, i=Py_ssize_t, j=Py_ssize_t,
               k=Py_ssize_t)
cdef int _swap(num* p, Py_ssize_t n, num old, num q) except -1

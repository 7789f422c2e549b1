# C types for the attributes of models/novelty.py when setup.py compiles it (Cython "augmenting"
# .pxd; the .py stays the source). A slot typed double or Py_ssize_t must only ever
# hold a float or a small int: tests/models/test_compiled.py compares both builds.

cimport cython
from cpython.array cimport array as carray

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

    @cython.locals(radix=Py_ssize_t, dense=Py_ssize_t, table=tuple, p=double, keep=Py_ssize_t,
                   top=Py_ssize_t, f=double, a=carray, tc=char, size=Py_ssize_t,
                   ctx=Py_ssize_t, i=Py_ssize_t, b=Py_ssize_t, c=Py_ssize_t, tot=double,
                   k=Py_ssize_t)
    cdef double _level1(self, double x, Py_ssize_t n) except? -2.0

    @cython.locals(size=Py_ssize_t, a=carray, tc=char, dec=Py_ssize_t, pos=Py_ssize_t,
                   sc=double, y=double, r=double)
    cdef bint _push_c(self, double x) except -1

    @cython.locals(radix=Py_ssize_t, dense=Py_ssize_t, keep=Py_ssize_t, n=Py_ssize_t,
                   sa=carray, st=char, ns=Py_ssize_t, va=carray, vt=char, dec=Py_ssize_t,
                   sc=double, lo=double, step=double, pos=Py_ssize_t, ctx=Py_ssize_t,
                   pw=Py_ssize_t, t=Py_ssize_t, j=Py_ssize_t, u=double, f=double,
                   b=Py_ssize_t, m=Py_ssize_t, k=Py_ssize_t, c=Py_ssize_t,
                   prev="Py_ssize_t[32]")
    cdef bint _recount_c(self) except -1


cdef Py_ssize_t _bump(carray a, char tc, Py_ssize_t k, Py_ssize_t size) except -1

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

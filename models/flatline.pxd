from models.base cimport Detector

cdef class Flatline(Detector):
    cdef public Py_ssize_t run
    cdef public double tol
    cdef public double rel_tol
    cdef public Py_ssize_t min_samples
    cdef public Py_ssize_t _n
    cdef public double _first
    cdef public Py_ssize_t _len

cdef class Detector:
    cdef public object guard
    cdef public object patience
    cdef public Py_ssize_t _held

cdef class RuleState:
    cdef public double since
    cdef public Py_ssize_t n
    cdef public bint firing
    cdef public object sev
    cdef public double clear_since
    cdef public Py_ssize_t clear_n
    cdef public double hold
    cdef public object r
    cdef public object score

cdef class SensorState:
    cdef public object kind
    cdef public double last_ts
    cdef public double last_value
    cdef public double last_now
    cdef public double period
    cdef public object dets
    cdef public object rs
    cdef public object nd

cdef class KeyState:
    cdef public object sensors
    cdef public object life
    cdef public object latest
    cdef public object commune
    cdef public object site
    cdef public double lag
    cdef public object due

cdef class Plan:
    cdef public object kind
    cdef public object rules
    cdef public object dets
    cdef public object det_keys
    cdef public object nd
    cdef public object nd_attr

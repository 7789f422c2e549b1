cimport cython

# C types for rules/engine.py when setup.py compiles it (Cython "augmenting" .pxd).
# The per-sensor and per-rule states keep their numbers as C values; Engine.process and
# _due read them without Python attribute lookups. Numbers typed here must always be
# floats (or small ints) in the .py: tests/models/test_compiled.py compares both builds.

cdef object _slot(object r, Py_ssize_t off)

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


cdef class Engine:
    cdef public object packs, rules, cal, stats, speed, watermark_q, site_max_age
    cdef public object _attrs, _by, _calls, _clock, _ev, _plans, _prog, _shared, _sp, _src
    cdef public object _wm, _wm_now
    cdef object __weakref__

    @cython.locals(s=SensorState, rs=RuleState, p=Plan, last=double,
                   prev=double, dt=double, delta=double, rate=double, newest=double,
                   n=Py_ssize_t, p0=double, two=double, q=double, cand=double, lag=double,
                   sensors=dict, latest=dict, plans=dict, out=list, late=list, scores=list,
                   rsd=dict, prules=tuple, dets=dict, slots=bint)
    cpdef process(self, KeyState st, readings, now=*)

    @cython.locals(s=SensorState, rs=RuleState, due=double, ev_due=double, last_ts=double,
                   lag=double, sil=double, gap=double)
    cpdef _due(self, KeyState st, now)

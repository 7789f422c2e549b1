from models.base cimport Detector

cdef class Ensemble(Detector):
    cdef public object members
    cdef public object how
    cdef public bint calibrate

"""flows.runner.freeze_gc: the GC policy of a running flow."""

from __future__ import annotations

import gc

from flows.runner import freeze_gc


def _remove(cb) -> None:
    gc.callbacks.remove(cb)
    gc.unfreeze()


def test_freeze_gc_freezes_now_and_again_after_its_period():
    gc.unfreeze()
    cb = freeze_gc(every_s=0.0)
    try:
        assert cb in gc.callbacks
        before = gc.get_freeze_count()
        assert before > 0  # what existed at the call is frozen
        kept = [[i] for i in range(1000)]  # new tracked objects...
        gc.collect(0)  # ...frozen at the end of a collection (period 0)
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        _remove(cb)


def test_freeze_gc_waits_for_its_period():
    gc.unfreeze()
    cb = freeze_gc(every_s=3600.0)
    try:
        before = gc.get_freeze_count()
        kept = [[i] for i in range(1000)]
        gc.collect(0)
        gc.collect(0)
        assert gc.get_freeze_count() == before  # not an hour yet
        assert kept
    finally:
        _remove(cb)


def test_cycles_are_still_collected_between_freezes():
    gc.unfreeze()
    cb = freeze_gc(every_s=3600.0)
    try:
        a: list = []
        a.append(a)  # a reference cycle, garbage once dropped
        del a
        assert gc.collect() >= 1
    finally:
        _remove(cb)


def test_run_raises_the_young_gc_threshold_for_the_flow_only():
    from bytewax import operators as op
    from bytewax.dataflow import Dataflow
    from bytewax.testing import TestingSink, TestingSource

    from flows.runner import GC_GEN0, run

    seen: list = []
    flow = Dataflow("t")
    s = op.input("in", flow, TestingSource([1, 2]))
    op.output("out", op.map("m", s, lambda x: gc.get_threshold()[0]), TestingSink(seen))
    before = gc.get_threshold()
    run(flow)
    assert seen == [GC_GEN0, GC_GEN0] and gc.get_threshold() == before
    run(flow, gc_gen0=None)
    assert seen[2:] == [before[0], before[0]]

"""Run a dataflow in this process: single worker, several workers, or one process of a
cluster (``-i``/``-a``), with or without Bytewax recovery."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bytewax._bytewax import cli_main
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir

#: Default period of :func:`freeze_gc`, seconds.
FREEZE_S = 5.0
#: Young-generation threshold of the cyclic GC in a running flow (Python's default: 700).
#: The count is allocations minus deallocations of container objects, so it grows only
#: while state grows (new sensors, filling windows); at 700 a warming flow collected
#: ~1,800 times per 500k readings, 0.46 s of 8.5 s; at 50,000, 4 times, 0.03 s (and
#: +10-15 % readings/s). A young collection then walks at most ~50k objects: a few ms.
GC_GEN0 = 50_000


def freeze_gc(every_s: float = FREEZE_S) -> Callable[[str, dict], None]:
    """Keep the cyclic garbage collector's pauses short in a long-running flow.

    A flow holds the detectors' state of every sensor: some 150k container objects with
    millions of references for 2,400 sensors, which a full (generation 2) collection
    walks in 0.1-0.6 s while the worker stands still. The state is long-lived and
    acyclic (collections of it find no garbage), so walking it again and again buys
    nothing. This moves every tracked object to the permanent generation now and again
    at most every ``every_s`` seconds (at the end of a collection, from a
    :data:`gc.callbacks` hook: no thread), so a full collection only walks what was
    allocated since. Objects stay freed by reference counting as usual; only a reference
    cycle that became garbage before a freeze and was not collected yet is kept.
    Returns the installed callback (remove it from :data:`gc.callbacks` to stop).
    """
    gc.freeze()
    last = time.monotonic()

    def cb(phase: str, info: dict) -> None:
        nonlocal last
        if phase == "stop":
            now = time.monotonic()
            if now - last >= every_s:
                last = now
                gc.freeze()

    gc.callbacks.append(cb)
    return cb


def run(flow: Dataflow, *, workers: int = 1, process_id: int | None = None,
        addresses: list[str] | None = None, epoch_s: float = 10.0,
        recovery: str | None = None, recovery_parts: int = 1,
        gc_freeze_s: float | None = FREEZE_S, gc_gen0: int | None = GC_GEN0) -> None:
    """Execute ``flow`` until its input ends (or forever when tailing).

    ``recovery``: a directory for Bytewax recovery partitions, created when empty; the
    flow then resumes from its last snapshot and replays input from there
    (at-least-once; deterministic alert ids make repeats harmless).
    ``gc_freeze_s``: period of :func:`freeze_gc`; ``gc_gen0``: the young-generation
    threshold (:data:`GC_GEN0`) for the run (None for either: the interpreter's default).
    """
    rc = None
    if recovery:
        d = Path(recovery)
        d.mkdir(parents=True, exist_ok=True)
        if not any(d.glob("part-*.sqlite3")):
            init_db_dir(d, recovery_parts)
        rc = RecoveryConfig(str(d), timedelta(seconds=0))
    cb = freeze_gc(gc_freeze_s) if gc_freeze_s else None
    thresholds = gc.get_threshold()
    if gc_gen0:
        gc.set_threshold(gc_gen0, *thresholds[1:])
    try:
        cli_main(flow, workers_per_process=workers, process_id=process_id,
                 addresses=addresses, epoch_interval=timedelta(seconds=epoch_s),
                 recovery_config=rc)
    finally:
        gc.set_threshold(*thresholds)
        if cb is not None:
            gc.callbacks.remove(cb)
            gc.unfreeze()

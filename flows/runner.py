"""Run a dataflow in this process: single worker, several workers, or one process of a
cluster (``-i``/``-a``), with or without Bytewax recovery."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bytewax._bytewax import cli_main
from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir


def run(flow: Dataflow, *, workers: int = 1, process_id: int | None = None,
        addresses: list[str] | None = None, epoch_s: float = 10.0,
        recovery: str | None = None, recovery_parts: int = 1) -> None:
    """Execute ``flow`` until its input ends (or forever when tailing).

    ``recovery``: a directory for Bytewax recovery partitions, created when empty; the
    flow then resumes from its last snapshot and replays input from there
    (at-least-once; deterministic alert ids make repeats harmless).
    """
    rc = None
    if recovery:
        d = Path(recovery)
        d.mkdir(parents=True, exist_ok=True)
        if not any(d.glob("part-*.sqlite3")):
            init_db_dir(d, recovery_parts)
        rc = RecoveryConfig(str(d), timedelta(seconds=0))
    cli_main(flow, workers_per_process=workers, process_id=process_id, addresses=addresses,
             epoch_interval=timedelta(seconds=epoch_s), recovery_config=rc)

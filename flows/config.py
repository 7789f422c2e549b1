"""Run configuration of the main dataflow (topics, codecs, rules, broker, start point)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from flows.codecs import parse_input_spec

#: Messages per poll at most (:attr:`Config.batch_size`). A poll returns what has arrived
#: within ``poll_s`` (2 ms), so live batches stay small whatever this is; it matters when
#: the flow reads a backlog (a replay, a restart, a burst): then each engine call gets
#: about 4x more readings per site than at 5,000, and the per-call work (timers, due
#: times, bookkeeping) is spread over them. Measured on the throughput benchmark's data
#: (1M readings, 10k sensors, partition placement, alternating runs): 99-104k readings/s
#: at 5,000, 109-123k at 20,000, 115-119k at 50,000 (peak RSS 410, 424-431, 431-444 MB).
BATCH_SIZE = 20_000

#: Where the engine's state can live (:attr:`Config.placement`).
PLACEMENTS = ("exchange", "partition")


@dataclass(frozen=True)
class Config:
    """Everything :func:`flows.city.build_flow` needs.

    ``inputs`` pairs each input topic with its codec name (``json`` by default).
    ``start`` is where to read when there is no recovery state: ``earliest`` (default:
    replay history to warm the detectors; deterministic alert ids make re-emission
    harmless) or ``latest``. ``tail=False`` stops at the end of the input (replays,
    benchmarks).
    """

    bootstrap: str
    inputs: tuple[tuple[str, str], ...] = (("readings", "json"),)
    alerts_topic: str = "alerts"
    dlq_topic: str = "readings.dlq"
    rules: tuple[str, ...] = ()
    registry: str | None = None
    strict_registry: bool = False
    start: str = "earliest"
    tail: bool = True
    batch_size: int = BATCH_SIZE
    alert_format: str = "native"
    #: more alert outputs, each (topic, format): e.g. ``(("alerts.ngsi", "ngsi-ld"),)``
    more_alerts: tuple[tuple[str, str], ...] = ()
    #: when set, every decoded, enriched reading is also written there in the native
    #: contract (a normalised stream for dashboards and for checking codecs end to end)
    readings_out: str | None = None
    kafka: dict[str, str] = field(default_factory=dict)
    #: codec name -> keyword options (e.g. ``{"chirpstack": {"mapping": "lora.yaml"}}``)
    codec_options: dict[str, dict] = field(default_factory=dict)
    #: whether the engine's state is snapshotted at each epoch's end. Bytewax asks every
    #: key touched in an epoch for a snapshot even when no recovery store reads them; a
    #: run without recovery sets this False and skips that work (``sentinelle run`` does)
    snapshots: bool = True
    #: where the engine state lives: ``exchange`` (default: state shards keyed by
    #: subject, readings routed to their shard's worker; any input keying works, and on
    #: input keyed by subject each shard is on the worker reading it: :mod:`flows.shards`) or
    #: ``partition`` (each input partition's readings are processed where they are read,
    #: no exchange between workers; the input must be keyed by subject, see
    #: :mod:`flows.local`)
    placement: str = "exchange"

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, "
                             f"not {self.placement!r}")

    @property
    def alert_outputs(self) -> tuple[tuple[str, str], ...]:
        """Every alert output topic with its format, the main alerts topic first."""
        return ((self.alerts_topic, self.alert_format), *self.more_alerts)

    @property
    def topics(self) -> list[str]:
        return [t for t, _ in self.inputs]

    @classmethod
    def from_env(cls) -> Config:
        """Configuration for ``python -m bytewax.run flows.city:flow`` (env variables)."""
        inputs = tuple(
            parse_input_spec(s) for s in os.environ.get("SENTINELLE_INPUTS", "readings").split(",")
            if s
        )
        rules = tuple(p for p in os.environ.get("SENTINELLE_RULES", "").split(",") if p)
        return cls(
            bootstrap=os.environ.get("SENTINELLE_BOOTSTRAP", "127.0.0.1:9092"),
            inputs=inputs,
            alerts_topic=os.environ.get("SENTINELLE_ALERTS", "alerts"),
            dlq_topic=os.environ.get("SENTINELLE_DLQ", "readings.dlq"),
            rules=rules,
            registry=os.environ.get("SENTINELLE_REGISTRY") or None,
            start=os.environ.get("SENTINELLE_FROM", "earliest"),
            placement=os.environ.get("SENTINELLE_PLACEMENT", "exchange"),
        )

"""Partition-local placement: the engine runs inside each input partition's source.

With the default placement (``exchange``), readings are decoded where their Kafka
partition is read, then Bytewax routes each state shard to the worker that owns it: any
topic keying works, and on input keyed by subject the shards are named so that they
stay on the worker that reads them (:mod:`flows.shards`), but the routing step remains.
With ``partition`` placement, a partition's readings are decoded and fed to that
partition's own engine state in the same call, and its alerts go straight to the sink:
no routing step at all, the same co-partitioning Kafka Streams uses for its state
stores.

The price is a contract on the input: every reading of a *subject* (a site's sensors, or
a sensor without a site: :attr:`models.reading.Reading.subject`) must arrive on the same
partition, i.e. the producer keys messages by subject (``flows.sim`` does). A subject
seen on two partitions in one process is counted (``sentinelle_misplaced_readings_total``)
and logged once; its readings are still processed (never dropped), but each partition
then keeps its own state for it, so cross-sensor site rules see only part of the site.

Lifecycle of a partition (:class:`EnginePart`), as Bytewax drives it:

- built on the worker that owns the partition, from its resume state ``(offset, shard
  snapshot)`` (None: start from the configured offset with an empty state);
- ``next_batch``: poll, decode (bad messages -> DLQ messages), run due timers, feed the
  engine; returns alert and DLQ messages for the sink;
- ``next_awake``: the next poll, or the earliest engine timer if sooner;
- ``snapshot`` at each epoch's end: the next offset with the engine state of the
  subjects read up to it (consistent by construction: both belong to the same partition);
- at the end of a finite input, one last batch with the silences the end of the data
  proves (:meth:`flows.city.ShardLogic.on_eof`), then ``StopIteration``;
- ``close``: the consumer is closed.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import UTC, datetime

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

from flows import metrics
from flows.city import Decoder, Outputs, ShardLogic, load_states
from flows.config import Config
from rules.engine import Engine

log = logging.getLogger(__name__)

#: The first misplaced subject, once logged (one warning per process, a count per reading).
_WARNED: set[str] = set()

#: Resume state of a partition: the inner source's state and the shard snapshot.
PartState = tuple[object, bytes]


def fresh_engine(engine: Engine) -> Engine:
    """An engine with ``engine``'s compiled packs and calendar but its own state and
    stream clock (one per partition: a partition's silences follow its own progress);
    its counters are ``engine``'s (``engine.stats`` counts every partition's work)."""
    e = Engine(engine.packs, engine.cal, engine.site_max_age)
    e.stats = engine.stats
    return e


class EnginePart(StatefulSourcePartition[object, PartState]):
    """One input partition with its decoder and engine state (see the module doc)."""

    def __init__(self, inner: StatefulSourcePartition, decode: Decoder, shard: ShardLogic,
                 owner: dict[str, object], name: str) -> None:
        self._inner = inner
        self._decode = decode
        self._shard = shard
        self._owner = owner
        self._name = name
        self._done = False
        # the earliest engine timer (processing time), kept up to date after each change
        self._next = min(shard.due.values(), default=math.inf)

    def next_batch(self) -> list[object]:
        if self._done:
            raise StopIteration
        shard = self._shard
        out: list[object] = []
        if self._next <= time.time():
            out.extend(shard.on_notify()[0])
            self._next = min(shard.due.values(), default=math.inf)
        try:
            raws = self._inner.next_batch()
        except StopIteration:
            self._done = True
            out.extend(shard.on_eof()[0])
            return out
        if raws:
            self._feed(raws, out)
            self._next = min(shard.due.values(), default=math.inf)
        return out

    def _feed(self, raws: list, out: list) -> None:
        """Decode raw batches and feed their readings to the engine; messages to ``out``."""
        shard = self._shard
        for b in raws:
            groups = []
            for key, item in self._decode(b):
                if key is None:
                    out.append(item)  # a DLQ message
                else:
                    groups.append(item)
            if groups:
                self._check(groups)
                out.extend(shard.on_batch(groups)[0])

    def _check(self, groups: list) -> None:
        """Count readings of subjects first seen on another partition of this process."""
        owner = self._owner
        me = self._name
        for g in groups:
            for k, rs in g:
                o = owner.setdefault(k, me)
                if o != me:
                    if not _WARNED:  # log the first one; count them all
                        _WARNED.add(k)
                        log.warning(
                            "subject %r read on partition %s but first seen on %s: with "
                            "--placement partition the input must be keyed by subject (site); "
                            "each partition keeps its own state for it (such readings are "
                            "counted in sentinelle_misplaced_readings_total)", k, me, o)
                    metrics.MISPLACED.inc(len(rs))

    def next_awake(self) -> datetime | None:
        nxt = self._inner.next_awake()
        if nxt is None or not math.isfinite(self._next):  # None: poll again at once
            return nxt
        t = datetime.fromtimestamp(self._next, UTC)
        return t if t < nxt else nxt

    def snapshot(self) -> PartState:
        return (self._inner.snapshot(), self._shard.snapshot())

    def close(self) -> None:
        self._inner.close()


class LocalSource(FixedPartitionedSource[object, PartState]):
    """The input source with the engine inside each partition (``--placement partition``).

    Parameters
    ----------
    inner
        The source of :class:`flows.source.RawBatch` (Kafka, or a test source).
    cfg
        The flow configuration (codecs, DLQ topic, snapshots).
    engine
        Compiled packs; each partition gets its own :func:`fresh_engine` of them.
    encode
        Alert outputs: (topic, encoder) pairs.
    """

    def __init__(self, inner: FixedPartitionedSource, cfg: Config, engine: Engine,
                 encode: Outputs) -> None:
        self.inner = inner
        self.cfg = cfg
        self.engine = engine
        self.encode = encode
        self._owner: dict[str, object] = {}  # subject -> first partition (this process)

    def list_parts(self) -> list[str]:
        return self.inner.list_parts()

    def build_part(self, step_id: str, for_part: str,
                   resume_state: PartState | None) -> EnginePart:
        if resume_state is not None and not isinstance(resume_state, tuple):
            raise ValueError(
                f"partition {for_part}: the recovery store was written with --placement "
                "exchange (its engine state is elsewhere); resume with that placement or "
                "start from a new recovery directory")
        inner_state, snap = resume_state if resume_state is not None else (None, b"")
        inner = self.inner.build_part(step_id, for_part, inner_state)
        shard = ShardLogic(fresh_engine(self.engine), self.cfg, self.encode,
                           load_states(snap, routed=False), routed=False)
        return EnginePart(inner, Decoder(self.cfg, sharded=False), shard, self._owner,
                          for_part)


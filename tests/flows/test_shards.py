"""flows.shards: shard names, Bytewax's routing of them, and the hash that predicts it."""

from __future__ import annotations

import sys
import threading
import zlib
from datetime import timedelta

import bytewax.operators as op
import pytest
from bytewax._bytewax import cli_main
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.operators import StatefulBatchLogic
from bytewax.testing import TestingSink

from flows import shards
from flows.shards import MODULUS, NAMES, NONCES, SHARDS, route, shard_of

K0 = int.from_bytes(bytes(range(8)), "little")
K1 = int.from_bytes(bytes(range(8, 16)), "little")


def test_siphash_matches_the_reference_vectors():
    # SipHash-2-4, key 00..0f, messages 00..(n-1): the paper's vectors (n = 0, 15)
    assert shards._siphash(b"", K0, K1, 2, 4) == 0x726FDB47DD0E0E31
    assert shards._siphash(bytes(range(15)), K0, K1, 2, 4) == 0xA129CA6149BE45E5
    assert shards._siphash(bytes(range(8)), K0, K1, 2, 4) == 0x93F5F5799A932462


def test_the_names_table_is_what_nonces_computes():
    assert len(NONCES) == SHARDS
    assert shards.nonces() == NONCES


@pytest.mark.parametrize("workers", [1, 2, 4, 8, 16, 32, 64])
def test_each_shard_routes_to_its_number_modulo_the_worker_count(workers: int):
    assert MODULUS % workers == 0
    assert all(route(NAMES[s]) % workers == s % workers for s in range(SHARDS))


def test_shard_and_partition_agree_modulo_a_worker_count_dividing_both():
    for subject in (f"commune-{i}/site-{i % 7}" for i in range(2000)):
        h = zlib.crc32(subject.encode())
        s = int(shard_of(subject).split(".")[0])
        for parts, workers in ((2, 2), (4, 2), (4, 4), (6, 2), (8, 4), (8, 8)):
            assert s % workers == (h % parts) % workers


def test_a_subjects_shard_follows_its_crc32_like_kafkas_default_partitioner():
    for subject in ("metz/mairie", "woippy/parc", "metz/ecole-jean-moulin/elec-1", "é/ç"):
        s = zlib.crc32(subject.encode()) % SHARDS
        assert shard_of(subject) == NAMES[s] == f"{s}.{NONCES[s]}"
        for parts in (1, 2, 4, 8):  # the partition librdkafka's consistent_random picks
            assert s % parts == zlib.crc32(subject.encode()) % parts


def _comm() -> str:
    with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
        return f.read().strip()  # Timely names its worker threads "timely:work-N"


def _placement(workers: int, parts: list[str], keys: list[str]) -> tuple[dict, dict]:
    """Run a tiny flow on ``workers`` threads: which worker builds each source part and
    which one gets each state key (Bytewax's own routing, not a model of it)."""
    built: dict[str, int] = {}
    owner: dict[str, int] = {}

    class Part(StatefulSourcePartition):
        def __init__(self, name: str) -> None:
            self.name, self.done = name, False

        def next_batch(self) -> list:
            if self.done:
                raise StopIteration
            self.done = True
            return [(k, k) for k in keys] if self.name == parts[0] else []

        def snapshot(self) -> None:
            return None

    class Source(FixedPartitionedSource):
        def list_parts(self) -> list[str]:
            return parts

        def build_part(self, step_id: str, for_part: str, resume: object) -> Part:
            built[for_part] = int(_comm().rsplit("-", 1)[1])
            return Part(for_part)

    class Logic(StatefulBatchLogic):
        def on_batch(self, values: list) -> tuple[list, bool]:
            for v in values:
                owner[v] = int(_comm().rsplit("-", 1)[1])
            return [], True

        def snapshot(self) -> None:
            return None

    flow = Dataflow("placement")
    s = op.input("in", flow, Source())
    op.output("out", op.stateful_batch("st", s, lambda _: Logic()), TestingSink([]))
    cli_main(flow, workers_per_process=workers, epoch_interval=timedelta(seconds=1))
    return built, owner


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc thread names")
@pytest.mark.parametrize("workers", [2, 3, 4])
def test_bytewax_places_partitions_and_shards_as_the_alignment_assumes(workers: int):
    parts = [f"{p}-readings" for p in range(8)]
    built, owner = _placement(workers, parts, list(NAMES))
    # source partitions: round robin over their sorted names, i.e. partition p -> p % W
    assert built == {f"{p}-readings": p % workers for p in range(8)}
    # state keys: route(key) % W
    assert owner == {k: route(k) % workers for k in NAMES}
    if MODULUS % workers == 0:  # so shard s -> worker s % W, the reader of its partition
        assert owner == {NAMES[s]: s % workers for s in range(SHARDS)}

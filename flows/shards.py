"""State shards, named so that Bytewax keeps a shard on the worker that reads its input.

With the default placement (``exchange``) the engine's state is keyed by shard: a
subject (site, or sensor without a site) belongs to shard ``s = crc32(subject) % 256``
whatever partition its readings arrive on, so its state is in one place on any topic
keying. Bytewax then sends each shard's readings to the worker that owns the shard;
across processes that costs a pickle round trip per reading.

Where the input is keyed by subject (the contract of :mod:`flows.local`, and what
``flows.sim`` does), nothing needs to cross:

- librdkafka's default partitioner (``consistent_random``, used by every client built on
  it) puts a subject on partition ``p = crc32(subject) % P`` (the Java client's murmur2
  does not: such input is still correct, and crosses);
- Bytewax 0.21 gives source partitions to workers round robin in the sorted order of
  their names (``"p-topic"``): with one input topic of at most 10 partitions, partition
  ``p`` goes to worker ``p % W``;
- it sends a state key ``k`` to worker ``route(k) % W`` (:func:`route`), and each
  shard's name is chosen so that ``route(name) % MODULUS == s % MODULUS``.

So when ``W`` divides both ``P`` and :data:`MODULUS` (1, 2, 4, 8... workers, with a
partition count that is a multiple), ``s % W == p % W``: every shard lives on the worker
that reads its subjects. The names depend neither on ``W`` nor on ``P``, so a shard keeps
its key when the cluster is resized; only the alignment can be lost (readings then
cross, still in order, still correct).

``sentinelle_exchanged_readings_total`` counts the readings an engine shard received
from another worker: 0 on aligned input (``tests/flows/test_shards.py`` checks the
assumptions against Bytewax's real placement, ``tests/integration/test_shards.py`` the
count end to end).
"""

from __future__ import annotations

import zlib

#: Number of state shards: enough for an even spread over workers, few enough that
#: Bytewax's per-key cost is paid per shard, not per sensor.
SHARDS = 256

#: ``route(name) % MODULUS == shard % MODULUS`` for every shard's name: shards are
#: aligned for every worker count that divides it.
MODULUS = 64

#: The smallest ``n`` such that ``f"{s}.{n}"`` is a name of shard ``s`` (see
#: :data:`MODULUS`), for each shard ``s``; :func:`nonces` computes them and a test
#: checks this table against it.
NONCES = (
    38, 16, 2, 44, 30, 12, 20, 10, 52, 18, 32, 40, 84, 94, 75, 45,
    96, 41, 131, 12, 49, 5, 45, 33, 70, 74, 65, 27, 72, 13, 2, 101,
    208, 15, 6, 0, 35, 8, 38, 13, 6, 62, 42, 142, 7, 136, 121, 151,
    66, 68, 9, 49, 16, 25, 70, 16, 134, 14, 49, 69, 128, 52, 60, 129,
    9, 2, 48, 218, 12, 116, 112, 26, 27, 92, 41, 30, 27, 35, 16, 6,
    48, 38, 69, 43, 67, 30, 106, 52, 359, 84, 79, 142, 84, 131, 79, 28,
    91, 118, 11, 21, 58, 42, 71, 114, 4, 37, 119, 163, 144, 53, 256, 62,
    110, 63, 44, 106, 51, 120, 28, 204, 32, 57, 16, 126, 107, 7, 99, 50,
    83, 113, 0, 456, 48, 215, 10, 54, 253, 143, 104, 11, 51, 40, 142, 84,
    1, 43, 27, 40, 42, 41, 80, 37, 16, 262, 69, 5, 108, 20, 367, 266,
    95, 71, 18, 32, 14, 64, 67, 5, 84, 0, 25, 50, 127, 31, 32, 29,
    246, 74, 11, 133, 77, 76, 53, 19, 92, 183, 5, 23, 69, 108, 140, 62,
    3, 55, 24, 135, 0, 48, 39, 2, 21, 60, 87, 24, 11, 83, 21, 82,
    31, 20, 151, 20, 17, 8, 216, 91, 13, 89, 16, 114, 37, 21, 35, 101,
    23, 7, 83, 73, 187, 3, 20, 8, 51, 57, 21, 111, 33, 14, 73, 22,
    8, 17, 13, 47, 33, 80, 24, 29, 157, 150, 111, 53, 6, 39, 9, 40,
)

_M64 = (1 << 64) - 1


def name(shard: int) -> str:
    """The Bytewax state key of a shard."""
    return f"{shard}.{NONCES[shard]}"


#: Shard number -> state key.
NAMES = tuple(name(s) for s in range(SHARDS))


def shard_of(subject: str) -> str:
    """The state key of a subject's shard (stable across processes, restarts and
    cluster sizes)."""
    return NAMES[zlib.crc32(subject.encode()) % SHARDS]


def route(key: str) -> int:
    """Bytewax 0.21's routing hash of a state key: Rust's ``DefaultHasher`` (SipHash-1-3
    with zero keys) over the key's ``str`` hash (its UTF-8 bytes, then ``0xff``). The
    key's worker is ``route(key) % workers``."""
    return siphash13(key.encode() + b"\xff")


def siphash13(data: bytes, k0: int = 0, k1: int = 0) -> int:
    """SipHash-1-3 of ``data`` under the 128-bit key ``(k0, k1)``."""
    return _siphash(data, k0, k1, 1, 3)


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M64


def _round(v0: int, v1: int, v2: int, v3: int) -> tuple[int, int, int, int]:
    v0 = (v0 + v1) & _M64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & _M64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & _M64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & _M64
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def _siphash(data: bytes, k0: int, k1: int, c: int, d: int) -> int:
    """SipHash-c-d (Aumasson and Bernstein), 64-bit output."""
    v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
    v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573
    n = len(data)
    end = n - n % 8
    words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, end, 8)]
    words.append(((n & 0xFF) << 56) | int.from_bytes(data[end:], "little"))
    for m in words:
        v3 ^= m
        for _ in range(c):
            v0, v1, v2, v3 = _round(v0, v1, v2, v3)
        v0 ^= m
    v2 ^= 0xFF
    for _ in range(d):
        v0, v1, v2, v3 = _round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


def nonces() -> tuple[int, ...]:
    """Recompute :data:`NONCES`."""
    out = []
    for s in range(SHARDS):
        n = 0
        while route(f"{s}.{n}") % MODULUS != s % MODULUS:
            n += 1
        out.append(n)
    return tuple(out)

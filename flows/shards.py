"""State shards, named so that Bytewax keeps a shard on the worker that reads its input.

With the default placement (``exchange``) the engine's state is keyed by shard: a
subject (site, or sensor without a site) belongs to shard ``crc32(subject) % SHARDS``,
whatever partition its readings arrive on, so its state is in one place on any topic
keying. Bytewax then sends each shard's readings to the worker that owns the shard;
across processes that costs a pickle round trip per reading.

Where the input is keyed by subject (the contract of :mod:`flows.local`, and what
``flows.sim`` does), nothing needs to cross. Kafka's default partitioner (librdkafka's
``consistent_random``) puts a subject on partition ``crc32(subject) % P``, so with ``P``
dividing :data:`SHARDS` a shard's subjects share a partition: shard ``s`` is read from
partition ``s % P``. Bytewax 0.21 gives source partitions to workers in the sorted
order of their names, round robin (``"p-topic"``: partition ``p`` of a single topic of
at most 10 partitions goes to worker ``p % W``), and routes a state key ``k`` to worker
``route(k) % W`` (:func:`route`). Each shard's name is therefore chosen so that
``route(name) % W == s % W`` for every worker count ``W`` up to :data:`ALIGNED_UP_TO`:
the shard lives on the worker that reads it whenever ``W`` divides ``P``. The names do
not depend on ``W`` or ``P``, so the state of a shard keeps its key when the cluster is
resized; only the alignment is lost (readings then cross, still in order, still correct).

``sentinelle_exchanged_readings_total`` counts the readings an engine shard received
from another worker: 0 on aligned input (checked in ``tests/flows/test_shards.py`` with
Bytewax's real routing, and in the throughput benchmark).
"""

from __future__ import annotations

import zlib
from math import lcm

#: Number of state shards: enough for an even spread over workers, few enough that
#: Bytewax's per-key cost is paid per shard, not per sensor. A power of two, so that
#: any partition count that is one divides it.
SHARDS = 256

#: Shard names are aligned for every worker count up to this one.
ALIGNED_UP_TO = 8

#: ``route(name) % MODULUS == shard`` for every shard's name (lcm of 1..ALIGNED_UP_TO).
MODULUS = lcm(*range(1, ALIGNED_UP_TO + 1))

#: The smallest ``n`` such that ``route(f"{s}.{n}") % MODULUS == s``, for each shard
#: ``s`` (:func:`nonces` computes them; a test checks this table against it).
NONCES = (
    244, 967, 1388, 1316, 237, 84, 201, 1808, 377, 2073, 235, 254, 657, 250, 1093, 52,
    562, 513, 1216, 433, 473, 1108, 481, 33, 259, 223, 493, 804, 629, 718, 346, 3901,
    878, 124, 69, 2803, 2033, 2244, 1258, 18, 84, 524, 864, 384, 42, 1036, 731, 476,
    388, 530, 77, 853, 2274, 221, 484, 1477, 802, 787, 477, 1053, 144, 336, 444, 864,
    1309, 669, 867, 1015, 1649, 2200, 157, 1016, 782, 805, 118, 770, 1480, 26, 172, 1635,
    851, 1837, 2827, 1399, 1081, 1301, 2158, 607, 667, 480, 233, 767, 451, 46, 1627, 415,
    744, 350, 214, 2716, 338, 169, 332, 98, 21, 659, 508, 1172, 1148, 255, 1791, 308,
    1270, 483, 849, 1140, 214, 2231, 779, 326, 231, 1104, 834, 1167, 1597, 889, 389, 15,
    1947, 1231, 310, 395, 1562, 1899, 805, 0, 2368, 385, 158, 361, 329, 156, 581, 136,
    1615, 529, 152, 512, 1764, 842, 1192, 568, 333, 1263, 1469, 576, 166, 87, 477, 221,
    889, 672, 794, 505, 2536, 780, 1786, 1049, 583, 476, 5291, 573, 1878, 62, 1351, 883,
    32, 717, 451, 1765, 304, 204, 1412, 110, 339, 647, 169, 64, 106, 1320, 200, 322,
    1056, 702, 267, 3021, 1298, 67, 317, 212, 21, 158, 4926, 295, 320, 850, 21, 568,
    709, 265, 124, 252, 195, 1658, 1091, 1748, 310, 658, 619, 4499, 241, 59, 155, 2319,
    250, 14, 2861, 464, 1225, 238, 70, 1604, 1532, 161, 2, 1807, 409, 507, 145, 1563,
    502, 884, 170, 482, 1963, 668, 803, 195, 213, 1615, 69, 0, 370, 2916, 101, 296,
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
    """Recompute :data:`NONCES` (about 1.5 s)."""
    out = []
    for s in range(SHARDS):
        n = 0
        while route(f"{s}.{n}") % MODULUS != s:
            n += 1
        out.append(n)
    return tuple(out)

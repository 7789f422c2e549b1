"""models.base.pack_array: array slots as bytes in a snapshot, compressed when smaller."""

from __future__ import annotations

import math
import random
import struct
from array import array

from models.base import ZIP_FROM, pack_array, unpack_array


def _bits(a: array) -> bytes:
    return a.typecode.encode() + a.tobytes()


def test_small_and_incompressible_arrays_are_stored_raw():
    small = array("d", [1.5, -0.0])
    assert pack_array(small) == _bits(small)
    rnd = random.Random(3)
    noise = array("B", rnd.randbytes(2 * ZIP_FROM))  # random bytes do not compress
    assert pack_array(noise) == _bits(noise)
    assert _bits(unpack_array(pack_array(noise))) == _bits(noise)


def test_compressible_arrays_round_trip_bit_for_bit():
    nan = struct.unpack("d", struct.pack("Q", 0x7FF8_0000_0000_0123))[0]  # a NaN payload
    for a in (array("h", [2000 + (i % 7) for i in range(301)]),
              array("d", [0.0, -0.0, math.inf, nan] * 60),
              array("B", [1] * ZIP_FROM)):
        b = pack_array(a)
        assert b[:1] == b"z" and len(b) < len(_bits(a))
        back = unpack_array(b)
        assert back.typecode == a.typecode and _bits(back) == _bits(a)
        assert back.buffer_info()[1] == len(a)

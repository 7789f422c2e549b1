"""What a codec is: bytes in, readings out, or a reason for the dead-letter queue.

A codec never raises anything but :class:`CodecError`; :func:`decode_batch` turns those
into :class:`Reject` records (original bytes + reason) that the flow sends to the DLQ.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from models.reading import Reading


class CodecError(ValueError):
    """The message cannot become a reading; ``str(err)`` is the reason."""


@dataclass(frozen=True, slots=True)
class Reject:
    """A message that could not be decoded: original bytes, codec, reason, origin."""

    raw: bytes
    reason: str
    codec: str
    topic: str = ""
    partition: int = -1
    offset: int = -1


#: A codec decodes one message into zero or more readings.
Codec = Callable[[bytes], list[Reading]]


def decode_batch(
    codec: Codec, name: str, raws: Iterable[bytes]
) -> tuple[list[Reading], list[Reject]]:
    """Decode many messages; bad ones become rejects, none is dropped."""
    good: list[Reading] = []
    bad: list[Reject] = []
    for raw in raws:
        try:
            good.extend(codec(raw))
        except CodecError as err:
            bad.append(Reject(raw if isinstance(raw, bytes) else b"", str(err), name))
        except Exception as err:  # a codec bug must not stop the flow either
            bad.append(Reject(raw if isinstance(raw, bytes) else b"",
                              f"codec error: {type(err).__name__}: {err}", name))
    return good, bad


def parse_ts(ts: object) -> float:
    """RFC 3339 string, or epoch seconds / milliseconds -> epoch seconds (UTC)."""
    if isinstance(ts, bool):
        raise CodecError(f"invalid timestamp {ts!r}")
    if isinstance(ts, int | float):
        t = float(ts)
        if not math.isfinite(t) or t < 0:
            raise CodecError(f"invalid timestamp {ts!r}")
        if t > 1e11:  # milliseconds
            t /= 1000.0
        if t > 1e11:
            raise CodecError(f"timestamp out of range: {ts!r}")
        return t
    if isinstance(ts, str):
        try:
            dt = datetime.fromisoformat(ts)
        except ValueError:
            raise CodecError(f"unparseable timestamp {ts[:64]!r}") from None
        if dt.tzinfo is None:
            raise CodecError(f"timestamp without time zone offset: {ts[:64]!r}")
        t = dt.timestamp()
        if not 0 <= t <= 1e11:
            raise CodecError(f"timestamp out of range: {ts[:64]!r}")
        return t
    raise CodecError(f"invalid timestamp type {type(ts).__name__}")


#: No sensor reads a value this large (a 100 GWh meter index in Wh is 1e14): beyond it
#: a value is a decoding or device fault, rejected rather than fed to the detectors.
MAX_ABS = 1e15


def check_value(v: object) -> float:
    """A finite number within :data:`MAX_ABS` (booleans count as 0/1) or a
    :class:`CodecError`."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if not isinstance(v, int | float):
        raise CodecError(f"value is not a number: {str(v)[:64]!r}")
    try:
        f = float(v)
    except OverflowError:  # an int too large for a float
        raise CodecError(f"value out of any sensor's range: {str(v)[:64]}") from None
    if not math.isfinite(f):
        raise CodecError(f"value is not finite: {v!r}")
    if not -MAX_ABS < f < MAX_ABS:
        raise CodecError(f"value out of any sensor's range (|value| >= {MAX_ABS:g}): {v!r}")
    return f

"""The native JSON codec: the reading contract of ARCHITECTURE.md, one object or a list."""

from __future__ import annotations

import msgspec

from flows.codecs.base import CodecError, check_value, parse_ts
from models.reading import Reading


class _Wire(msgspec.Struct):
    sensor: str
    ts: str | float
    value: float | bool | None | str
    kind: str = ""
    unit: str = ""
    commune: str = ""
    site: str = ""
    attrs: dict = {}


_dec = msgspec.json.Decoder(_Wire | list[_Wire])
_enc = msgspec.json.Encoder()


def _one(w: _Wire) -> Reading:
    if not w.sensor:
        raise CodecError("empty sensor")
    if w.value is None:
        raise CodecError("value is null")
    return Reading(
        sensor=w.sensor, ts=parse_ts(w.ts), value=check_value(w.value), kind=w.kind,
        unit=w.unit, commune=w.commune, site=w.site, attrs=w.attrs,
    )


def decode(raw: bytes) -> list[Reading]:
    """Contract JSON bytes -> readings, or :class:`CodecError` with the reason."""
    try:
        w = _dec.decode(raw)
    except msgspec.DecodeError as err:
        raise CodecError(f"invalid reading JSON: {err}") from None
    except RecursionError:
        raise CodecError("invalid reading JSON: nested too deeply") from None
    except UnicodeDecodeError as err:
        raise CodecError(f"invalid reading JSON: not UTF-8 at byte {err.start}") from None
    if isinstance(w, list):
        return [_one(x) for x in w]
    return [_one(w)]


def encode(r: Reading) -> bytes:
    """Reading -> contract JSON bytes (``ts`` as RFC 3339 UTC)."""
    from rules.alert import iso

    return _enc.encode({
        "sensor": r.sensor, "ts": iso(r.ts), "value": r.value, "kind": r.kind,
        "unit": r.unit, "commune": r.commune, "site": r.site, "attrs": r.attrs,
    })

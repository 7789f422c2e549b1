"""Helpers shared by the codecs: safe JSON parsing, numbers, times, coordinates.

Everything here raises :class:`CodecError` (never anything else) so that a codec built
on it keeps the codec contract: bytes in, readings out, or a reason.
"""

from __future__ import annotations

import math

import msgspec

from flows.codecs.base import MAX_ABS, CodecError, parse_ts

_any = msgspec.json.Decoder()

#: Latest plausible event time (year 2200); earliest is the epoch.
MAX_TS = 7258118400.0

_TRUE = {"true", "on", "open", "opened", "yes", "1", "high"}
_FALSE = {"false", "off", "closed", "close", "no", "0", "low"}


def loads(raw: bytes, what: str = "JSON") -> object:
    """Any JSON document -> Python objects, or :class:`CodecError`."""
    try:
        return _any.decode(raw)
    except msgspec.DecodeError as err:
        raise CodecError(f"invalid {what}: {err}") from None
    except (RecursionError, MemoryError):
        raise CodecError(f"invalid {what}: nested too deeply") from None
    except UnicodeDecodeError as err:
        raise CodecError(f"invalid {what}: not UTF-8 at byte {err.start}") from None
    except TypeError:
        raise CodecError(f"invalid {what}: not bytes") from None


def typed(dec: msgspec.json.Decoder, raw: bytes, what: str) -> object:
    """Decode ``raw`` with a typed msgspec decoder, errors as :class:`CodecError`."""
    try:
        return dec.decode(raw)
    except msgspec.ValidationError as err:
        raise CodecError(f"invalid {what}: {err}") from None
    except msgspec.DecodeError as err:
        raise CodecError(f"invalid {what}: {err}") from None
    except (RecursionError, MemoryError):
        raise CodecError(f"invalid {what}: nested too deeply") from None
    except UnicodeDecodeError as err:
        raise CodecError(f"invalid {what}: not UTF-8 at byte {err.start}") from None
    except TypeError:
        raise CodecError(f"invalid {what}: not bytes") from None


def num(v: object, what: str = "value") -> float:
    """A finite number from a JSON value: numbers, booleans, numeric or on/off strings."""
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        try:
            f = float(v)
        except OverflowError:
            raise CodecError(f"{what} out of range") from None
    elif isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return 1.0
        if s in _FALSE:
            return 0.0
        try:
            f = float(s)
        except ValueError:
            raise CodecError(f"{what} is not a number: {v[:64]!r}") from None
    else:
        raise CodecError(f"{what} is not a number: {type(v).__name__}")
    if not math.isfinite(f):
        raise CodecError(f"{what} is not finite")
    if not -MAX_ABS < f < MAX_ABS:
        raise CodecError(f"{what} out of any sensor's range (|value| >= {MAX_ABS:g})")
    return f


def number(v: object, what: str = "value") -> float:
    """A finite JSON number (not a boolean, not a string), or :class:`CodecError`."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise CodecError(f"{what} is not a number: {type(v).__name__}")
    try:
        f = float(v)
    except OverflowError:
        raise CodecError(f"{what} out of range") from None
    if not math.isfinite(f):
        raise CodecError(f"{what} is not finite")
    if not -MAX_ABS < f < MAX_ABS:
        raise CodecError(f"{what} out of any sensor's range (|value| >= {MAX_ABS:g})")
    return f


def ts(v: object, what: str = "timestamp") -> float:
    """RFC 3339 string or epoch s/ms -> epoch seconds, within 1970..2200."""
    if isinstance(v, dict) and "@value" in v:  # JSON-LD typed literal {"@type": "DateTime"}
        v = v["@value"]
    try:
        t = parse_ts(v)
    except CodecError as err:
        raise CodecError(f"{what}: {err}") from None
    except (OverflowError, ValueError, OSError):
        raise CodecError(f"{what} out of range: {str(v)[:64]!r}") from None
    if not 0.0 <= t <= MAX_TS:
        raise CodecError(f"{what} out of range: {str(v)[:64]!r}")
    return t


def coords(geo: object) -> list[float] | None:
    """A GeoJSON Point (``[lon, lat]``) -> ``[lat, lon]``; anything else -> ``None``."""
    if isinstance(geo, dict) and "value" in geo and "coordinates" not in geo:
        geo = geo["value"]  # NGSI-LD GeoProperty
    if not isinstance(geo, dict) or geo.get("type") != "Point":
        return None
    c = geo.get("coordinates")
    if not isinstance(c, list) or len(c) < 2:
        return None
    lon, lat = c[0], c[1]
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (lon, lat)):
        return None
    try:
        lat, lon = float(lat), float(lon)
    except OverflowError:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return [lat, lon]


def short(name: str) -> str:
    """Last segment of an expanded JSON-LD term: ``https://…#NoiseLevelObserved`` -> short."""
    if "/" in name or "#" in name:
        return name.replace("#", "/").rstrip("/").rsplit("/", 1)[-1]
    return name


def eui(s: str) -> str:
    """DevEUI in one spelling (lower-case hex, no separators) so registry keys match."""
    h = s.replace("-", "").replace(":", "").strip()
    if len(h) == 16:
        try:
            int(h, 16)
        except ValueError:
            return s
        return h.lower()
    return s

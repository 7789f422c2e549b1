"""CSV for replays: ``sensor,ts,value[,kind,unit,commune,site]``, one or more rows.

A message is UTF-8 text: an optional header row (its first cell is ``sensor``) then
data rows; without a header the columns are :data:`COLUMNS` in that order. Header
columns beyond the standard ones become attributes (numbers when they parse as
numbers); ``lat`` / ``lon`` become ``attrs["coords"]``. ``ts`` is RFC 3339 or epoch
seconds / milliseconds. Values are converted to the kind's canonical unit. Any bad row
rejects the whole message (the dead-letter queue keeps its bytes for a fixed replay).
"""

from __future__ import annotations

import csv as _csv
import io

from flows.codecs.base import Codec, CodecError
from flows.codecs.common import num, ts
from flows.units import to_canonical
from models.reading import Reading

COLUMNS = ("sensor", "ts", "value", "kind", "unit", "commune", "site")
_STD = set(COLUMNS)


def _attr(v: str) -> object:
    try:
        f = float(v)
    except ValueError:
        return v
    return f if f == f and abs(f) != float("inf") else v


def _ts(s: str) -> float:
    if not s:
        raise CodecError("empty ts")
    if "T" in s or "-" in s[1:] or " " in s:  # RFC 3339
        return ts(s)
    try:
        return ts(float(s))
    except ValueError:
        return ts(s)


def _value(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        return num(s, "value")
    if v - v != 0.0:
        raise CodecError(f"value is not finite: {s[:32]!r}")
    return v


def make(header: tuple[str, ...] | None = None) -> Codec:
    """A CSV codec; ``header`` gives the columns of header-less messages."""
    default = tuple(header or COLUMNS)

    def decode(raw: bytes) -> list[Reading]:
        try:
            text = raw.decode("utf-8-sig") if isinstance(raw, bytes | bytearray) else None
        except UnicodeDecodeError as err:
            raise CodecError(f"CSV is not UTF-8: {err.reason} at byte {err.start}") from None
        if text is None:
            raise CodecError("CSV message is not bytes")
        if "\x00" in text:
            raise CodecError("CSV contains a NUL byte")
        if '"' not in text and "\r" not in text:  # no quoting: plain split, same result
            rows = [r for r in (line.split(",") for line in text.split("\n"))
                    if any(c.strip() for c in r)]
        else:
            try:
                rows = [r for r in _csv.reader(io.StringIO(text, newline=""))
                        if any(c.strip() for c in r)]
            except _csv.Error as err:
                raise CodecError(f"invalid CSV: {err}") from None
        if not rows:
            raise CodecError("empty CSV message")
        cols = default
        if rows[0] and rows[0][0].strip().lower() == "sensor":
            cols = tuple(c.strip().lower() for c in rows[0])
            rows = rows[1:]
            for need in ("sensor", "ts", "value"):
                if need not in cols:
                    raise CodecError(f"CSV header lacks column {need!r}")
            if len(set(cols)) != len(cols):
                raise CodecError("CSV header has duplicate columns")
            if not rows:
                raise CodecError("CSV message has a header and no rows")
        ix = {c: j for j, c in enumerate(cols)}
        js, jt, jv = ix["sensor"], ix["ts"], ix["value"]
        opt = [ix.get(c, len(cols)) for c in ("kind", "unit", "commune", "site")]
        extra = [(c, j) for c, j in ix.items() if c not in _STD]
        ncols = len(cols)
        times: dict[str, float] = {}
        out = []
        for i, row in enumerate(rows, 1):
            n = len(row)
            if n > ncols or n < 3:
                raise CodecError(f"CSV row {i}: {n} cells for {ncols} columns")
            sensor = row[js].strip() if js < n else ""
            if not sensor:
                raise CodecError(f"CSV row {i}: empty sensor")
            kind, unit, commune, site = (row[j].strip() if j < n else "" for j in opt)
            try:
                tcell = row[jt].strip() if jt < n else ""
                t = times.get(tcell)
                if t is None:
                    t = times[tcell] = _ts(tcell)
                v = _value(row[jv].strip() if jv < n else "")
                v, unit = to_canonical(kind, v, unit)
            except CodecError as err:
                raise CodecError(f"CSV row {i}: {err}") from None
            attrs = {}
            for c, j in extra:
                x = row[j].strip() if j < n else ""
                if x:
                    attrs[c] = _attr(x)
            if "lat" in attrs and "lon" in attrs:
                lat, lon = attrs.pop("lat"), attrs.pop("lon")
                if isinstance(lat, float) and isinstance(lon, float):
                    attrs["coords"] = [lat, lon]
            out.append(Reading(sensor=sensor, ts=t, value=v, kind=kind, unit=unit,
                               commune=commune, site=site, attrs=attrs))
        return out

    return decode


decode = make()

"""Units: convert a value to its kind's canonical unit and reject physically impossible ones.

Every kind in :data:`models.reading.KINDS` has one canonical unit. Sources speak SenML
(RFC 8428 / RFC 8798), UN/CEFACT common codes (NGSI-LD ``unitCode``) or plain text; the
tables below map each accepted spelling to ``(factor, offset)`` so that
``canonical = value * factor + offset``. A unit that cannot become the kind's canonical
unit, or a value outside the kind's physical range, is a :class:`CodecError` with the
reason, so the flow sends the message to the dead-letter queue.

:class:`MeterRate` turns a cumulative meter index (kWh, m3) into a rate (kW, L/h), one
small object per sensor, for the engine to keep in its per-sensor state.
"""

from __future__ import annotations

import math

from flows.codecs.base import CodecError
from models.reading import KINDS

# canonical unit -> {accepted spelling: (factor, offset)}; spellings are case-sensitive
# (SenML and UN/CEFACT both are), a few lower-case variants are listed explicitly.
_ONE = (1.0, 0.0)
_CONV: dict[str, dict[str, tuple[float, float]]] = {
    "kW": {"kW": _ONE, "KWT": _ONE, "W": (1e-3, 0.0), "WTT": (1e-3, 0.0),
           "MW": (1e3, 0.0), "MAW": (1e3, 0.0)},
    "kWh": {"kWh": _ONE, "KWH": _ONE, "Wh": (1e-3, 0.0), "WHR": (1e-3, 0.0),
            "MWh": (1e3, 0.0), "MWH": (1e3, 0.0), "J": (1 / 3.6e6, 0.0),
            "kJ": (1 / 3.6e3, 0.0), "KJO": (1 / 3.6e3, 0.0)},
    "Cel": {"Cel": _ONE, "CEL": _ONE, "degC": _ONE, "°C": _ONE, "C": _ONE,
            "K": (1.0, -273.15), "KEL": (1.0, -273.15),
            "degF": (5 / 9, -160 / 9), "°F": (5 / 9, -160 / 9), "FAH": (5 / 9, -160 / 9),
            "F": (5 / 9, -160 / 9)},
    "%RH": {"%RH": _ONE, "%": _ONE, "P1": _ONE, "/100": _ONE,
            "/": (100.0, 0.0), "1": (100.0, 0.0), "C62": (100.0, 0.0)},
    "%": {"%": _ONE, "P1": _ONE, "/100": _ONE, "%EL": _ONE,
          "/": (100.0, 0.0), "1": (100.0, 0.0), "C62": (100.0, 0.0), "ratio": (100.0, 0.0)},
    "L/h": {"L/h": _ONE, "l/h": _ONE, "m3/h": (1e3, 0.0), "MQH": (1e3, 0.0),
            "l/s": (3600.0, 0.0), "L/s": (3600.0, 0.0), "m3/s": (3.6e6, 0.0),
            "MQS": (3.6e6, 0.0), "L/min": (60.0, 0.0), "l/min": (60.0, 0.0),
            "L2": (60.0, 0.0)},
    "m3": {"m3": _ONE, "MTQ": _ONE, "l": (1e-3, 0.0), "L": (1e-3, 0.0),
           "LTR": (1e-3, 0.0)},
    "m": {"m": _ONE, "MTR": _ONE, "cm": (1e-2, 0.0), "CMT": (1e-2, 0.0),
          "mm": (1e-3, 0.0), "MMT": (1e-3, 0.0), "km": (1e3, 0.0)},
    "V": {"V": _ONE, "VLT": _ONE, "mV": (1e-3, 0.0), "2Z": (1e-3, 0.0),
          "kV": (1e3, 0.0), "KVT": (1e3, 0.0)},
    "A": {"A": _ONE, "AMP": _ONE, "mA": (1e-3, 0.0), "4K": (1e-3, 0.0)},
    "ug/m3": {"ug/m3": _ONE, "µg/m3": _ONE, "GQ": _ONE, "mg/m3": (1e3, 0.0),
              "GP": (1e3, 0.0)},
    "dB(A)": {"dB(A)": _ONE, "dBA": _ONE, "dB": _ONE, "2N": _ONE},
    "ppm": {"ppm": _ONE, "59": _ONE, "/1000000": _ONE},
    "lx": {"lx": _ONE, "LUX": _ONE},
    "count": {"count": _ONE, "C62": _ONE, "1": _ONE},
    "bool": {"bool": _ONE, "C62": _ONE, "1": _ONE},
    "index": {"index": _ONE, "C62": _ONE, "1": _ONE},
}

#: Physical range of each kind, in its canonical unit: (low, high), ``None`` = unbounded.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "electricity_kw": (None, None),  # negative = export (solar)
    "electricity_kwh": (0.0, None),
    "water_lph": (0.0, None),
    "water_m3": (0.0, None),
    "temperature_c": (-273.15, 1000.0),
    "cabinet_temperature_c": (-273.15, 1000.0),
    "humidity_pct": (0.0, 100.0),
    "co2_ppm": (0.0, 1e6),
    "noise_dba": (0.0, 194.0),  # 194 dB: loudest undistorted sound in air
    "pm25_ugm3": (0.0, None),
    "pm10_ugm3": (0.0, None),
    "no2_ugm3": (0.0, None),
    "o3_ugm3": (0.0, None),
    "pollen_index": (0.0, None),
    "light_on": (0.0, 1.0),
    "door_open": (0.0, 1.0),
    "heartbeat": (0.0, 1.0),
    "lux": (0.0, None),
    "occupancy": (0.0, None),
    "fill_pct": (0.0, 150.0),  # heaped, overflowing containers read above 100 %
    "bike_count": (0.0, None),
    "water_level_m": (None, None),  # relative to a reference, may be negative
    "voltage_v": (0.0, None),
    "current_a": (0.0, None),
    "dimming_pct": (0.0, 100.0),
}


def factor(kind: str, unit: str) -> tuple[float, float]:
    """``(factor, offset)`` taking ``unit`` to ``kind``'s canonical unit.

    An empty unit, or a kind outside the vocabulary, means "already canonical".

    >>> factor("electricity_kwh", "Wh")
    (0.001, 0.0)
    """
    canon = KINDS.get(kind)
    if canon is None or not unit or unit == canon:
        return _ONE
    try:
        return _CONV[canon][unit]
    except KeyError:
        raise CodecError(
            f"unit {unit[:32]!r} cannot be converted to {canon!r} for kind {kind!r}"
        ) from None


def check_range(kind: str, value: float) -> float:
    """``value`` if physically possible for ``kind``, else :class:`CodecError`."""
    rng = RANGES.get(kind)
    if rng is not None:
        lo, hi = rng
        if lo is not None and value < lo:
            raise CodecError(f"impossible {kind} value {value:g} (below {lo:g})")
        if hi is not None and value > hi:
            raise CodecError(f"impossible {kind} value {value:g} (above {hi:g})")
    return value


def to_canonical(kind: str, value: float, unit: str = "") -> tuple[float, str]:
    """Convert ``value`` in ``unit`` to ``kind``'s canonical unit and check its range.

    Returns ``(value, unit)``; the unit is the canonical one when the kind is known.

    >>> to_canonical("temperature_c", 212.0, "degF")
    (100.0, 'Cel')
    >>> to_canonical("fill_pct", 0.4, "/")
    (40.0, '%')
    """
    canon = KINDS.get(kind)
    if canon is None:
        return value, unit
    if unit and unit != canon:
        f, o = factor(kind, unit)
        value = value * f + o
        if not math.isfinite(value):
            raise CodecError(f"{kind} value overflows after unit conversion")
    return check_range(kind, value), canon


#: Cumulative index kinds and the rate kind they become, with the factor per hour.
RATE_OF: dict[str, tuple[str, float]] = {
    "electricity_kwh": ("electricity_kw", 1.0),  # kWh per hour = kW
    "water_m3": ("water_lph", 1000.0),  # m3 per hour * 1000 = L/h
}


class MeterRate:
    """Rate from a cumulative meter index, for one sensor (keep one in its state).

    ``update(ts, index)`` returns the mean rate since the previous index in the rate
    kind's canonical unit (per hour), or ``None`` for the first index, an out-of-order
    or repeated timestamp, or a decreasing index (meter replaced or rolled over: the
    new index becomes the reference).

    >>> m = MeterRate("electricity_kwh")
    >>> m.update(0.0, 100.0) is None
    True
    >>> m.update(1800.0, 101.0)  # 1 kWh in half an hour
    2.0
    """

    __slots__ = ("scale", "last_ts", "last_index")

    def __init__(self, kind: str) -> None:
        self.scale = RATE_OF[kind][1]
        self.last_ts: float | None = None
        self.last_index = 0.0

    def update(self, ts: float, index: float) -> float | None:
        """Feed one index reading; the rate since the previous one, or ``None``."""
        prev_ts, prev = self.last_ts, self.last_index
        if prev_ts is not None and ts <= prev_ts:
            return None  # late or duplicate: keep the newer reference
        self.last_ts, self.last_index = ts, index
        if prev_ts is None or index < prev:
            return None
        return (index - prev) * self.scale * 3600.0 / (ts - prev_ts)

    def __getstate__(self) -> tuple:
        return (self.scale, self.last_ts, self.last_index)

    def __setstate__(self, state: tuple) -> None:
        self.scale, self.last_ts, self.last_index = state

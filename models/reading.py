"""The reading contract: one measurement of one sensor at one event time.

Every codec turns its input format into :class:`Reading` objects; detectors, rules and
flows only ever see this type. ``ts`` is event time in epoch seconds (UTC).
"""

from __future__ import annotations

import msgspec

#: Canonical unit of each kind in the controlled vocabulary.
KINDS: dict[str, str] = {
    "electricity_kw": "kW",
    "electricity_kwh": "kWh",
    "water_lph": "L/h",
    "water_m3": "m3",
    "temperature_c": "Cel",
    "humidity_pct": "%RH",
    "co2_ppm": "ppm",
    "noise_dba": "dB(A)",
    "pm25_ugm3": "ug/m3",
    "pm10_ugm3": "ug/m3",
    "no2_ugm3": "ug/m3",
    "o3_ugm3": "ug/m3",
    "pollen_index": "index",
    "light_on": "bool",
    "lux": "lx",
    "occupancy": "count",
    "fill_pct": "%",
    "bike_count": "count",
    "water_level_m": "m",
    "door_open": "bool",
    "voltage_v": "V",
    "current_a": "A",
    "cabinet_temperature_c": "Cel",
    "heartbeat": "bool",
    "dimming_pct": "%",
}


class Reading(msgspec.Struct, frozen=True, gc=False):
    """One sensor measurement.

    Examples
    --------
    >>> r = Reading(sensor="metz/school/elec-1", ts=1764338400.0, value=12.5,
    ...             kind="electricity_kw", commune="metz", site="school")
    >>> r.subject
    'metz/school'
    """

    sensor: str
    ts: float
    value: float
    kind: str = ""
    unit: str = ""
    commune: str = ""
    site: str = ""
    attrs: dict = msgspec.field(default_factory=dict)

    @property
    def subject(self) -> str:
        """The state key: ``commune/site`` when the site is known, else the sensor."""
        if self.site:
            return f"{self.commune}/{self.site}"
        return self.sensor

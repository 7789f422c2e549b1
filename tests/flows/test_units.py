"""Unit conversion to each kind's canonical unit, physical ranges, meter index -> rate."""

from __future__ import annotations

import pickle

import pytest

from flows.codecs.base import CodecError
from flows.units import RANGES, MeterRate, check_range, to_canonical
from models.reading import KINDS


@pytest.mark.parametrize(("kind", "value", "unit", "want"), [
    ("electricity_kwh", 1500.0, "Wh", 1.5),
    ("electricity_kwh", 3.6e6, "J", 1.0),
    ("electricity_kw", 2500.0, "W", 2.5),
    ("electricity_kw", 2.5, "KWT", 2.5),
    ("temperature_c", 212.0, "degF", 100.0),
    ("temperature_c", 32.0, "FAH", 0.0),
    ("temperature_c", 273.15, "K", 0.0),
    ("current_a", 250.0, "mA", 0.25),
    ("voltage_v", 230000.0, "mV", 230.0),
    ("fill_pct", 0.42, "/", 42.0),
    ("fill_pct", 42.0, "%", 42.0),
    ("humidity_pct", 0.5, "C62", 50.0),
    ("water_m3", 1500.0, "L", 1.5),
    ("water_m3", 1500.0, "LTR", 1.5),
    ("water_lph", 1.0, "m3/h", 1000.0),
    ("water_lph", 1.0, "l/s", 3600.0),
    ("water_level_m", 2850.0, "mm", 2.85),
    ("pm25_ugm3", 0.012, "mg/m3", 12.0),
])
def test_conversions(kind, value, unit, want):
    v, u = to_canonical(kind, value, unit)
    assert v == pytest.approx(want) and u == KINDS[kind]


def test_no_unit_means_canonical_and_unknown_kind_passes():
    assert to_canonical("electricity_kw", 3.0, "") == (3.0, "kW")
    assert to_canonical("wind_ms", 3.0, "m/s") == (3.0, "m/s")


@pytest.mark.parametrize(("kind", "unit"), [("temperature_c", "m"), ("electricity_kw", "kWh"),
                                            ("fill_pct", "L")])
def test_unconvertible_unit_is_rejected_with_reason(kind, unit):
    with pytest.raises(CodecError, match="cannot be converted"):
        to_canonical(kind, 1.0, unit)


@pytest.mark.parametrize(("kind", "value"), [("fill_pct", -1.0), ("humidity_pct", 100.5),
                                             ("temperature_c", -300.0), ("light_on", 2.0),
                                             ("noise_dba", 250.0), ("water_m3", -0.1),
                                             ("voltage_v", -230.0)])
def test_impossible_values(kind, value):
    with pytest.raises(CodecError, match=f"impossible {kind}"):
        check_range(kind, value)


def test_possible_edges_pass():
    assert check_range("fill_pct", 100.0) == 100.0
    assert check_range("electricity_kw", -5.0) == -5.0  # export
    assert check_range("water_level_m", -0.3) == -0.3


def test_every_kind_has_a_range_and_its_unit_converts_to_itself():
    assert set(KINDS) <= set(RANGES)
    for kind, unit in KINDS.items():
        lo, hi = RANGES[kind]
        v = lo if lo is not None else 0.0
        assert to_canonical(kind, v, unit) == (v, unit)


def test_meter_rate():
    m = MeterRate("water_m3")
    assert m.update(0.0, 10.0) is None
    assert m.update(3600.0, 10.5) == pytest.approx(500.0)  # 0.5 m3 in 1 h = 500 L/h
    assert m.update(3600.0, 11.0) is None  # repeated timestamp
    assert m.update(1800.0, 10.7) is None  # late: ignored, reference kept
    assert m.update(5400.0, 10.75) == pytest.approx(500.0)  # 0.25 m3 in 30 min
    assert m.update(7200.0, 0.2) is None  # meter replaced: new reference
    assert m.update(9000.0, 0.3) == pytest.approx(200.0)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.update(10800.0, 0.4) == m.update(10800.0, 0.4)


def test_energy_index_to_kw():
    m = MeterRate("electricity_kwh")
    m.update(0.0, 1000.0)
    assert m.update(900.0, 1001.0) == pytest.approx(4.0)  # 1 kWh in 15 min = 4 kW

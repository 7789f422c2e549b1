"""Helpers for the rule tests: write a pack to a temporary directory, make readings."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from models.reading import Reading

#: A pack with one silence rule (no data for 3 expected periods, at least 5 minutes).
NODATA = """\
name: silence
rules:
  - name: Silent
    no_data: {factor: 3, default_period: 10m, min: 5m}
    severity: critical
"""


def utc(text: str) -> float:
    """``2026-11-24T22:00`` (UTC) -> epoch seconds."""
    return datetime.fromisoformat(text + "+00:00").timestamp()


def reading(sensor: str, ts: str | float, value: float, kind: str, **kw: object) -> Reading:
    t = utc(ts) if isinstance(ts, str) else ts
    commune, site = sensor.split("/")[0], sensor.split("/")[1] if sensor.count("/") > 1 else ""
    return Reading(sensor=sensor, ts=t, value=float(value), kind=kind,
                   commune=str(kw.pop("commune", commune)), site=str(kw.pop("site", site)),
                   attrs=dict(kw.pop("attrs", {})))  # type: ignore[arg-type]


@pytest.fixture
def write_pack(tmp_path: Path):
    """Write YAML text as a pack file in a temporary directory; returns its path."""
    def write(text: str, name: str = "pack.yaml") -> Path:
        p = tmp_path / name
        p.write_text(text)
        return p
    return write

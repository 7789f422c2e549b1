"""The alert contract: the event published on the alerts topic (Kafka key = ``id``).

An alert's ``id`` is derived from its rule, commune, subject and start (event) time, so
replaying the same input after a crash re-emits the same ``id``, never a new alert.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import msgspec


class Impact(msgspec.Struct, frozen=True):
    """Estimated cost of the condition so far (``kwh``/``m3`` used, ``eur``, ``kg_co2e``)
    and its current rate in euros per hour (``eur_per_h``), so an alert that has just
    fired still says how much it costs."""

    kwh: float = 0.0
    eur: float = 0.0
    kg_co2e: float = 0.0
    m3: float = 0.0
    eur_per_h: float = 0.0


class Alert(msgspec.Struct, frozen=True, omit_defaults=False):
    """One alert event: ``firing`` (new or updated) or ``resolved``."""

    id: str
    status: str
    rule: str
    pack: str
    severity: str
    commune: str
    site: str
    sensor: str
    kind: str
    starts_at: str
    ends_at: str | None
    detected_at: str
    value: float | None
    expected: float | None
    score: float | None
    detector: str | None
    summary: str
    impact: Impact | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)


def alert_id(rule: str, commune: str, subject: str, starts_at: float) -> str:
    """Deterministic id from rule, commune, subject and start event time (epoch s)."""
    raw = f"{rule}|{commune}|{subject}|{starts_at:.3f}".encode()
    return hashlib.blake2b(raw, digest_size=12).hexdigest()


def iso(ts: float) -> str:
    """Epoch seconds -> RFC 3339 UTC with a ``Z`` suffix, millisecond precision."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


_enc = msgspec.json.Encoder()


def encode(alert: Alert) -> bytes:
    """Alert -> contract JSON bytes."""
    return _enc.encode(alert)


def decode(raw: bytes) -> Alert:
    """Contract JSON bytes -> Alert (used by the alert viewer and tests)."""
    return msgspec.json.decode(raw, type=Alert)

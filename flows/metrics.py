"""Prometheus metrics of the engine, labelled by commune where it makes sense."""

from __future__ import annotations

from prometheus_client import Counter, start_http_server

READINGS = Counter("sentinelle_readings", "Readings decoded", ["commune"])
DLQ = Counter("sentinelle_dlq", "Messages sent to the dead-letter queue", ["topic", "cause"])
ALERTS = Counter("sentinelle_alerts", "Alert events emitted", ["commune", "rule", "status"])
LATE = Counter("sentinelle_late_readings", "Readings older than the sensor's last one")
EXCHANGED = Counter("sentinelle_exchanged_readings",
                    "Readings an engine shard received from another worker (placement exchange)")
MISPLACED = Counter("sentinelle_misplaced_readings",
                    "Readings of a subject first seen on another partition (placement partition)")


def serve(port: int) -> None:
    """Expose ``/metrics`` on ``port`` (0 disables)."""
    if port:
        start_http_server(port)


def cause(reason: str) -> str:
    """A short, bounded label for a DLQ reason (the full reason is in the DLQ record)."""
    head = reason.split(":", 1)[0].strip().lower()
    return head[:40] or "unknown"

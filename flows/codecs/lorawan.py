"""LoRaWAN network-server uplinks: ChirpStack v4 events and The Things Stack v3 messages.

Both hand over the payload already decoded by the device profile's codec (ChirpStack
``object``, TTS ``uplink_message.decoded_payload``); a :class:`~flows.codecs.fields.FieldMap`
says which decoded fields are readings of which kind. One uplink gives one reading per
mapped field, with sensor ``<DevEUI>/<kind>`` and ``attrs["device"] = <DevEUI>`` so the
registry can map the device (or one of its kinds) to a named sensor, commune and site.

Other events of the same integration (join, ack, txack, status, log, location...) are
recognised and give no reading; anything else is a :class:`CodecError`.

ChirpStack v4 (JSON marshaler, protobuf JSON names)::

    {"deduplicationId": "...", "time": "2026-11-28T14:00:00.123Z",
     "deviceInfo": {"deviceProfileName": "...", "deviceName": "...",
                    "devEui": "0101010101010101", "tags": {"commune": "metz"}},
     "fCnt": 10, "fPort": 1, "data": "...", "object": {"fill_pct": 42.0}}

The Things Stack v3::

    {"end_device_ids": {"device_id": "...", "dev_eui": "70B3D57ED005B89A", ...},
     "received_at": "...", "uplink_message": {"decoded_payload": {...},
     "received_at": "...", "version_ids": {"brand_id": "...", "model_id": "..."}}}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

from flows.codecs.base import Codec, CodecError
from flows.codecs.common import eui, ts, typed
from flows.codecs.fields import FieldMap
from models.reading import Reading

#: Tags / attributes that fill reading fields rather than ``attrs``.
_PLACE = ("commune", "site")
#: Well-known numeric attributes: their tag values (always strings) become numbers.
NUMERIC_ATTRS = {"nominal_power_kw", "capacity_l", "alert_level_m", "danger_level_m"}


class _CsDevice(msgspec.Struct, rename="camel"):
    dev_eui: str = ""
    device_name: str = ""
    device_profile_name: str = ""
    application_name: str = ""
    tags: dict[str, str] = {}


class _CsEvent(msgspec.Struct, rename="camel"):
    device_info: _CsDevice | None = None
    time: str | None = None
    object: dict | None = None
    f_cnt: int | None = None
    # fields that only non-uplink events carry
    level: str | None = None
    code: str | None = None
    margin: int | None = None
    battery_level: float | None = None
    acknowledged: bool | None = None
    f_cnt_down: int | None = None
    location: dict | None = None
    dev_addr: str | None = None


_cs = msgspec.json.Decoder(_CsEvent)


class _TtsIds(msgspec.Struct):
    device_id: str = ""
    dev_eui: str = ""


class _TtsVersion(msgspec.Struct):
    brand_id: str = ""
    model_id: str = ""


class _TtsUplink(msgspec.Struct):
    decoded_payload: dict | None = None
    received_at: str | None = None
    f_cnt: int | None = None
    version_ids: _TtsVersion | None = None
    attributes: dict[str, str] = {}


class _TtsMessage(msgspec.Struct):
    end_device_ids: _TtsIds | None = None
    received_at: str | None = None
    uplink_message: _TtsUplink | None = None
    join_accept: dict | None = None
    downlink_ack: dict | None = None
    downlink_nack: dict | None = None
    downlink_sent: dict | None = None
    downlink_failed: dict | None = None
    downlink_queued: dict | None = None
    downlink_queue_invalidated: dict | None = None
    location_solved: dict | None = None
    service_data: dict | None = None
    uplink_normalized: dict | None = None


_tts = msgspec.json.Decoder(_TtsMessage)


def _attr(k: str, v: str) -> object:
    if k in NUMERIC_ATTRS:
        try:
            f = float(v)
        except ValueError:
            return v
        return f if f - f == 0.0 else v
    return v


def _env_mapping() -> str | None:
    return os.environ.get("SENTINELLE_LORAWAN_MAPPING") or None


def _readings(device: str, t: float, obj: dict, profiles: tuple[str, ...],
              tags: Mapping[str, str], fmap: FieldMap, extra: dict) -> list[Reading]:
    commune = tags.get("commune", "")
    site = tags.get("site", "")
    attrs = {k: _attr(k, v) for k, v in tags.items() if k not in _PLACE}
    attrs.update(extra)
    attrs["device"] = device
    return [
        Reading(sensor=f"{device}/{suffix}", ts=t, value=v, kind=kind, unit=unit,
                commune=commune, site=site, attrs=attrs)
        for suffix, kind, v, unit in fmap.extract(obj, profiles)
    ]


def chirpstack(mapping: FieldMap | Mapping | str | Path | None = None) -> Codec:
    """A ChirpStack v4 event codec using ``mapping`` (see :mod:`flows.codecs.fields`).

    Without ``mapping``, the file named by ``$SENTINELLE_LORAWAN_MAPPING`` if set.
    """
    fmap = FieldMap.load(mapping if mapping is not None else _env_mapping())

    def decode(raw: bytes) -> list[Reading]:
        ev = typed(_cs, raw, "ChirpStack event")
        if ev.object is None:
            if ev.device_info is not None and (
                ev.level is not None or ev.margin is not None or ev.battery_level is not None
                or ev.acknowledged is not None or ev.f_cnt_down is not None
                or ev.location is not None or (ev.dev_addr is not None and ev.f_cnt is None)
            ):
                return []  # log / status / ack / txack / location / join event
            if ev.device_info is not None and ev.f_cnt is not None:
                raise CodecError("ChirpStack uplink without decoded object "
                                 "(no codec in the device profile?)")
            raise CodecError("not a ChirpStack v4 event (no deviceInfo/object)")
        dev = ev.device_info
        if dev is None or not dev.dev_eui:
            raise CodecError("ChirpStack uplink without deviceInfo.devEui")
        if ev.time is None:
            raise CodecError("ChirpStack uplink without time")
        t = ts(ev.time, "time")
        profiles = tuple(p for p in (dev.tags.get("profile", ""), dev.device_profile_name) if p)
        extra = {"device_name": dev.device_name} if dev.device_name else {}
        return _readings(eui(dev.dev_eui), t, ev.object, profiles, dev.tags, fmap, extra)

    return decode


def tts(mapping: FieldMap | Mapping | str | Path | None = None) -> Codec:
    """A The Things Stack v3 application-up codec using ``mapping`` (or the env file)."""
    fmap = FieldMap.load(mapping if mapping is not None else _env_mapping())

    def decode(raw: bytes) -> list[Reading]:
        m = typed(_tts, raw, "TTS message")
        up = m.uplink_message
        if up is None:
            if m.end_device_ids is not None and any(
                x is not None for x in (m.join_accept, m.downlink_ack, m.downlink_nack,
                                        m.downlink_sent, m.downlink_failed, m.downlink_queued,
                                        m.downlink_queue_invalidated, m.location_solved,
                                        m.service_data, m.uplink_normalized)):
                return []  # not an uplink: nothing to measure
            raise CodecError("not a TTS uplink (no uplink_message)")
        ids = m.end_device_ids
        if ids is None or not (ids.dev_eui or ids.device_id):
            raise CodecError("TTS uplink without end_device_ids.dev_eui/device_id")
        if up.decoded_payload is None:
            raise CodecError("TTS uplink without decoded_payload (no payload formatter?)")
        when = up.received_at or m.received_at
        if when is None:
            raise CodecError("TTS uplink without received_at")
        t = ts(when, "received_at")
        v = up.version_ids
        profiles = tuple(p for p in (
            up.attributes.get("profile", ""),
            f"{v.brand_id}/{v.model_id}" if v and v.brand_id and v.model_id else "",
            v.model_id if v else "",
        ) if p)
        extra = {"device_id": ids.device_id} if ids.device_id else {}
        device = eui(ids.dev_eui) if ids.dev_eui else ids.device_id
        return _readings(device, t, up.decoded_payload, profiles, up.attributes, fmap, extra)

    return decode

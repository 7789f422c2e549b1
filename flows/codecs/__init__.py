"""Input codecs by name, and the ``--input TOPIC=CODEC`` option.

>>> from flows.codecs import get, parse_input_spec
>>> parse_input_spec("lora-uplinks=chirpstack")
('lora-uplinks', 'chirpstack')
>>> decode = get("json")
>>> decode(b'{"sensor": "s1", "ts": 0, "value": 1}')[0].value
1.0

Codecs that take configuration get it as keyword arguments:
``get("chirpstack", mapping="lorawan.yaml")``, ``get("senml", mapping={...})``,
``get("csv", header=(...))``. Modules are imported on first use.
"""

from __future__ import annotations

import importlib

from flows.codecs.base import Codec, CodecError

__all__ = ["NAMES", "Codec", "CodecError", "get", "parse_input_spec"]

#: codec name -> (module, factory); ``None`` factory = the module's ``decode``.
_CODECS: dict[str, tuple[str, str | None]] = {
    "json": ("flows.codecs.json", None),
    "senml": ("flows.codecs.senml", "make"),
    "ngsi-ld": ("flows.codecs.ngsi_ld", "make"),
    "chirpstack": ("flows.codecs.lorawan", "chirpstack"),
    "tts": ("flows.codecs.lorawan", "tts"),
    "csv": ("flows.codecs.csv", "make"),
}

#: Every codec name accepted by :func:`get` and ``--input TOPIC=CODEC``.
NAMES: tuple[str, ...] = tuple(_CODECS)


def _check(name: str) -> str:
    if name not in _CODECS:
        raise ValueError(f"unknown codec {name!r}: choose one of {', '.join(NAMES)}")
    return name


def get(name: str, **options: object) -> Codec:
    """The codec called ``name``, configured with ``options`` (``mapping=``...)."""
    module, factory = _CODECS[_check(name)]
    mod = importlib.import_module(module)
    if factory is None:
        if options:
            raise TypeError(f"codec {name!r} takes no options, got {sorted(options)}")
        return mod.decode
    return getattr(mod, factory)(**options)


def parse_input_spec(spec: str) -> tuple[str, str]:
    """``"TOPIC=CODEC"`` -> ``(topic, codec)``; ``"TOPIC"`` alone means ``json``."""
    topic, sep, codec = spec.partition("=")
    topic, codec = topic.strip(), codec.strip()
    if not topic:
        raise ValueError(f"--input {spec!r}: empty topic (expected TOPIC or TOPIC=CODEC)")
    if not sep:
        return topic, "json"
    if not codec:
        raise ValueError(f"--input {spec!r}: empty codec after '=' "
                         f"(choose one of {', '.join(NAMES)})")
    try:
        _check(codec)
    except ValueError as err:
        raise ValueError(f"--input {spec!r}: {err}") from None
    return topic, codec

"""The city simulator: sensors of the Metz metropolitan area, readings and ground truth.

:class:`City` lays out sensors over the 24 communes of :data:`COMMUNES` (schools, town
halls, gyms, streets, parks, rivers, crossroads, waste drop-off points...) and generates
their readings step by step in event time: plausible daily and weekly patterns in
Europe/Paris local time (opening hours with the French public holidays of
``opening-hours-py``, which lacks Moselle's Good Friday and 26 December; sunset, sunrise,
commute peaks, waste collection days, slow river levels), Gaussian measurement noise,
and injected anomalies (spikes, level shifts, stuck values, drop-outs) whose ground
truth is kept in :attr:`City.anomalies`. :func:`score` compares alerts with it.

Everything is vectorised per step with numpy and seeded: the same arguments and calls
give the same readings. Pure Python + numpy (no Kafka, no Bytewax), so the demo, tests
and benchmarks share it.

Examples
--------
>>> city = City(seed=1, sensors_per_commune=4)
>>> len(city.sensors), len(next(city.steps(1)))
(96, 96)
>>> s = city.sensors[0]
>>> s.id == f"{s.commune}/{s.site}/{s.id.rsplit('/', 1)[1]}"
True
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from itertools import compress
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import numpy as np
from opening_hours import OpeningHours

from models.reading import KINDS, Reading
from rules.alert import iso

TZ = ZoneInfo("Europe/Paris")
_UTC = ZoneInfo("UTC")

#: Display names of the communes simulated: Metz and 23 other member communes of the
#: Eurométropole de Metz (it has 46; the larger ones are kept).
COMMUNE_NAMES: list[str] = [
    "Metz", "Montigny-lès-Metz", "Woippy", "Marly", "Moulins-lès-Metz", "Ars-sur-Moselle",
    "Le Ban-Saint-Martin", "Longeville-lès-Metz", "Saint-Julien-lès-Metz", "Scy-Chazelles",
    "Plappeville", "Amanvillers", "Augny", "Châtel-Saint-Germain", "Peltre", "Mécleuves",
    "Saint-Privat-la-Montagne", "Lorry-lès-Metz", "Saulny", "Jury", "Rozérieulles",
    "Noisseville", "Laquenexy", "Cuvry",
]

#: Approximate (lat, lon) of each commune, in :data:`COMMUNE_NAMES` order, to 3 decimals
#: (the precision the rule engine keys its schedules by, so street lights agree with it).
_COORDS: list[tuple[float, float]] = [
    (49.119, 6.176), (49.101, 6.154), (49.151, 6.151), (49.064, 6.155),
    (49.104, 6.108), (49.078, 6.074), (49.122, 6.151), (49.114, 6.136),
    (49.133, 6.203), (49.113, 6.118), (49.13, 6.12), (49.168, 6.043),
    (49.059, 6.117), (49.122, 6.081), (49.075, 6.227), (49.045, 6.27),
    (49.188, 6.039), (49.14, 6.125), (49.158, 6.107), (49.074, 6.253),
    (49.106, 6.085), (49.135, 6.283), (49.083, 6.313), (49.043, 6.163),
]


def slug(name: str) -> str:
    """``"Montigny-lès-Metz"`` -> ``"montigny-les-metz"``."""
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in s).split())


#: The 24 communes, slugified: ``"metz"``, ``"montigny-les-metz"``, ``"woippy"``, ...
COMMUNES: list[str] = [slug(n) for n in COMMUNE_NAMES]
COORDS: dict[str, tuple[float, float]] = dict(zip(COMMUNES, _COORDS, strict=True))

#: Monday 23 November 2026, 00:00 Europe/Paris.
DEFAULT_START: float = datetime(2026, 11, 23, tzinfo=TZ).timestamp()

ANOMALY_TYPES = ("spike", "level_shift", "stuck", "dropout")
_DEFAULT_MIX = {"spike": 0.4, "level_shift": 0.3, "stuck": 0.15, "dropout": 0.15}
#: Length of each anomaly type in steps (min, max inclusive).
_DURATION = {"spike": (1, 1), "level_shift": (6, 36), "stuck": (12, 24), "dropout": (6, 36)}

# -- places -----------------------------------------------------------------------------

#: Opening hours of each building category (OSM syntax); lights follow them.
SCHEDULES: dict[str, str] = {
    "ecole": "Mo,Tu,Th,Fr 08:30-16:30; We 08:30-11:30; PH off",
    "college": "Mo-Fr 08:00-17:30; We 08:00-12:30; PH off",
    "mairie": "Mo-Fr 08:30-12:00,13:30-17:30; Sa 09:00-12:00; PH off",
    "gymnase": "Mo-Fr 08:00-22:00; Sa 09:00-19:00; Su 09:00-13:00; PH off",
    "mediatheque": "Tu,Th,Fr 13:00-18:00; We,Sa 10:00-18:00; PH off",
    "piscine": "Mo-Fr 07:00-21:00; Sa,Su 09:00-19:00; PH off",
}
_BUILDINGS = list(SCHEDULES)
STREET_LIGHTS = "sunset-sunrise"
MAINTENANCE = "Mo-Fr 08:00-17:00; PH off"

_PEOPLE = [
    "jean-moulin", "jules-ferry", "victor-hugo", "louis-pasteur", "jean-jaures",
    "marie-curie", "anne-frank", "paul-verlaine", "jean-de-la-fontaine", "charles-peguy",
    "saint-exupery", "george-sand", "jacques-prevert", "albert-camus", "robert-schuman",
    "les-tilleuls", "les-acacias", "les-peupliers", "le-petit-prince", "les-mirabelles",
]
_STREETS = [
    "rue-de-la-republique", "grand-rue", "rue-pasteur", "rue-jean-jaures", "rue-de-metz",
    "rue-du-general-de-gaulle", "rue-de-l-eglise", "rue-des-jardins", "rue-principale",
    "rue-du-moulin", "rue-de-la-gare", "avenue-de-strasbourg", "rue-des-ecoles",
    "rue-de-verdun", "rue-des-vignes", "route-de-thionville", "rue-de-la-moselle",
    "rue-du-stade", "rue-des-roses", "avenue-de-la-liberation",
]
_PARKS = ["parc-municipal", "square-de-la-mairie", "jardin-public", "parc-des-sports",
          "verger-communal", "jardin-partage", "square-des-anciens-combattants"]
_QUARTIERS = ["sablon", "borny", "bellecroix", "devant-les-ponts", "patrotte", "magny",
              "queuleu", "plantieres", "grigy", "vallieres", "nouvelle-ville"]
#: Real places first where known; generic ones follow.
_LOCAL: dict[str, dict[str, list[str]]] = {
    "metz": {
        "street": ["rue-serpenoise", "avenue-foch", "rue-des-allemands", "en-fournirue",
                   "rue-mazelle", "boulevard-de-trinite", "avenue-de-nancy"],
        "park": ["parc-de-la-seille", "esplanade", "jardin-botanique", "plan-d-eau",
                 "square-du-luxembourg"],
        "river": ["moselle-pont-des-morts", "moselle-moyen-pont", "seille-pont-de-la-seille",
                  "moselle-port-de-metz"],
        "crossroads": ["place-de-la-republique", "place-saint-thiebault", "place-mazelle"],
        "mairie": ["hotel-de-ville"] + [f"mairie-de-quartier-{q}" for q in _QUARTIERS],
        "college": ["lycee-fabert", "lycee-georges-de-la-tour", "college-arsenal"],
        "piscine": ["piscine-lothaire", "piscine-belletanche"],
        "cycleway": ["piste-cyclable-quai-des-regates", "voie-verte-moselle"],
    },
    "montigny-les-metz": {"river": ["canal-de-jouy-pont-de-montigny"]},
    "marly": {"river": ["seille-marly"]},
    "cuvry": {"river": ["seille-cuvry"]},
    "moulins-les-metz": {"river": ["moselle-moulins"]},
    "ars-sur-moselle": {"river": ["moselle-ars", "ruisseau-de-la-mance"]},
    "longeville-les-metz": {"river": ["moselle-longeville"]},
    "le-ban-saint-martin": {"river": ["moselle-plage-du-ban"]},
    "woippy": {"river": ["ruisseau-de-woippy"]},
    "chatel-saint-germain": {"river": ["ruisseau-de-montvaux"]},
}
_GENERIC: dict[str, list[str]] = {
    "ecole": [f"ecole-{p}" for p in _PEOPLE],
    "college": [f"college-{p}" for p in _PEOPLE],
    "mairie": ["mairie", "salle-des-fetes", "maison-des-associations", "centre-technique",
               "espace-culturel"],
    "gymnase": [f"gymnase-{p}" for p in _PEOPLE],
    "mediatheque": [f"mediatheque-{p}" for p in _PEOPLE],
    "piscine": ["piscine-municipale", "centre-aquatique"],
    "street": _STREETS,
    "park": _PARKS,
    "river": ["ruisseau", "bassin-de-retenue"],
    "crossroads": [f"carrefour-{a}-{b}" for a, b in zip(
        ["grand-rue", "rue-de-metz", "rue-pasteur", "avenue-de-strasbourg", "rue-de-verdun"],
        ["rue-de-la-gare", "rue-principale", "rue-du-stade", "rue-des-ecoles", "rue-du-moulin"],
        strict=True)],
    "waste": [f"pav-{s}" for s in _STREETS],
    "cycleway": [f"compteur-velo-{s}" for s in _STREETS],
}


@dataclass(frozen=True)
class _Kind:
    short: str        # sensor name prefix
    weight: float     # share of sensors
    sites: dict       # site category -> weight
    lo: float
    hi: float
    decimals: int
    anomalies: bool   # continuous, Gaussian-ish: anomalies are injected


_B = {"ecole": 3.0, "college": 1.0, "mairie": 2.0, "gymnase": 1.5, "mediatheque": 1.0,
      "piscine": 0.5}
_ROAD = {"street": 2.0, "crossroads": 2.0, "park": 1.0}
#: The kinds simulated (a subset of :data:`models.reading.KINDS`) and how.
SPECS: dict[str, _Kind] = {
    "electricity_kw": _Kind("elec", 3.0, _B, 0.0, 5000.0, 2, True),
    "water_lph": _Kind("water", 1.5, _B, 0.0, 1e5, 1, True),
    "temperature_c": _Kind("temp", 2.0, {**_B, "park": 2.0}, -40.0, 80.0, 2, True),
    "co2_ppm": _Kind("co2", 0.7, _B, 300.0, 10000.0, 0, True),
    "humidity_pct": _Kind("hum", 0.5, _B, 0.0, 100.0, 1, True),
    "light_on": _Kind("light", 1.5, {**_B, "street": 6.0}, 0.0, 1.0, 0, False),
    "lux": _Kind("lux", 0.6, {"street": 2.0, "park": 1.0}, 0.0, 2e5, 1, False),
    "noise_dba": _Kind("noise", 1.0, _ROAD, 20.0, 130.0, 1, True),
    "pm25_ugm3": _Kind("pm25", 0.7, _ROAD, 0.0, 1000.0, 1, True),
    "pm10_ugm3": _Kind("pm10", 0.5, _ROAD, 0.0, 1000.0, 1, True),
    "no2_ugm3": _Kind("no2", 0.7, _ROAD, 0.0, 1000.0, 1, True),
    "o3_ugm3": _Kind("o3", 0.4, {"park": 1.0}, 0.0, 1000.0, 1, True),
    "pollen_index": _Kind("pollen", 0.3, {"park": 1.0}, 0.0, 5.0, 0, False),
    "fill_pct": _Kind("fill", 1.5, {"waste": 1.0}, 0.0, 100.0, 1, True),
    "bike_count": _Kind("bikes", 0.7, {"cycleway": 1.0, "street": 1.0}, 0.0, 1e4, 0, False),
    "water_level_m": _Kind("level", 0.4, {"river": 1.0}, 0.0, 20.0, 3, True),
    "door_open": _Kind("door", 0.5, {"crossroads": 1.0}, 0.0, 1.0, 0, False),
    "voltage_v": _Kind("volt", 0.5, {"crossroads": 1.0}, 0.0, 400.0, 2, True),
    "cabinet_temperature_c": _Kind("cabtemp", 0.5, {"crossroads": 1.0}, -40.0, 90.0, 2,
                                   True),
}
DEFAULT_KINDS: list[str] = list(SPECS)
ANOMALY_KINDS = frozenset(k for k, s in SPECS.items() if s.anomalies)


# -- public types -------------------------------------------------------------------------


@dataclass(frozen=True)
class Anomaly:
    """Ground truth of one injected anomaly; ``start``/``end`` are event times (epoch s
    UTC) of its first and last affected reading. ``sigmas`` is its size at the start, in
    robust standard deviations of the sensor's last ``window`` clean values (0 for
    ``stuck`` and ``dropout``)."""

    sensor: str
    kind: str
    commune: str
    site: str
    type: str
    start: float
    end: float
    sigmas: float = 0.0

    def to_dict(self) -> dict:
        """Plain dict, with ``starts_at``/``ends_at`` in RFC 3339 besides epoch seconds."""
        return {**asdict(self), "starts_at": iso(self.start), "ends_at": iso(self.end)}


@dataclass
class Sensor:
    """One simulated sensor; ``id`` is ``commune/site/name``."""

    id: str
    kind: str
    unit: str
    commune: str
    site: str
    attrs: dict = field(default_factory=dict)


# -- helpers ------------------------------------------------------------------------------


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, x))))


def _bump(h: float, mu: float, sd: float) -> float:
    return math.exp(-0.5 * ((h - mu) / sd) ** 2)


def sun_elevation(t: float, lat: float = 49.1193, lon: float = 6.1757) -> float:
    """Solar elevation in degrees at epoch ``t`` (low-precision almanac, ~0.1 deg)."""
    d = t / 86400.0 - 10957.5
    g = math.radians(357.529 + 0.98560028 * d)
    q = 280.459 + 0.98564736 * d
    lam = math.radians(q + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    eps = math.radians(23.439 - 0.00000036 * d)
    ra = math.degrees(math.atan2(math.cos(eps) * math.sin(lam), math.cos(lam)))
    dec = math.asin(math.sin(eps) * math.sin(lam))
    gmst = (18.697374558 + 24.06570982441908 * d) % 24.0
    ha = math.radians(gmst * 15.0 + lon - ra)
    la = math.radians(lat)
    return math.degrees(math.asin(
        math.sin(la) * math.sin(dec) + math.cos(la) * math.cos(dec) * math.cos(ha)))


def _daylight_lux(el: float) -> float:
    if el >= 0:
        s = max(math.sin(math.radians(el)), 0.02)
        return 400.0 + 110000.0 * s * math.exp(-0.12 / s)
    return 400.0 * 10.0 ** (el / 2.0) if el > -9 else 0.0


def _traffic(h: float, off: bool) -> float:
    """Road traffic 0..~1.2: commute peaks on working days, a late hump on days off."""
    if off:
        return 0.08 + 0.55 * _sig((h - 9.5) / 0.8) * _sig((21.5 - h) / 1.0)
    day = _sig((h - 6.5) / 0.6) * _sig((20.5 - h) / 1.0)
    return 0.08 + 0.6 * day + 0.35 * _bump(h, 8.0, 1.0) + 0.3 * _bump(h, 17.5, 1.2)


def _cycling(h: float, off: bool) -> float:
    """Bike traffic relative to the morning peak."""
    if off:
        return 0.02 + 0.4 * _bump(h, 15.0, 2.5)
    return (0.02 + 0.12 * _sig((h - 7.0) / 0.5) * _sig((20.0 - h) / 0.8)
            + _bump(h, 8.0, 0.6) + 0.8 * _bump(h, 17.5, 0.9) + 0.25 * _bump(h, 12.5, 0.8))


def _oh(text: str, coords: tuple[float, float]) -> OpeningHours:
    return OpeningHours(text, timezone=TZ, country="FR", coords=coords, auto_country=False,
                        auto_timezone=False)


def _ar(dt_s: float, tau_s: float) -> float:
    return math.exp(-dt_s / tau_s)


# -- the city -----------------------------------------------------------------------------


class City:
    """A seeded, reproducible simulated city: sensors, readings and injected anomalies.

    Each call of :meth:`steps` / :meth:`readings` / :meth:`encoded_steps` continues
    where the previous one stopped (``steps(10)`` twice equals ``steps(20)``).

    Parameters
    ----------
    seed
        Everything (layout, noise, anomalies) derives from it.
    sensors_per_commune
        Sensors in each of the 24 communes.
    start
        Event time of the first step, epoch seconds; default :data:`DEFAULT_START`.
    step_s
        Reading period of every sensor, event time.
    anomaly_rate
        Probability that an eligible sensor (of a kind in :data:`ANOMALY_KINDS`, not
        already anomalous) starts an anomaly at a step.
    kinds
        Kinds to simulate (keys of :data:`SPECS`); default all of them.
    warmup_steps
        No anomaly starts during the first ``warmup_steps`` steps.
    anomaly_types
        Mix of anomaly types, ``{type: weight}``; default spikes 40 %, level shifts 30 %,
        stuck 15 %, drop-outs 15 %.
    sigmas
        Range of spike / level-shift sizes in robust sigmas of the last ``window`` clean
        values (the scale a robust rolling z-score sees).
    window
        Window, in steps, over which that robust sigma is taken (as
        :class:`models.robust_z.RobustZ`: median and IQR / 1.349).
    pattern_scale
        Multiplies the daily and weekly pattern amplitudes and the weather variability of
        the kinds in :data:`ANOMALY_KINDS` but ``fill_pct`` (1 = realistic, 0 = flat
        series around each sensor's daytime level), e.g. to isolate detector behaviour.
        A robust rolling z-score over 8 h fires at each morning ramp of a realistic
        building or road series; at 0 almost only on injected anomalies. Lights, lux,
        bikes, pollen and waste collections keep their patterns.
    with_attrs
        Readings carry their sensor's attributes (else ``{}``: the registry has them).
    """

    def __init__(
        self, seed: int = 42, sensors_per_commune: int = 10, start: float | None = None,
        step_s: float = 300.0, anomaly_rate: float = 0.002, kinds: list[str] | None = None,
        warmup_steps: int = 48, *, anomaly_types: dict[str, float] | None = None,
        sigmas: tuple[float, float] = (8.0, 15.0), window: int = 96,
        pattern_scale: float = 1.0, with_attrs: bool = False,
    ) -> None:
        kinds = list(DEFAULT_KINDS if kinds is None else kinds)
        bad = [k for k in kinds if k not in SPECS]
        if bad or not kinds:
            raise ValueError(f"unknown kinds {bad}; choose among {sorted(SPECS)}")
        mix = dict(_DEFAULT_MIX if anomaly_types is None else anomaly_types)
        if not mix or any(t not in ANOMALY_TYPES or w < 0 for t, w in mix.items()) or \
                sum(mix.values()) <= 0:
            raise ValueError(f"anomaly_types: weights >= 0 over {ANOMALY_TYPES}")
        if sensors_per_commune < 1 or step_s <= 0 or not 0 <= anomaly_rate <= 1:
            raise ValueError("need sensors_per_commune >= 1, step_s > 0, 0 <= anomaly_rate <= 1")
        self.seed = seed
        self.step_s = float(step_s)
        self.start = DEFAULT_START if start is None else float(start)
        self.anomaly_rate = float(anomaly_rate)
        self.warmup_steps = int(warmup_steps)
        self.sigmas = (float(sigmas[0]), float(sigmas[1]))
        self.window = int(window)
        self.pattern_scale = float(pattern_scale)
        self.kinds = kinds
        self._types = list(mix)
        w = np.array([mix[t] for t in self._types], float)
        self._type_p = w / w.sum()
        self.sensors: list[Sensor] = []
        self._layout(sensors_per_commune, with_attrs)
        self._setup_dynamics()
        self._anoms: list[Anomaly] = []
        self._k = 0  # next step index

    # -- layout -------------------------------------------------------------------------

    def _layout(self, n: int, with_attrs: bool) -> None:
        kinds = self.kinds
        kw = np.array([SPECS[k].weight for k in kinds])
        kw = kw / kw.sum()
        cols: dict[str, list] = {k: [] for k in ("kind", "cat", "com", "u1", "u2", "u3")}
        for ci, com in enumerate(COMMUNES):
            rng = np.random.default_rng([self.seed, 0, ci])
            if n >= len(kinds):
                first = [kinds[j] for j in rng.permutation(len(kinds))]
            else:  # rotate so that the whole city covers every kind
                first = [kinds[(ci * n + j) % len(kinds)] for j in range(n)]
            chosen = first + [kinds[j] for j in rng.choice(len(kinds), n - len(first), p=kw)]
            sites: dict[str, list[str]] = {}
            names = {c: self._names(com, c, rng) for c in _GENERIC}
            count: dict[tuple[str, str], int] = {}
            for kind in chosen:
                spec = SPECS[kind]
                cats = list(spec.sites)
                cw = np.array([spec.sites[c] for c in cats])
                cat = cats[rng.choice(len(cats), p=cw / cw.sum())]
                have = sites.setdefault(cat, [])
                if not have or rng.random() < 0.35:
                    have.append(next(names[cat]))
                    site = have[-1]
                else:
                    site = have[rng.integers(len(have))]
                count[(site, spec.short)] = c = count.get((site, spec.short), 0) + 1
                u = rng.random(3)
                self.sensors.append(Sensor(
                    id=f"{com}/{site}/{spec.short}-{c}", kind=kind, unit=KINDS[kind],
                    commune=com, site=site, attrs={}))
                for key, val in zip(cols, (kind, cat, ci, *u), strict=True):
                    cols[key].append(val)
        self._cols = {k: np.array(v) for k, v in cols.items()}
        for s, cat, u1 in zip(self.sensors, cols["cat"], cols["u1"], strict=True):
            s.attrs = self._attrs(s, cat, u1)
        self._static = [(s.id, s.kind, s.unit, s.commune, s.site) for s in self.sensors]
        enc = msgspec.json.Encoder()
        # Kafka key = the state subject (commune/site, or the sensor without a site): a
        # site's sensors share a partition, as ``--placement partition`` requires
        self._key = [(f"{s.commune}/{s.site}" if s.site else s.id).encode()
                     for s in self.sensors]
        self._pre = [b'{"sensor":' + enc.encode(s.id) + b',"ts":"' for s in self.sensors]
        self._suf = [
            b',"kind":' + enc.encode(s.kind) + b',"unit":' + enc.encode(s.unit)
            + b',"commune":' + enc.encode(s.commune) + b',"site":' + enc.encode(s.site)
            + b',"attrs":' + (enc.encode(s.attrs) if with_attrs else b"{}") + b"}"
            for s in self.sensors
        ]
        self._attrs_of = [s.attrs if with_attrs else None for s in self.sensors]
        self._with_attrs = with_attrs

    @staticmethod
    def _names(com: str, cat: str, rng: np.random.Generator) -> Iterator[str]:
        local = _LOCAL.get(com, {}).get(cat, [])
        pool = [_GENERIC[cat][j] for j in rng.permutation(len(_GENERIC[cat]))]
        base = local + [p for p in pool if p not in local]
        yield from base
        i = 2
        while True:
            for b in base:
                yield f"{b}-{i}"
            i += 1

    @staticmethod
    def _attrs(s: Sensor, cat: str, u: float) -> dict:
        lat, lon = COORDS[s.commune]
        a: dict = {"coords": [lat, lon]}
        if cat in SCHEDULES:
            a["opening_hours"] = SCHEDULES[cat]
        if s.kind == "light_on":
            if cat == "street":
                a["opening_hours"] = STREET_LIGHTS
                a["nominal_power_kw"] = round(0.05 + 0.1 * float(u), 3)
            else:
                a["nominal_power_kw"] = round(0.4 + 2.0 * float(u), 2)
        elif s.kind == "electricity_kw":
            a["nominal_power_kw"] = float(round(_nominal(cat, float(u)) * 1.6))
        elif s.kind == "fill_pct":
            a["capacity_l"] = 4000 if u < 0.5 else 3000
            a["stream"] = "verre" if u < 0.5 else "papier"
        elif s.kind == "water_level_m":
            base = float(_river_base(float(u)))
            a["river"] = s.site.split("-")[0]
            a["alert_level_m"] = round(base + 1.5, 2)
            a["danger_level_m"] = round(base + 2.5, 2)
        elif cat == "crossroads" and s.kind in ("door_open", "voltage_v",
                                                 "cabinet_temperature_c"):
            a["maintenance"] = MAINTENANCE
        return a

    # -- dynamics -------------------------------------------------------------------------

    def _setup_dynamics(self) -> None:
        c = self._cols
        S = len(self.sensors)
        self._rng = np.random.default_rng([self.seed, 1])
        rng = self._rng
        self._groups = {k: np.flatnonzero(c["kind"] == k) for k in self.kinds}
        self._groups = {k: v for k, v in self._groups.items() if len(v)}
        cat = c["cat"]
        sched = np.array([_BUILDINGS.index(x) if x in SCHEDULES else -1 for x in cat])
        self._sched = sched
        self._com = c["com"].astype(int)
        self._u1, self._u2, self._u3 = c["u1"], c["u2"], c["u3"]
        self._lo = np.array([SPECS[k].lo for k in c["kind"]])
        self._hi = np.array([SPECS[k].hi for k in c["kind"]])
        self._mult = 10.0 ** np.array([SPECS[k].decimals for k in c["kind"]])
        self._eligible = np.array([k in ANOMALY_KINDS for k in c["kind"]], bool)
        self._sigma = np.zeros(S)  # measurement noise, filled per kind
        self._oh = [_oh(SCHEDULES[b], COORDS["metz"]) for b in _BUILDINGS]
        self._ph = _oh("PH", COORDS["metz"])
        self._lights = [_oh(STREET_LIGHTS, xy) for xy in _COORDS]
        # slow states: building occupancy (fast and slow), weather, per-sensor
        self._occ = None
        self._occ_slow = None
        self._w_temp = rng.normal(0, 3.0)           # regional temperature anomaly, C
        self._w_pol = rng.normal(0, 0.35)           # log pollution factor
        self._w_cloud = rng.normal(0, 1.0)          # latent cloudiness
        self._com_off = np.random.default_rng([self.seed, 2]).normal(0, 0.4, len(COMMUNES))
        self._river = rng.normal(0, 0.08, S)        # per-sensor OU, m
        # waste fill (%), as accumulated since the sensor's last weekly collection
        since = (datetime.fromtimestamp(self.start, TZ).weekday() - (self._u1 * 5).astype(int)
                 - 1) % 7 + self._u3
        self._fill = 4.0 + _FILL_DAY * (0.5 + 0.8 * self._u2) * since
        self._door = np.zeros(S, int)               # steps left in a maintenance visit
        self._cab = None                            # cabinet temperature, lagged
        self._buf = np.zeros((S, max(self.window, 4)))
        self._last = np.full(S, np.nan)
        self._a_type = np.full(S, -1, int)          # active anomaly type index or -1
        self._a_end = np.zeros(S, int)
        self._a_delta = np.zeros(S)
        self._a_stuck = np.zeros(S)
        self._nom = np.array([_nominal(x, u) for x, u in zip(cat, self._u1, strict=True)])
        sig = self._sigma
        for kind, idx in self._groups.items():
            u1 = self._u1[idx]
            sig[idx] = {
                "electricity_kw": 0.2 + 0.035 * self._nom[idx],
                "water_lph": 3.0 + 8.0 * u1,
                "temperature_c": np.where(sched[idx] >= 0, 0.15, 0.3),
                "co2_ppm": 20.0 + 0 * u1,
                "humidity_pct": 1.0 + 0 * u1,
                "lux": 0 * u1,
                "noise_dba": 1.5 + 0.5 * u1,
                "pm25_ugm3": 1.2 + 0 * u1,
                "pm10_ugm3": 2.0 + 0 * u1,
                "no2_ugm3": 2.5 + 0 * u1,
                "o3_ugm3": 3.0 + 0 * u1,
                "fill_pct": 2.0 + 1.0 * u1,
                "water_level_m": 0.012 + 0.008 * u1,
                "voltage_v": 0.7 + 0 * u1,
                "cabinet_temperature_c": 0.4 + 0 * u1,
            }.get(kind, 0 * u1)

    def _context(self, t: float) -> dict:
        dt = datetime.fromtimestamp(t, TZ)
        du = datetime.fromtimestamp(t, _UTC)
        h = dt.hour + dt.minute / 60.0 + dt.second / 3600.0
        ph = self._ph.is_open(du)
        off = dt.weekday() >= 5 or ph
        doy = dt.timetuple().tm_yday
        season = math.cos(2 * math.pi * (doy - 200) / 365.25)  # +1 mid-July, -1 mid-Jan
        opened = np.array([o.is_open(du) for o in self._oh], float)
        lit = np.array([o.is_open(du) for o in self._lights], float)
        dt_s = self.step_s
        if self._occ is None:
            self._occ = opened.copy()
            self._occ_slow = opened.copy()
        else:
            a, b = _ar(dt_s, 1800.0), _ar(dt_s, 5400.0)
            self._occ = a * self._occ + (1 - a) * opened
            self._occ_slow = b * self._occ_slow + (1 - b) * opened
        rng = self._rng
        g = rng.standard_normal(3)
        for name, tau, sd, z in (("_w_temp", 2 * 86400, 3.0, g[0]),
                                 ("_w_pol", 86400, 0.35, g[1]),
                                 ("_w_cloud", 43200, 1.0, g[2])):
            a = _ar(dt_s, tau)
            setattr(self, name, a * getattr(self, name) + math.sqrt(1 - a * a) * sd * z)
        ps = self.pattern_scale
        t_season = 11.0 + 9.0 * season
        t_out = (t_season + ps * (4.5 + 2 * season) * math.cos(2 * math.pi * (h - 15) / 24)
                 + ps * (self._w_temp + self._com_off))
        el = sun_elevation(t)
        return {
            "h": h, "dow": dt.weekday(), "off": off, "doy": doy, "season": season, "opened": opened,
            "lit": lit, "t_out": t_out, "t_season": t_season, "el": el,
            "sun": max(0.0, math.sin(math.radians(el))),
            "cloud": 0.5 + ps * (_sig(self._w_cloud) - 0.5), "pol": math.exp(ps * self._w_pol),
            "traffic": _traffic(h, off), "cycling": _cycling(h, off),
            "heat": max(0.0, min(1.0, (16.0 - t_season) / 6.0)),
        }

    def _clean(self, ctx: dict) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free values of every sensor at this step, and the standard normal draws
        that, times each sensor's noise sigma, make its measurement noise."""
        S = len(self.sensors)
        rng = self._rng
        z = rng.standard_normal(S)
        v = np.zeros(S)
        ps = self.pattern_scale
        sched, com, u1, u2 = self._sched, self._com, self._u1, self._u2
        occ = self._occ
        for kind, idx in self._groups.items():
            sc = np.maximum(sched[idx], 0)
            o = 1.0 - ps * (1.0 - occ[sc])  # occupancy, flattened towards 1 by ps
            tr = 1.0 + ps * (ctx["traffic"] - 1.0)
            if kind == "electricity_kw":
                nom = self._nom[idx]
                night = np.where(sched[idx] == _BUILDINGS.index("piscine"), 0.6,
                                 0.2 + 0.15 * u2[idx])
                v[idx] = nom * (night + (1 - night) * o) * (1 + 0.25 * ctx["heat"])
            elif kind == "water_lph":
                v[idx] = (20 + 280 * u1[idx]) * (0.05 + 0.95 * o)
            elif kind == "temperature_c":
                inside = sched[idx] >= 0
                os_ = 1.0 - ps * (1.0 - self._occ_slow[sc])
                heat = ctx["heat"]
                target = (heat * (16.5 + 3.5 * os_)
                          + (1 - heat) * (21.0 + 0.35 * (ctx["t_out"][com[idx]] - 20)
                                          + os_))
                v[idx] = np.where(inside, target + 1.4 * (u2[idx] - 0.5),
                                  ctx["t_out"][com[idx]])
            elif kind == "co2_ppm":
                v[idx] = 420 + (350 + 600 * u1[idx]) * (1 - ps * (1 - self._occ_slow[sc] ** 1.5))
            elif kind == "humidity_pct":
                v[idx] = 42 + 6 * u2[idx] + 5 * ps * self._occ_slow[sc] + \
                    3 * (ctx["cloud"] - 0.5)
            elif kind == "light_on":
                street = sched[idx] < 0
                v[idx] = np.where(street, ctx["lit"][com[idx]], ctx["opened"][sc])
            elif kind == "lux":
                day = _daylight_lux(ctx["el"]) * (1.0 - 0.75 * ctx["cloud"])
                street = (2 + 18 * u2[idx]) * ctx["lit"][com[idx]]
                base = day + street
                self._sigma[idx] = 0.05 * base + 0.3
                v[idx] = base
            elif kind == "noise_dba":
                v[idx] = (38 + 7 * u1[idx]) + (18 + 10 * u2[idx]) * tr
            elif kind in ("pm25_ugm3", "pm10_ugm3"):
                wood = 6.0 * ctx["heat"] * _bump(ctx["h"], 20.0, 2.5) * ps
                pm = ((4 + 4 * u2[idx]) * ctx["pol"] + 3.0 * tr + wood)
                v[idx] = pm if kind == "pm25_ugm3" else 1.6 * pm + 2.0
            elif kind == "no2_ugm3":
                v[idx] = 8 + (20 + 25 * u2[idx]) * tr * ctx["pol"]
            elif kind == "o3_ugm3":
                v[idx] = (20 + 10 * u2[idx] + (40 + 30 * ctx["season"]) * ctx["sun"] * ps
                          * (1 - 0.6 * ctx["cloud"]) - 6 * tr)
            elif kind == "pollen_index":
                d = ctx["doy"]
                lvl = 4.5 * max(_bump(d, 95, 15), _bump(d, 160, 25)) * (
                    0.6 + 0.4 * _bump(ctx["h"], 14, 4)) * (1 - 0.5 * ctx["cloud"])
                v[idx] = np.clip(np.rint(lvl * (0.8 + 0.4 * u2[idx])
                                         + 0.3 * min(1.0, lvl) * z[idx]), 0, 5)
            elif kind == "fill_pct":
                h = ctx["h"]
                act = _bump(h, 14.0, 3.5) * (1.3 if ctx["off"] else 1.0)  # deposits, by day
                rate = (0.5 + 0.8 * u2[idx]) * act * self.step_s / 3600.0
                f = self._fill[idx] + rate * (0.5 + rng.random(len(idx)))
                # collection once a week on the sensor's day, 06:00-06:59 local
                coll = (ctx["dow"] == (u1[idx] * 5).astype(int)) & (6.0 <= h) & \
                    (h < 6.0 + self.step_s / 3600.0)
                f = np.where(coll, 2.0 + 4.0 * u2[idx], np.minimum(f, 100.0))
                self._fill[idx] = f
                v[idx] = f
            elif kind == "bike_count":
                lam = (20 + 180 * u1[idx]) * (1 + ps * (ctx["cycling"] - 1)) * (
                    0.75 + 0.25 * ctx["season"]) * (1 - 0.4 * ctx["cloud"]) * (
                    self.step_s / 3600.0)
                v[idx] = rng.poisson(np.maximum(lam, 0.0))
            elif kind == "water_level_m":
                a = _ar(self.step_s, 3 * 86400)
                self._river[idx] = a * self._river[idx] + math.sqrt(1 - a * a) * 0.08 * \
                    rng.standard_normal(len(idx))
                v[idx] = _river_base(u1[idx]) + 0.25 * (-ctx["season"]) + self._river[idx]
            elif kind == "door_open":
                d = self._door[idx]
                work = (not ctx["off"]) and 8.0 <= ctx["h"] < 17.0
                p = self.step_s / (30 * 9 * 3600.0) if work else 0.0
                new = (d == 0) & (rng.random(len(idx)) < p)
                d = np.where(new, rng.integers(2, 10, len(idx)), np.maximum(d - 1, 0))
                self._door[idx] = d
                v[idx] = (d > 0).astype(float)
            elif kind == "voltage_v":
                load = ps * (0.5 * _bump(ctx["h"], 19.5, 2.0) + 0.3 * _bump(ctx["h"], 8, 1.5))
                v[idx] = 230.0 + 3.0 * (u1[idx] - 0.5) - 3.0 * load
            elif kind == "cabinet_temperature_c":
                target = ctx["t_out"][com[idx]] + 5 + 3 * u2[idx] + 10 * ctx["sun"] * (
                    1 - ctx["cloud"]) * ps
                if self._cab is None:
                    self._cab = np.zeros(S)
                    self._cab[idx] = target
                a = _ar(self.step_s, 3600.0)
                self._cab[idx] = a * self._cab[idx] + (1 - a) * target
                v[idx] = self._cab[idx]
        return v, z

    # -- steps --------------------------------------------------------------------------

    def _step(self) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Advance one step: (ts, values rounded, present mask or None if all present)."""
        k = self._k
        t = self.start + k * self.step_s
        ctx = self._context(t)
        v, z = self._clean(ctx)
        clean = np.clip(v + self._sigma * z, self._lo, self._hi)
        # anomalies: draw for every sensor every step, so the stream stays reproducible
        u = self._rng.random(len(clean))
        at = self._a_type
        if k >= self.warmup_steps and self.anomaly_rate > 0:
            for i in np.flatnonzero((u < self.anomaly_rate) & self._eligible & (at < 0)):
                self._start_anomaly(int(i), k, t, clean)
        vals = clean.copy()
        present = None
        if (at >= 0).any():
            shift = (at == 0) | (at == 1)
            vals[shift] = np.clip(clean[shift] + self._a_delta[shift], self._lo[shift],
                                  self._hi[shift])
            st = at == 2
            vals[st] = self._a_stuck[st]
            drop = at == 3
            if drop.any():
                present = ~drop
            done = (at >= 0) & (self._a_end <= k)
            at[done] = -1
        vals = np.rint(vals * self._mult) / self._mult
        if present is None:
            self._last = vals
        else:
            self._last = np.where(present, vals, self._last)
        self._buf[:, k % self._buf.shape[1]] = clean
        self._k = k + 1
        return t, vals, present

    def _start_anomaly(self, i: int, k: int, t: float, clean: np.ndarray) -> None:
        rng = self._rng
        ti = int(rng.choice(len(self._types), p=self._type_p))
        typ = self._types[ti]
        lo_d, hi_d = _DURATION[typ]
        dur = int(rng.integers(lo_d, hi_d + 1))
        size = float(rng.uniform(*self.sigmas))
        up = bool(rng.random() < 0.5)
        sig = 0.0
        if typ in ("spike", "level_shift"):
            n = min(k, self._buf.shape[1], self.window)
            w = np.sort(self._buf[i, :n]) if n == self._buf.shape[1] else np.sort(
                self._buf[i, [(k - 1 - j) % self._buf.shape[1] for j in range(n)]])
            med = w[n // 2] if n % 2 else 0.5 * (w[n // 2 - 1] + w[n // 2])
            scale = max((w[(3 * n) // 4] - w[n // 4]) / 1.349, 0.01 * abs(med),
                        1.0 / self._mult[i], 1e-6)
            lo, hi = self._lo[i], self._hi[i]
            ok = [s for s in ((1, -1) if up else (-1, 1)) if lo <= med + s * size * scale <= hi]
            if not ok:
                return
            target = med + ok[0] * size * scale
            self._a_delta[i] = target - clean[i]
            sig = size
        elif typ == "stuck":
            if not np.isfinite(self._last[i]):
                return
            self._a_stuck[i] = self._last[i]
        self._a_type[i] = ANOMALY_TYPES.index(typ)
        self._a_end[i] = k + dur - 1
        s = self.sensors[i]
        self._anoms.append(Anomaly(s.id, s.kind, s.commune, s.site, typ, t,
                                   t + (dur - 1) * self.step_s, round(sig, 3)))

    def steps(self, n: int) -> Iterator[list[Reading]]:
        """The next ``n`` time steps, each a list of one :class:`Reading` per sensor
        (minus sensors in a drop-out)."""
        R = Reading
        static = self._static
        attrs = self._attrs_of
        for _ in range(n):
            t, vals, present = self._step()
            vl = vals.tolist()
            if self._with_attrs:
                rows = zip(static, vl, attrs, strict=True)
                if present is not None:
                    rows = compress(rows, present.tolist())
                yield [R(s, t, x, k, u, c, si, a) for (s, k, u, c, si), x, a in rows]
            else:
                rows = zip(static, vl, strict=True)
                if present is not None:
                    rows = compress(rows, present.tolist())
                yield [R(s, t, x, k, u, c, si) for (s, k, u, c, si), x in rows]

    def readings(self, n: int, limit: int | None = None) -> Iterator[Reading]:
        """The readings of the next ``n`` time steps, flat (at most ``limit`` of them;
        the step holding the last one is then consumed whole)."""
        left = math.inf if limit is None else limit
        for batch in self.steps(n):
            if left <= len(batch):
                yield from batch[: int(left)]
                return
            left -= len(batch)
            yield from batch

    def encoded_steps(self, n: int) -> Iterator[list[tuple[bytes, bytes]]]:
        """The next ``n`` steps as ``(key, value)`` Kafka messages: key = the reading's
        subject (``commune/site``, or the sensor id without a site, as
        :attr:`models.reading.Reading.subject`), value = the native JSON reading contract
        (``ts`` RFC 3339 UTC ``Z``)."""
        enc = msgspec.json.Encoder()
        pre, suf, key = self._pre, self._suf, self._key
        for _ in range(n):
            t, vals, present = self._step()
            mid = iso(t).encode() + b'","value":'
            vb = enc.encode(vals.tolist())[1:-1].split(b",")
            rows = zip(key, pre, vb, suf, strict=True)
            if present is not None:
                rows = compress(rows, present.tolist())
            yield [(k, p + mid + x + s) for k, p, x, s in rows]

    # -- ground truth and registry --------------------------------------------------------

    @property
    def now(self) -> float:
        """Event time of the last generated step (``start - step_s`` before any)."""
        return self.start + (self._k - 1) * self.step_s

    @property
    def anomalies(self) -> list[Anomaly]:
        """Ground truth of the anomalies generated so far (an ongoing one ends now)."""
        now = self.now
        return [a if a.end <= now else replace(a, end=now) for a in self._anoms]

    def registry_rows(self) -> list[dict]:
        """One row per sensor for a sensor registry."""
        return [{"sensor": s.id, "commune": s.commune, "site": s.site, "kind": s.kind,
                 "unit": s.unit, "attrs": s.attrs} for s in self.sensors]

    def write_truth(self, path: str | Path) -> None:
        """Write :attr:`anomalies` as JSON lines."""
        with open(path, "w", encoding="utf-8") as f:
            for a in self.anomalies:
                f.write(json.dumps(a.to_dict()) + "\n")


def _nominal(cat: str, u: float) -> float:
    """Typical daytime power of a building, kW."""
    lo, hi = {"ecole": (15, 60), "college": (60, 180), "mairie": (20, 120),
              "gymnase": (20, 70), "mediatheque": (10, 40), "piscine": (150, 400)}.get(
        cat, (10, 50))
    return lo + (hi - lo) * u


#: Daily integral of the deposit activity profile, hours (fill rate per day per unit).
_FILL_DAY = 3.5 * math.sqrt(2 * math.pi)


def _river_base(u):
    return 0.8 + 2.2 * u


# -- scoring ------------------------------------------------------------------------------


def _ts(x: object) -> float:
    if isinstance(x, int | float):
        return float(x)
    return datetime.fromisoformat(str(x)).timestamp()


def score(alerts: Iterable[dict], truth: list[Anomaly], slack_s: float,
          types: Iterable[str] | None = None) -> dict:
    """Compare alerts with the ground truth.

    An alert (contract dict: ``sensor``, ``starts_at``, ``status``) matches an anomaly of
    its sensor (of its site when the alert has no sensor) when its ``starts_at`` lies
    within ``[start - slack_s, end + slack_s]``. Only ``firing`` events count, once per
    alert ``id``. An anomaly is caught when at least one alert matches it; an alert is
    false when it matches none. ``types`` restricts the anomalies counted (recall) to
    those types; alerts matching another type are still not false. Recall and precision
    are 1.0 when their denominator is 0.

    Examples
    --------
    >>> a = Anomaly("metz/mairie/elec-1", "electricity_kw", "metz", "mairie", "spike",
    ...             1000.0, 1000.0)
    >>> r = score([{"sensor": a.sensor, "starts_at": "1970-01-01T00:16:40Z",
    ...             "status": "firing", "id": "x"}], [a], slack_s=300)
    >>> r["caught"], r["false_alerts"], r["precision"]
    (1, 0, 1.0)
    """
    keep = None if types is None else set(types)
    by_sensor: dict[str, list[int]] = {}
    by_site: dict[tuple[str, str], list[int]] = {}
    for j, a in enumerate(truth):
        by_sensor.setdefault(a.sensor, []).append(j)
        by_site.setdefault((a.commune, a.site), []).append(j)
    caught = [False] * len(truth)
    seen: set = set()
    n_alerts = false = 0
    for al in alerts:
        if al.get("status", "firing") != "firing":
            continue
        ident = al.get("id") or (al.get("rule"), al.get("sensor"), al.get("starts_at"))
        if ident in seen:
            continue
        seen.add(ident)
        n_alerts += 1
        t = _ts(al["starts_at"])
        sensor = al.get("sensor")
        cands = by_sensor.get(sensor, []) if sensor else by_site.get(
            (al.get("commune", ""), al.get("site", "")), [])
        hit = False
        for j in cands:
            a = truth[j]
            if a.start - slack_s <= t <= a.end + slack_s:
                caught[j] = hit = True
        false += not hit
    counted = [j for j, a in enumerate(truth) if keep is None or a.type in keep]
    c = sum(caught[j] for j in counted)
    n = len(counted)
    by_type: dict[str, dict[str, int]] = {}
    for j in counted:
        d = by_type.setdefault(truth[j].type, {"anomalies": 0, "caught": 0})
        d["anomalies"] += 1
        d["caught"] += caught[j]
    return {
        "anomalies": n, "caught": c, "missed": n - c, "alerts": n_alerts,
        "false_alerts": false, "recall": c / n if n else 1.0,
        "precision": (n_alerts - false) / n_alerts if n_alerts else 1.0,
        "by_type": by_type,
    }

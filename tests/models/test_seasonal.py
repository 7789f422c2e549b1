import pickle
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from models.base import ParamError
from models.seasonal import Seasonal, slot_of_hour

PARIS = ZoneInfo("Europe/Paris")


def office(ts: np.ndarray, seed: int = 0) -> np.ndarray:
    """10 kW in opening hours (Mon-Fri 08-18 Paris time), 1 kW otherwise, some noise."""
    rng = np.random.default_rng(seed)
    out = []
    for t in ts.tolist():
        lt = datetime.fromtimestamp(t, PARIS)
        on = lt.weekday() < 5 and 8 <= lt.hour < 18
        out.append((10.0 if on else 1.0) + rng.normal(0, 0.2))
    return np.array(out)


def epoch(*args) -> float:
    return datetime(*args, tzinfo=PARIS).timestamp()


@pytest.fixture(scope="module")
def trained():
    ts = epoch(2027, 1, 4) + 3600.0 * np.arange(24 * 7 * 4)  # four weeks, hourly
    xs = office(ts)
    dets = {p: Seasonal(period=p) for p in ("day", "week")}
    for d in dets.values():
        d.update_many(xs, ts)
    return dets


def test_night_consumption_is_a_seasonal_deviation(trained):
    d = trained["week"]
    tue_3am, tue_10am = epoch(2027, 2, 2, 3, 30), epoch(2027, 2, 2, 10, 30)
    assert d.score_one(10.0, tue_3am) > 20  # lights on at night
    assert d.score_one(10.0, tue_10am) < 3  # the same value by day is normal
    assert d.expected(tue_3am) == pytest.approx(1.0, abs=0.3)


def test_week_profile_knows_weekends(trained):
    sat_10am = epoch(2027, 2, 6, 10, 30)
    week, day = trained["week"].score_one(10.0, sat_10am), trained["day"].score_one(10.0, sat_10am)
    assert week > 20 and week > 5 * day


def test_week_falls_back_to_day_profile_for_unseen_slots():
    d = Seasonal(period="week", min_samples=24)
    ts = epoch(2027, 1, 4) + 3600.0 * np.arange(24 * 3)  # Mon-Wed only
    d.update_many(office(ts), ts)
    sun_3am = epoch(2027, 1, 10, 3, 0)
    assert d.expected(sun_3am) == pytest.approx(1.0, abs=0.3)  # from the hour-of-day slot
    assert d.score_one(10.0, sun_3am) > 20


def test_local_time_and_dst():
    # 2027-03-28: clocks go from 02:00 CET to 03:00 CEST (01:00 UTC)
    utc = ZoneInfo("UTC")
    before = int(datetime(2027, 3, 28, 0, 30, tzinfo=utc).timestamp()) // 3600
    after = int(datetime(2027, 3, 28, 1, 30, tzinfo=utc).timestamp()) // 3600
    assert slot_of_hour(before, "Europe/Paris")[0] == 1
    assert slot_of_hour(after, "Europe/Paris")[0] == 3
    jan, jul = epoch(2027, 1, 15, 9, 0), epoch(2027, 7, 15, 9, 0)  # both 09:00 local
    assert slot_of_hour(int(jan // 3600), "Europe/Paris")[0] == 9
    assert slot_of_hour(int(jul // 3600), "Europe/Paris")[0] == 9
    assert slot_of_hour(int(jan // 3600), "UTC")[0] == 8


def test_public_holidays_are_sundays(trained):
    d = trained["week"]  # learnt Jan 4 - Jan 31: Sundays are 1 kW all day
    ascension, thursday = epoch(2027, 5, 6, 10, 30), epoch(2027, 5, 13, 10, 30)
    assert d.expected(ascension) == pytest.approx(1.0, abs=0.3)  # a holiday: Sunday profile
    assert d.expected(thursday) == pytest.approx(10.0, abs=0.3)
    assert d.score_one(10.0, ascension) > 20  # lights on on a holiday
    hour = int(ascension // 3600)
    assert slot_of_hour(hour, "Europe/Paris", "FR")[1] == 6 * 24 + 10
    assert slot_of_hour(hour, "Europe/Paris")[1] == 3 * 24 + 10  # no calendar: a Thursday


def test_moselle_has_its_own_holidays():
    boxing_day = int(epoch(2028, 12, 26, 10, 0) // 3600)  # a Tuesday
    assert slot_of_hour(boxing_day, "Europe/Paris", "FR")[1] == 1 * 24 + 10
    assert slot_of_hour(boxing_day, "Europe/Paris", "FR", "57")[1] == 6 * 24 + 10


def test_bad_calendar_params():
    with pytest.raises(ParamError, match="country"):
        Seasonal(country="XX")
    with pytest.raises(ParamError, match="subdiv"):
        Seasonal(country=None, subdiv="57")


def test_week_slots_are_allocated_a_day_at_a_time():
    ts = epoch(2027, 1, 6) + 600.0 * np.arange(6 * 24 * 9)  # from a Wednesday, 9 days
    xs = office(ts, seed=3).tolist()
    tl = ts.tolist()
    d = Seasonal(period="week", min_samples=24)
    wed, thu = 6 * 24, 6 * 24 * 2  # readings up to the end of Wednesday, of Thursday
    assert slot_of_hour(int(tl[0]) // 3600, "Europe/Paris", "FR")[1] // 24 == 2
    for x, t in zip(xs[:wed], tl[:wed], strict=True):
        d.update(x, t)
    # Wednesday only: the hour-of-day slots and Wednesday's
    assert len(d._cnt) == 48 and d._days == bytes([0, 0, 1, 0, 0, 0, 0])
    assert len(pickle.dumps(d, protocol=5)) < 48 * 17 + 300
    for x, t in zip(xs[wed:thu], tl[wed:thu], strict=True):
        d.update(x, t)
    e = pickle.loads(pickle.dumps(d))  # a pickled twin allocates the next days identically
    assert e._days == d._days == bytes([0, 0, 1, 2, 0, 0, 0])
    rest = list(zip(xs[thu:], tl[thu:], strict=True))
    assert [e.update(x, t) for x, t in rest] == [d.update(x, t) for x, t in rest]
    assert e._days == d._days == bytes([6, 7, 1, 2, 3, 4, 5]) and len(e._mv) == 2 * (24 + 168)
    assert len(pickle.dumps(e, protocol=5)) < 192 * 17 + 300
    # (scores equal to those of the reference implementation: tests/models/test_fast_paths)


def test_old_state_versions_are_refused():
    d = Seasonal(period="week")
    state = d.__getstate__()
    assert state[0] == Seasonal.version == 4
    with pytest.raises(ValueError, match="Seasonal: state version 3 != 4"):
        Seasonal().__setstate__((3, *state[1:]))


def test_counts_are_dropped_once_all_at_their_cap():
    ts = epoch(2027, 1, 6) + 600.0 * np.arange(6 * 24 * 3)  # 3 days, 10-minute steps
    xs = office(ts, seed=4)
    a, w = Seasonal(period="day"), Seasonal(period="week")
    ref = {p: RefSeasonal(period=p) for p in ("day", "week")}
    got = {"day": [], "week": []}
    for i, (x, t) in enumerate(zip(xs.tolist(), ts.tolist(), strict=True)):
        got["day"].append(a.update(x, t))
        got["week"].append(w.update(x, t))
        if i == 6 * 24 * 2 - 1:  # two days: 12 values a slot, the caps (10) reached
            assert a._cnt is None and len(pickle.dumps(a, protocol=5)) < 48 * 8 + 200
            assert list(w._cnt[:24]) == [w._cap] * 24 and max(w._cnt[24:]) == 6
            assert pickle.loads(pickle.dumps(a))._cnt is None
    assert w._cnt is not None and len(w._mv) == 2 * 24 * 4  # Wed, Thu, Fri: not at cap
    pairs = list(zip(xs.tolist(), ts.tolist(), strict=True))
    for p in ("day", "week"):  # the same scores as counting for ever
        assert got[p] == [ref[p].update(x, t) for x, t in pairs]
    full = Seasonal(period="week", alpha=0.5, min_per_slot=2)  # cap 2
    for t in (epoch(2027, 1, 6, h) for h in range(24)):
        full.update(1.0, t)
        full.update(2.0, t)
    assert full._cnt is None  # every slot seen so far (Wednesday) at its cap...
    full.update(3.0, epoch(2027, 1, 7, 5))  # ...until a new day: counts again
    assert list(full._cnt[:48]) == [2] * 48 and full._cnt[48 + 5] == 1


class RefSeasonal:
    """Counts kept for ever (never dropped): what a profile scores without the cap."""

    def __init__(self, **kw) -> None:
        self.d = Seasonal(**kw, min_samples=72)
        self.d._cap = 1 << 30  # (the cap is transient: never reached here)

    def update(self, x: float, t: float) -> float:
        return self.d.update(x, t)

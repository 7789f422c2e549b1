"""Shard alignment end to end: on input keyed by subject, 2 workers exchange nothing."""

from __future__ import annotations

import itertools

import pytest
from prometheus_client import REGISTRY

from flows import topics as tp
from flows.city import build_flow
from flows.config import Config
from flows.runner import run
from flows.sim import City
from rules.alert import decode
from tests.integration.conftest import read_all

pytestmark = pytest.mark.integration


def _exchanged() -> float:
    return REGISTRY.get_sample_value("sentinelle_exchanged_readings_total") or 0.0


def _run(broker, readings: str, workers: int) -> tuple[set, float]:
    """Alerts (id, status) and readings exchanged between workers, for one run."""
    out = f"{readings}-al-{workers}"
    broker.create_topics([out, out + "-dlq"])
    cfg = Config(bootstrap=broker.bootstrap, inputs=((readings, "json"),), alerts_topic=out,
                 dlq_topic=out + "-dlq", tail=False)
    before = _exchanged()
    run(build_flow(cfg), workers=workers)
    msgs = read_all(broker.bootstrap, out)
    alerts = {(a.id, a.status) for a in (decode(m.value()) for m in msgs)}
    return alerts, _exchanged() - before


def test_keyed_input_is_processed_where_it_is_read_and_other_keyings_alike(broker, topics):
    city = City(seed=3, sensors_per_commune=6, warmup_steps=24, anomaly_rate=0.01)
    steps = list(city.encoded_steps(60))
    keyed, other = topics["readings"] + "-keyed", topics["readings"] + "-other"
    broker.create_topics([keyed, other], partitions=4)
    p = tp.producer(broker.bootstrap)
    n = tp.produce_all(p, keyed, itertools.chain.from_iterable(steps))
    # keyed otherwise: each site still on one partition (its order kept), but not on
    # the one its shard is aligned with
    tp.produce_all(p, other, ((k + b"#other", v) for step in steps for k, v in step))
    assert p.flush(30) == 0

    one, crossed_one = _run(broker, keyed, 1)
    two, crossed_two = _run(broker, keyed, 2)
    assert len(one) > 20 and n > 5000
    assert crossed_one == 0  # one worker reads every partition
    assert crossed_two == 0  # each shard lives on the worker that reads its partition
    assert two == one

    mixed, crossed = _run(broker, other, 2)
    assert crossed > n / 4  # about half of the readings went to the other worker...
    assert mixed == one  # ...and each subject's state stayed in one place

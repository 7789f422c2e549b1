"""The NAB scorer: synthetic cases, and reproduction of NAB's published scores."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.nab_score import (
    PROFILES,
    NabFile,
    load_corpus,
    load_profiles,
    load_reference_scores,
    nab_dir,
    probation_length,
    scaled_sigmoid,
    score_all,
    score_corpus,
)

STD = PROFILES["standard"]


def _file(n: int = 1000, windows=((400, 499),)) -> NabFile:
    ts = np.arange(n).astype("datetime64[m]")
    return NabFile("cat/f.csv", ts, np.zeros(n), list(windows))


def _at(n: int, *rows: int) -> dict[str, np.ndarray]:
    s = np.zeros(n)
    s[list(rows)] = 1.0
    return {"cat/f.csv": s}


def test_scaled_sigmoid_edges():
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0


def test_probation_is_15_percent_capped_at_750():
    assert probation_length(1000) == 150
    assert probation_length(100_000) == 750


def test_perfect_and_null_detectors_normalise_to_100_and_0():
    f = _file()
    assert score_corpus(_at(1000, 400), [f], STD).score == pytest.approx(100.0)
    assert score_corpus(_at(1000), [f], STD).score == pytest.approx(0.0)


def test_earlier_detection_scores_higher_and_only_first_counts():
    f = _file()
    early = score_corpus(_at(1000, 410), [f], STD).score
    late = score_corpus(_at(1000, 490), [f], STD).score
    both = score_corpus(_at(1000, 410, 490), [f], STD).score
    assert early > late > 0
    assert both == pytest.approx(early)


def test_false_positive_costs_and_probation_is_free():
    f = _file()
    clean = score_corpus(_at(1000, 400), [f], STD)
    with_fp = score_corpus(_at(1000, 400, 300), [f], STD, threshold=1.0)
    in_probation = score_corpus(_at(1000, 400, 100), [f], STD, threshold=1.0)
    assert with_fp.score < clean.score
    assert with_fp.raw == pytest.approx(clean.raw - 0.11)
    assert in_probation.score == pytest.approx(clean.score)


def test_fp_right_after_a_window_costs_less_than_far_away():
    f = _file()
    near = score_corpus(_at(1000, 400, 505), [f], STD, threshold=1.0).raw
    far = score_corpus(_at(1000, 400, 900), [f], STD, threshold=1.0).raw
    assert near > far


def test_threshold_is_optimised_over_the_corpus():
    f = _file()
    s = np.zeros(1000)
    s[400] = 0.9  # true detection
    s[200:260] = 0.5  # 60 false positives below it
    res = score_corpus({"cat/f.csv": s}, [f], STD)
    assert res.threshold == pytest.approx(0.9)
    assert res.fp == 0 and res.tp == 1


CORPUS = nab_dir()
needs_nab = pytest.mark.skipif(
    not (CORPUS / "labels" / "combined_windows.json").exists(),
    reason=f"NAB corpus not found at {CORPUS} (set SENTINELLE_NAB or --nab)",
)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@needs_nab
@pytest.mark.parametrize(
    ("detector", "expected"),
    [
        ("numenta", {"standard": 70.10, "reward_low_FP_rate": 63.12, "reward_low_FN_rate": 74.32}),
        ("windowedGaussian", {"standard": 39.6}),
    ],
)
def test_reproduces_published_scores(corpus, detector, expected):
    scores = load_reference_scores(CORPUS / "reference_scores" / f"{detector}.csv.gz")
    res = score_all(scores, corpus, load_profiles())
    for profile, want in expected.items():
        assert res[profile].score == pytest.approx(want, abs=0.5), profile


@needs_nab
def test_corpus_shape(corpus):
    assert len(corpus) == 58
    assert sum(len(f.windows) for f in corpus) == 116
    assert sum(len(f.ts) for f in corpus) == 365_558

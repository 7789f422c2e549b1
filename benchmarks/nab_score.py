"""NAB scorer: the Numenta Anomaly Benchmark's scoring rules, vectorised with numpy.

Reproduces NAB v1.1 (``nab/sweeper.py``, ``nab/optimizer.py``, ``nab/runner.py``):

- the first 15 % of each file (at most 750 rows) is probationary and never scored;
- a row is a detection when its anomaly score is ``>=`` the threshold;
- inside a label window only the earliest detection counts, weighted by the scaled
  sigmoid of its position (``tpWeight`` at the left edge, about 0 at the right edge);
  a window without detection costs ``-fnWeight``;
- a detection outside every window costs ``fpWeight`` times the scaled sigmoid of its
  distance past the preceding window (the full ``-fpWeight`` before any window);
- one threshold per detector and profile is chosen over the whole corpus (the one that
  maximises the raw score, highest threshold on ties);
- the final score is ``100 * (raw - null) / (perfect - null)``, where the null detector
  never detects and the perfect one detects every window at its left edge.

The corpus is read from ``--nab DIR``, ``$SENTINELLE_NAB`` or ``../shared/datasets/nab``
relative to the repository root.

Examples
--------
>>> import numpy as np
>>> ts = np.arange(100).astype("datetime64[m]")
>>> f = NabFile("x/a.csv", ts, np.zeros(100), [(60, 69)])
>>> scores = {"x/a.csv": np.where(np.arange(100) == 60, 1.0, 0.0)}
>>> round(score_corpus(scores, [f], PROFILES["standard"]).score, 1)
100.0
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The three NAB profiles (``config/profiles.json``), used when no corpus is at hand.
PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}
PROBATION = 0.15
REPO = Path(__file__).resolve().parent.parent


def nab_dir(arg: str | os.PathLike | None = None) -> Path:
    """Where the NAB corpus lives: ``arg``, else ``$SENTINELLE_NAB``, else the default."""
    if arg:
        return Path(arg)
    env = os.environ.get("SENTINELLE_NAB")
    if env:
        return Path(env)
    return (REPO / ".." / "shared" / "datasets" / "nab").resolve()


def scaled_sigmoid(x: np.ndarray | float) -> np.ndarray:
    """NAB's ``2 * sigmoid(-5 x) - 1``, and ``-1`` beyond ``x > 3``."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 3.0, -1.0, 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0)


def probation_length(n: int, fraction: float = PROBATION) -> int:
    """Rows at the start of a file that are not scored (NAB: at most 750)."""
    return int(min(math.floor(fraction * n), fraction * 5000))


@dataclass
class NabFile:
    """One data file: its relative name, timestamps, values and windows (row indices)."""

    name: str
    ts: np.ndarray
    values: np.ndarray
    windows: list[tuple[int, int]]

    @property
    def category(self) -> str:
        return self.name.split("/")[0]

    def labels(self) -> np.ndarray:
        """1 inside a window, else 0 (NAB's ``label`` column)."""
        lab = np.zeros(len(self.ts), dtype=np.int8)
        for a, b in self.windows:
            lab[a : b + 1] = 1
        return lab

    def sweep(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-row ``(tp_part, fp_part, window)`` as NAB's ``Sweeper.calcSweepScore``.

        ``tp_part`` is the unweighted, ``maxTP``-normalised true-positive value inside a
        window (0 outside); ``fp_part`` the unweighted false-positive value outside
        (0 inside); ``window`` the window's index in the file, ``-1`` outside any
        window and ``-2`` in probation.
        """
        n = len(self.ts)
        idx = np.arange(n)
        tp = np.zeros(n)
        fp = np.full(n, -1.0)
        win = np.full(n, -1, dtype=np.int64)
        max_tp = float(scaled_sigmoid(-1.0))
        prev_end = None
        prev_width = None
        for k, (a, b) in enumerate(self.windows):
            width = float(b - a + 1)
            seg = idx[a : b + 1]
            tp[a : b + 1] = scaled_sigmoid(-(b - seg + 1) / width) / max_tp
            fp[a : b + 1] = 0.0
            win[a : b + 1] = k
            if prev_end is not None:
                out = idx[prev_end + 1 : a]
                fp[prev_end + 1 : a] = scaled_sigmoid(np.abs(prev_end - out) / (prev_width - 1))
            prev_end, prev_width = b, width
        if prev_end is not None:
            out = idx[prev_end + 1 :]
            fp[prev_end + 1 :] = scaled_sigmoid(np.abs(prev_end - out) / (prev_width - 1))
        win[: probation_length(n)] = -2
        return tp, fp, win


def _parse_ts(strings: list[str]) -> np.ndarray:
    return np.array([s.replace(" ", "T") for s in strings], dtype="datetime64[us]")


def load_file(root: Path, name: str, windows: list[list[str]]) -> NabFile:
    """Read ``data/<name>`` and place its label windows on row indices."""
    with open(root / "data" / name, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    ts = _parse_ts([r[0] for r in rows])
    values = np.array([float(r[1]) for r in rows])
    idx = []
    for a, b in windows:
        ia, ib = np.searchsorted(ts, _parse_ts([a, b]))
        if (
            ia >= len(ts)
            or ts[ia] != _parse_ts([a])[0]
            or ts[min(ib, len(ts) - 1)] != _parse_ts([b])[0]
        ):
            raise ValueError(f"{name}: window {a}..{b} not on a row timestamp")
        idx.append((int(ia), int(ib)))
    return NabFile(name, ts, values, idx)


def load_corpus(root: str | os.PathLike | None = None) -> list[NabFile]:
    """All NAB data files with their windows, sorted by name."""
    root = nab_dir(root)
    with open(root / "labels" / "combined_windows.json") as fh:
        wins = json.load(fh)
    return [load_file(root, name, wins[name]) for name in sorted(wins)]


def load_profiles(root: str | os.PathLike | None = None) -> dict[str, dict[str, float]]:
    """The cost matrices of ``config/profiles.json``."""
    path = nab_dir(root) / "config" / "profiles.json"
    if not path.exists():
        return dict(PROFILES)
    with open(path) as fh:
        return {k: v["CostMatrix"] for k, v in json.load(fh).items()}


def load_reference_scores(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``file,timestamp,anomaly_score`` (optionally gzipped) -> per-file score arrays."""
    opener = gzip.open if str(path).endswith(".gz") else open
    out: dict[str, list[float]] = {}
    with opener(path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for f, _, s in reader:
            out.setdefault(f, []).append(float(s))
    return {k: np.array(v) for k, v in out.items()}


@dataclass
class ProfileResult:
    """Outcome for one profile: normalised score, raw score, threshold and baselines."""

    score: float
    raw: float
    threshold: float
    null: float
    perfect: float
    tp: int
    fp: int
    fn: int


def score_corpus(
    scores: dict[str, np.ndarray],
    corpus: list[NabFile],
    profile: dict[str, float],
    threshold: float | None = None,
) -> ProfileResult:
    """Score a detector's per-row anomaly scores over the corpus for one profile.

    ``threshold=None`` optimises it over the whole corpus, as NAB's optimizer does.
    ``tp``/``fp``/``fn`` count windows detected, false-positive rows and missed windows.
    """
    tpw, fpw, fnw = profile["tpWeight"], profile["fpWeight"], profile["fnWeight"]
    keys, vals, wins = [], [], []
    offset = 0
    n_windows_total = 0
    for f in corpus:
        s = np.asarray(scores[f.name], dtype=float)
        if len(s) != len(f.ts):
            raise ValueError(f"{f.name}: {len(s)} scores for {len(f.ts)} rows")
        tp, fp, win = f.sweep()
        n_windows_total += len(f.windows)
        keep = win != -2
        w = np.where(win[keep] >= 0, win[keep] + offset, -1)
        offset += len(f.windows)
        keys.append(np.nan_to_num(s[keep], nan=-np.inf))
        vals.append(np.where(win[keep] >= 0, tp[keep] * tpw, fp[keep] * fpw))
        wins.append(w)
    s = np.concatenate(keys)
    v = np.concatenate(vals)
    w = np.concatenate(wins)
    scored_windows = np.unique(w[w >= 0])
    null = -fnw * len(scored_windows)
    perfect_norm = n_windows_total * tpw

    # Events sorted by descending score; each carries the change it brings to the total.
    order = np.lexsort((np.arange(len(s)), -s))
    s, v, w = s[order], v[order], w[order]
    delta = np.where(w < 0, v, 0.0)
    inw = np.flatnonzero(w >= 0)
    # Inside a window the total tracks the earliest detection (= largest value so far);
    # the first detection replaces -fnWeight.
    if len(inw):
        ww, vv = w[inw], v[inw]
        grp = np.argsort(ww, kind="stable")
        ww, vv, pos = ww[grp], vv[grp], inw[grp]
        starts = np.r_[0, np.flatnonzero(np.diff(ww)) + 1]
        runmax = vv.copy()
        for a, b in zip(starts, np.r_[starts[1:], len(ww)], strict=True):
            runmax[a:b] = np.maximum.accumulate(vv[a:b])
        prev = np.empty_like(runmax)
        prev[1:] = runmax[:-1]
        prev[starts] = -fnw
        delta[pos] = runmax - prev
    total = null + np.cumsum(delta)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]  # end of each distinct score
    thr = np.r_[np.inf, s[last]]
    tot = np.r_[null, total[last]]
    if threshold is None:
        k = int(np.argmax(tot))
    else:
        k = int(np.searchsorted(-thr, -threshold, side="right")) - 1
    raw = float(tot[k])
    det = s >= thr[k]
    n_tp = len(np.unique(w[det & (w >= 0)]))
    n_fp = int(np.sum(det & (w < 0)))
    return ProfileResult(
        score=100.0 * (raw - null) / (perfect_norm - null) if perfect_norm > null else math.nan,
        raw=raw,
        threshold=float(thr[k]),
        null=null,
        perfect=perfect_norm,
        tp=n_tp,
        fp=n_fp,
        fn=len(scored_windows) - n_tp,
    )


def score_all(
    scores: dict[str, np.ndarray],
    corpus: list[NabFile],
    profiles: dict[str, dict[str, float]] | None = None,
) -> dict[str, ProfileResult]:
    """:func:`score_corpus` for every profile (default: NAB's three)."""
    profiles = profiles or PROFILES
    return {name: score_corpus(scores, corpus, cm) for name, cm in profiles.items()}


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.nab_score FILE.csv[.gz]``: score published per-row scores."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("scores", nargs="+", help="file,timestamp,anomaly_score CSV (.gz ok)")
    ap.add_argument("--nab", help="NAB corpus directory")
    args = ap.parse_args(argv)
    corpus = load_corpus(args.nab)
    profiles = load_profiles(args.nab)
    for path in args.scores:
        res = score_all(load_reference_scores(path), corpus, profiles)
        print(path, {k: round(r.score, 2) for k, r in res.items()})


if __name__ == "__main__":
    main()

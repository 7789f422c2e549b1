"""Streaming anomaly detectors behind one protocol (:class:`models.base.Detector`).

Each detector watches one series: ``update(x, ts)`` scores a value and then learns it,
``update_many(xs, ts)`` does the same over a batch (equal to the loop), ``score_one`` is
pure, ``ready`` ends the warm-up (score 0 before), ``guard``/``patience`` keep anomalies
out of what is learnt, and the state is small, picklable and versioned.

Ask for one by name (``models.registry.make("ewma", lam=0.1)`` or a spec dict):

============  ====================================  ==========================
name          what it finds                         module
============  ====================================  ==========================
robust_z      far from the rolling median (IQR)     :mod:`models.robust_z`
mad           same, MAD scale (50 % breakdown)      :mod:`models.mad`
zscore        far from the rolling mean             :mod:`models.zscore`
ewma          small sustained shifts                :mod:`models.ewma`
cusum         level shifts (two-sided CUSUM)        :mod:`models.cusum`
page_hinkley  level shifts (Page-Hinkley)           :mod:`models.page_hinkley`
seasonal      off the hour-of-day/week profile      :mod:`models.seasonal`
rate          unusual steps                         :mod:`models.rate`
flatline      stuck / repeated values               :mod:`models.flatline`
hst           Half-Space Trees (river structure)    :mod:`models.hst`
ocsvm         one-class SVM (river) on RFF          :mod:`models.ocsvm`
forecast      SNARIMAX (river) residual             :mod:`models.forecast`
iforest       IsolationForest (scikit-learn)        :mod:`models.iforest`
likelihood    any of them -> 0-1 likelihood         :mod:`models.calibrate`
ensemble      max / mean of likelihoods             :mod:`models.ensemble`
============  ====================================  ==========================

:mod:`models.checks` holds the conformance checks every detector passes (run by
``tests/models/test_conformance.py``); ``python -m models.checks`` prints the speed and
state size of each. Nothing here imports Kafka or Bytewax.
"""

from models import compiled as _compiled

_compiled.pure()  # SENTINELLE_PURE=1: the .py sources, not the compiled modules

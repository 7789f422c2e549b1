"""Declarative rule packs (YAML) evaluated per sensor by :class:`rules.engine.Engine`."""

import models  # noqa: F401  (installs the SENTINELLE_PURE switch before rules.engine loads)

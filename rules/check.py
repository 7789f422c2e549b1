"""Validate rule packs without running them (``sentinelle rules check``).

Loading a pack validates its schema, compiles every expression, checks every name,
schedule, template and detector; each problem is reported as ``file:line: field: msg``.
Test files next to the packs are checked for readability too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from rules.load import PackErrors, load_packs
from rules.testing import case_files


def check_paths(paths: Iterable[str | Path] | None = None) -> list[str]:
    """Errors of the packs under ``paths`` (default: the shipped packs); empty if all load.

    >>> check_paths()
    []
    """
    paths = list(paths or [])
    errors: list[str] = []
    try:
        load_packs(paths or None)
    except PackErrors as e:
        errors.extend(str(x) for x in e.errors)
    for t in case_files(paths or None):
        try:
            doc = yaml.safe_load(t.read_text())
        except (OSError, yaml.YAMLError) as e:
            errors.append(f"{t}:0: (tests): {str(e).splitlines()[0]}")
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("tests"), list):
            errors.append(f"{t}:1: tests: a test file needs a 'tests' list")
    return errors

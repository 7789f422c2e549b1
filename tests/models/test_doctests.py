"""The examples in the detectors' docstrings run and hold."""

import doctest
import importlib
import pkgutil

import pytest

import models

MODULES = [m.name for m in pkgutil.iter_modules(models.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"models.{name}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0

"""The examples in the rules modules' docstrings run and hold."""

import doctest
import importlib
import pkgutil

import pytest

import rules

MODULES = [m.name for m in pkgutil.iter_modules(rules.__path__)]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"rules.{name}")
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.failed == 0

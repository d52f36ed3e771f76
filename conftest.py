"""Doctests show what a user sees by default (float32); the tests in tests/ run in float64."""

import jax
import pytest
from _pytest.doctest import DoctestItem


@pytest.fixture(autouse=True)
def _precision(request):
    jax.config.update("jax_enable_x64", not isinstance(request.node, DoctestItem))
    yield

"""``jaxl1._jit``: compiler options on top-level calls, plain ``jax.jit`` inside a caller's trace."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_regression

import jaxl1
from jaxl1 import _jit


@pytest.fixture
def fresh_options(monkeypatch):
    """Let a test change the options or the environment; the probe runs again before and after it."""
    _jit.compiler_options.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    _jit.compiler_options.cache_clear()


def test_unknown_option_is_dropped(fresh_options):
    fresh_options.setattr(_jit, "COMPILER_OPTIONS", {**_jit.COMPILER_OPTIONS, "xla_not_an_option_at_all": True})
    accepted = _jit.compiler_options()
    assert "xla_not_an_option_at_all" not in accepted
    assert set(accepted) <= set(_jit.COMPILER_OPTIONS)


def test_environment_turns_options_off(fresh_options):
    fresh_options.setenv("JAXL1_COMPILER_OPTIONS", "0")
    assert _jit.compiler_options() == {}


def test_options_reach_top_level_compiles_only(fresh_options):
    # an option XLA rejects makes a compile fail: the top-level call must fail, the nested one must not
    fresh_options.setattr(_jit, "compiler_options", lambda: {"xla_not_an_option_at_all": True})
    f = _jit.jit(lambda x: x + 1.0)
    with pytest.raises(Exception, match="xla_not_an_option_at_all"):
        f(jnp.ones(2))
    assert jax.jit(lambda x: f(x) * 2)(jnp.ones(2)).tolist() == [4.0, 4.0]
    x0 = jnp.ones(2)  # closed over: no tracer among the arguments, JAX's refusal is caught
    assert jax.jit(lambda: f(x0))().tolist() == [2.0, 2.0]


def test_same_solution_inside_a_callers_jit_and_at_top_level():
    X, y = make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)
    X, y = jnp.asarray(X), jnp.asarray(y)
    top = jaxl1.fit(X, y, jaxl1.L1(0.1), tol=1e-12).coef
    # arguments are tracers: the plain jit, staged into the caller's program
    traced = jax.jit(lambda lam: jaxl1.fit(X, y, jaxl1.L1(lam), tol=1e-12).coef)(0.1)
    # no tracer among the arguments (constants closed over): jax refuses options there, the fallback runs
    closed = jax.jit(lambda: jaxl1.fit(X, y, jaxl1.L1(0.1), tol=1e-12).coef)()
    np.testing.assert_allclose(traced, top, rtol=0, atol=1e-10)
    np.testing.assert_allclose(closed, top, rtol=0, atol=1e-10)
    assert np.count_nonzero(top) > 0

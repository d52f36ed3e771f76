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
    fresh_options.setattr(_jit, "compiler_options", lambda small=False: {"xla_not_an_option_at_all": True})
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


def test_small_problems_compile_with_their_own_options(fresh_options):
    """A call whose arguments are all small compiles with the small problems' options; a larger one without;
    both give the same numbers, and the cache counts both programs."""
    calls = []

    def options(small=False):
        calls.append(small)
        return {"xla_cpu_use_fusion_emitters": False, **({"xla_backend_optimization_level": 0} if small else {})}

    fresh_options.setattr(_jit, "compiler_options", options)
    f = _jit.jit(lambda x: jnp.cumsum(jnp.sin(x)))
    small, large = jnp.linspace(0, 1, 64), jnp.linspace(0, 1, _jit.SMALL_PROBLEM + 1)
    np.testing.assert_allclose(f(small), np.cumsum(np.sin(np.linspace(0, 1, 64))), rtol=1e-6)
    assert calls == [True] and f._cache_size() == 1
    np.testing.assert_allclose(f(large)[-1], np.sum(np.sin(np.asarray(large, np.float64))), rtol=1e-4)
    assert calls == [True, False] and f._cache_size() == 2
    f(small)
    assert f._cache_size() == 2  # no retrace


def test_small_options_add_to_the_others(fresh_options):
    big, small = _jit.compiler_options(), _jit.compiler_options(True)
    assert small.items() >= big.items()
    assert set(small) - set(big) <= set(_jit.SMALL_OPTIONS)
    try:  # an XLA that knows the option gets it
        jax.jit(lambda x: x + 1, compiler_options=_jit.SMALL_OPTIONS).lower(np.float32(0)).compile()
    except Exception:  # noqa: BLE001
        return
    assert all(small[k] == v for k, v in _jit.SMALL_OPTIONS.items())


def test_environment_turns_small_options_off(fresh_options):
    fresh_options.setenv("JAXL1_SMALL_OPTIONS", "0")
    assert _jit.compiler_options(True) == _jit.compiler_options()

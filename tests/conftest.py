"""Test configuration: float64 everywhere (tests compare to many digits).

Compiled programs are not cached on disk unless ``JAXL1_TEST_CACHE`` names a directory (see below).
"""

import os

import jax
import pytest
from hypothesis import settings

jax.config.update("jax_enable_x64", True)
# JAX's persistent compilation cache is opt-in here (JAXL1_TEST_CACHE=DIR): on CI's 2-core machine a
# worker crashed twice (a segmentation fault inside compilation_cache's get_executable_and_time and
# put_executable_and_time, in test_sparse's cross-validated estimators) with the cache shared by the
# xdist workers, locked or not; without it every worker compiles its own programs
_cache = os.environ.get("JAXL1_TEST_CACHE")
if _cache:
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    jax.config.update("jax_compilation_cache_max_size", 16 * 2**30)  # turns on the cache's file lock

# property tests draw the same examples on every run, so CI is reproducible
settings.register_profile("jaxl1", derandomize=True, deadline=None)
settings.load_profile("jaxl1")


@pytest.fixture
def compiles():
    """The XLA compilations of the test, one entry each (``clear()`` it to count from a point on).

    jaxl1's one-time probes of its compiler options run first, so they are not counted.
    """
    import jax.monitoring

    from jaxl1 import _jit

    _jit.compiler_options(), _jit.compiler_options(True)
    events = []

    def listener(event, duration, **kw):
        if event.endswith("backend_compile_duration"):
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield events
    jax.monitoring.unregister_event_duration_listener(listener)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's in-memory caches of compiled programs after each test module.

    An xdist worker otherwise keeps every program it compiled alive for the whole run; on CI's 2-core
    machine one worker, half-way through the suite, crashed in XLA (an abort or a segmentation fault
    while compiling or serializing test_sparse's cross-validated estimators) although the test passes
    alone.  Modules share few shapes, so little is compiled twice.
    """
    yield
    jax.clear_caches()

"""Test configuration: float64 everywhere (tests compare to many digits).

Compiled programs are cached on disk for the session, so that the pytest-xdist
workers compile each shape once between them.
"""

import os
import tempfile

import jax
from hypothesis import settings

jax.config.update("jax_enable_x64", True)
_cache = os.environ.get("JAXL1_TEST_CACHE", os.path.join(tempfile.gettempdir(), "jaxl1-jax-cache"))
jax.config.update("jax_compilation_cache_dir", _cache)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
# a size limit turns on JAX's file lock around every read and write of the cache; without it a worker can
# read an entry another worker is still writing, and deserializing that partial file crashed the process
# (a segmentation fault in compilation_cache.get_executable_and_time, seen once in CI on 2 workers)
jax.config.update("jax_compilation_cache_max_size", 16 * 2**30)

# property tests draw the same examples on every run, so CI is reproducible
settings.register_profile("jaxl1", derandomize=True, deadline=None)
settings.load_profile("jaxl1")

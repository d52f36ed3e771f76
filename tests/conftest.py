"""Test configuration: float64 everywhere (tests compare to many digits)."""

import jax

jax.config.update("jax_enable_x64", True)

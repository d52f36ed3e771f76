"""``jax.jit`` with the compiler options that jaxl1's programs compile best with.

The solver programs hold a hundred or more small elementwise kernels around a
few matrix products.  On XLA:CPU the newer MLIR fusion emitters spend about
10 ms per kernel on set-up, which made compile time, not run time, the cost of
a first call; the classic LLVM emitter compiles the same programs in 0.6–0.9
of the time, with run times that were the same within noise on the path
benchmark (``benchmarks/README.md``).  The option is read by the CPU compiler
only and ignored by the others.

Options are checked once, on the first compile, against the installed XLA: a
version that does not know them compiles without them.  Nothing is compiled at
import time, so importing jaxl1 does not start a JAX backend.
"""

from __future__ import annotations

import functools
import os

import jax
import numpy as np

#: XLA options passed to every program that jaxl1 compiles itself.
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


@functools.cache
def compiler_options() -> dict:
    """The options of :data:`COMPILER_OPTIONS` that the installed XLA accepts.

    ``JAXL1_COMPILER_OPTIONS=0`` in the environment turns them off.
    """
    if os.environ.get("JAXL1_COMPILER_OPTIONS", "1") == "0":
        return {}
    accepted = {}
    for key, value in COMPILER_OPTIONS.items():
        try:
            probe = jax.jit(lambda x: x + 1, compiler_options={key: value})
            probe.lower(np.float32(0)).compile()
        except Exception:  # unknown option, or a jax without compiler_options  # noqa: BLE001
            continue
        accepted[key] = value
    return accepted


class jit:
    """``jax.jit(fun, **kwargs)``, with :func:`compiler_options` where ``jax.jit`` allows them.

    JAX accepts compiler options on a top-level call only: called on tracers
    (inside a user's ``jit``, ``vmap``, ``grad``, ``scan``, ...), the function
    is the plain ``jax.jit(fun, **kwargs)``, whose code the outer program
    compiles.  Both are built on first use.  Attribute access (``lower``,
    ``trace``, ``_cache_size``, ...) goes to the top-level version.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxl1._jit import jit
        >>> double = jit(lambda x: 2 * x)
        >>> double(jnp.arange(3.0)).tolist()
        [0.0, 2.0, 4.0]
    """

    def __init__(self, fun, **kwargs):
        self._fun, self._kwargs = fun, kwargs
        self._top = self._plain = None
        functools.update_wrapper(self, fun)

    def _get_plain(self):
        if self._plain is None:
            self._plain = jax.jit(self._fun, **self._kwargs)
        return self._plain

    def _get(self):
        if self._top is None:
            options = compiler_options()
            self._top = jax.jit(self._fun, compiler_options=options, **self._kwargs) if options else self._get_plain()
        return self._top

    def __call__(self, *args, **kwargs):
        top = self._get()
        if top is self._plain or any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves((args, kwargs))):
            return self._get_plain()(*args, **kwargs)
        try:
            return top(*args, **kwargs)
        except ValueError as err:  # traced with closed-over constants only: no tracer among the arguments
            if "top-level" not in str(err):
                raise
        return self._get_plain()(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._get(), name)

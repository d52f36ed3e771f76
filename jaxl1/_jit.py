"""``jax.jit`` with the compiler options that jaxl1's programs compile best with.

The solver programs hold a hundred or more small elementwise kernels around a
few matrix products.  On XLA:CPU the newer MLIR fusion emitters spend about
10 ms per kernel on set-up, which made compile time, not run time, the cost of
a first call; the classic LLVM emitter compiles the same programs in 0.6–0.9
of the time, with run times that were the same within noise on the path
benchmark (``benchmarks/README.md``).  The option is read by the CPU compiler
only and ignored by the others.

A small problem (no argument above :data:`SMALL_PROBLEM` entries) also gets
:data:`SMALL_OPTIONS` (LLVM's optimizations off): its compile is the whole cost
of a call.  Options are checked once, on the first compile, against the
installed XLA: a version that does not know them compiles without them.  Nothing is compiled at
import time, so importing jaxl1 does not start a JAX backend.
"""

from __future__ import annotations

import functools
import os

import jax
import numpy as np

#: XLA options passed to every program that jaxl1 compiles itself.
COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}

#: Added for a small problem (no argument with more than :data:`SMALL_PROBLEM` entries), where compiling is
#: the whole cost of a call: LLVM's optimizations off compile the diabetes path (442x10) in about 0.2 s
#: instead of 0.4 s (the first fit, fit_path and 5-fold cross_validate together: 1.3 s instead of 2.2 s),
#: and its solve takes 1.9 ms instead of 1.5 ms.  On larger problems run time grows 1.5-2.3x (breast
#: cancer 569x30, logistic: 0.103 s instead of 0.044 s per path), so they keep the default optimizations.
SMALL_OPTIONS = {"xla_backend_optimization_level": 0}

#: The most entries of an argument of a small problem (diabetes' X has 4420).  A loop that calls the same
#: small solve many times (``jaxl1.tune``, a user's own) pays up to 1.3x per call for the faster compile:
#: ``JAXL1_SMALL_OPTIONS=0`` in the environment compiles small problems like the others.
SMALL_PROBLEM = 2**13


@functools.cache
def compiler_options(small: bool = False) -> dict:
    """The options of :data:`COMPILER_OPTIONS` (and, for a ``small`` problem, :data:`SMALL_OPTIONS`) that the
    installed XLA accepts.

    ``JAXL1_COMPILER_OPTIONS=0`` in the environment turns them off.
    """
    if os.environ.get("JAXL1_COMPILER_OPTIONS", "1") == "0":
        return {}
    small = small and os.environ.get("JAXL1_SMALL_OPTIONS", "1") != "0"
    wanted = {**COMPILER_OPTIONS, **(SMALL_OPTIONS if small else {})}
    if len(wanted) > 1 and _compiles(tuple(wanted.items())):  # one probe for all (a compile costs 10-20 ms)
        return wanted
    return {key: value for key, value in wanted.items() if _compiles(((key, value),))}


@functools.cache
def _compiles(options: tuple) -> bool:
    """A tiny program compiles with ``options`` (``(key, value)`` pairs) on the installed XLA."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=dict(options)).lower(np.float32(0)).compile()
    except Exception:  # unknown option, or a jax without compiler_options  # noqa: BLE001
        return False
    return True


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
        self._top = self._small = self._plain = None
        functools.update_wrapper(self, fun)

    def _get_plain(self):
        if self._plain is None:
            self._plain = jax.jit(self._fun, **self._kwargs)
        return self._plain

    def _get(self, small=False):
        """The top-level version for a small problem or a larger one (see :data:`SMALL_OPTIONS`)."""
        if (self._small if small else self._top) is None:
            options = compiler_options(small)
            top = jax.jit(self._fun, compiler_options=options, **self._kwargs) if options else self._get_plain()
            if small:
                self._small = top
            else:
                self._top = top
        return self._small if small else self._top

    def _cache_size(self):
        """The programs compiled so far, with any options."""
        versions = {id(v): v for v in (self._top, self._small, self._plain) if v is not None}
        return sum(v._cache_size() for v in versions.values())

    def __call__(self, *args, **kwargs):
        leaves = jax.tree.leaves((args, kwargs))
        if any(isinstance(a, jax.core.Tracer) for a in leaves):
            return self._get_plain()(*args, **kwargs)
        small = max((int(np.size(a)) for a in leaves if hasattr(a, "shape")), default=0) <= SMALL_PROBLEM
        top = self._get(small)
        if top is self._plain:
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


def enable_x64(enabled: bool = True):
    """A context in which JAX computes in float64 (``enabled``) or not, for the current thread only, without
    touching the global setting."""
    enable = getattr(jax, "enable_x64", None)
    if enable is None:  # pragma: no cover - older jax spells it jax.experimental.enable_x64
        from jax.experimental import enable_x64 as enable
    return enable(enabled)

r"""``fit``: proximal-gradient solvers certified by a duality gap.

The problem is

.. math:: \min_{w,\,b}\; F(Xw + b) + P(w)

with :math:`F` a loss from :mod:`jaxl1.losses` (a weighted mean over samples) and
:math:`P` a penalty from :mod:`jaxl1.penalties`.  Every solve stops when the
duality gap, at a dual point built by rescaling the gradient of the loss (as
scikit-learn and celer do), is at most ``tol * P0``, ``P0`` the objective at
:math:`w = 0` with the intercept at its optimum.

* Separable L1-type penalties (``L1``, ``ElasticNet``, ``NonNegativeL1``) use
  working sets: each round ranks the coordinates, solves the problem restricted
  to the best ``ws_size`` of them (a dense quadratic: the squared loss itself, or
  a prox-Newton model of the logistic loss followed by a line search) by FISTA
  with restart.  When the subproblem is held as a matrix and its support has at
  most ``POLISH_MAX`` coordinates, an exact solve on the support is tried too (a
  small Cholesky factorization: on a path with warm starts this often finishes a
  strength in one step); on a larger support whose signs have settled, a few
  conjugate-gradient steps on the same linear system are tried instead.
* Other penalties (``GroupL1``, ``L2``) use FISTA with O'Donoghue–Candès gradient
  restart and a fixed step :math:`1/L`, :math:`L` a Lipschitz bound of the
  gradient from power iteration.

Two forms of the smooth part are used, chosen by ``form="auto"``:

* ``"gram"`` (squared loss, ``n >= p``): the data enter through
  :math:`G = X_c^\top S X_c` and :math:`c = X_c^\top S y_c` (centred when an
  intercept is fitted, so the intercept leaves the iteration); an iteration costs
  :math:`p^2`.
* ``"data"``: the iteration multiplies by :math:`X` and :math:`X^\top` (cost :math:`np`).

Each loop evaluates its stopping test (gap or KKT residual) once per pass, then
iterates unless it is done, so that the test is compiled once.  Everything here
is pure and jit-compiled once per shape, static options and penalty type: new
strengths, data or initial points of the same shapes reuse the compiled code.

This module holds the public entry point (:func:`fit`, :class:`FitResult`, the
warning); the solvers themselves live in :mod:`jaxl1.solvers`, one idea per file.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _design, _validation
from ._jit import jit
from .implicit import differentiable_solve, solution_tangent, zero_tangent
from .losses import get_loss, is_quadratic
from .solvers import (
    certificate_of,
    choose_form,
    default_tol,
    default_ws_size,
    init_intercept,
    intercept_out,
    prepare,
    scalable,
    solve,
)

__all__ = ["FitResult", "fit", "default_tol", "ConvergenceWarning", "STATUS", "status_of", "warn_if_stopped"]

PyTree = Any


class ConvergenceWarning(UserWarning):
    """A solve stopped before its tolerance was met (at ``max_iter``, or on non-finite values).

    ``fit``, ``fit_path`` and ``cross_validate`` emit it when called with concrete inputs; nothing is
    emitted under a trace (``jit``, ``vmap``, ``grad``), where ``converged`` and ``status`` tell.
    """


STATUS = ("converged", "max_iter", "nonfinite")  # the names of the codes of ``status``


def status_of(converged, coef, intercept, gap):
    """Why each solve stopped, as an index into :data:`STATUS` (``coef`` has the lanes' axes first)."""
    finite = jnp.isfinite(gap) & jnp.all(jnp.isfinite(coef), axis=-1) & jnp.isfinite(intercept)
    return jnp.where(converged, 0, jnp.where(finite, 1, 2)).astype(jnp.int32)


def warn_if_stopped(what, status, max_iter, *, stacklevel=3):
    """Warn (:class:`ConvergenceWarning`) if a concrete ``status`` holds a solve that did not converge."""
    if isinstance(status, jax.core.Tracer):
        return
    status = np.asarray(status).reshape(-1)
    short, bad = int(np.sum(status == 1)), int(np.sum(status == 2))
    if not (short or bad):
        return
    of = f" of {status.size}" if status.size > 1 else ""
    parts = []
    if short:
        parts.append(f"{short}{of} solve{'s' if short > 1 or of else ''} stopped at max_iter={int(max_iter)} "
                     "before its certificate met tol (increase max_iter or loosen tol)")
    if bad:
        parts.append(f"{bad}{of} solve{'s' if bad > 1 or of else ''} met non-finite values")
    warnings.warn(f"{what}: " + "; ".join(parts), ConvergenceWarning, stacklevel=stacklevel)


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
@partial(
    jax.tree_util.register_dataclass,
    data_fields=["coef", "intercept", "gap", "n_iter", "converged"],
    meta_fields=["certificate"],
)
@dataclass(frozen=True)
class FitResult:
    """The result of :func:`fit` (a pytree, so it passes through ``jit`` and ``vmap``).

    Attributes:
      coef: ``(p,)`` coefficients, exact zeros where the solution is zero.
      intercept: scalar intercept (``0`` without ``fit_intercept``).
      gap: the certificate's value at ``coef`` (absolute, in objective units): the duality gap, or for a
        loss without a conjugate the optimality measure (see ``certificate``).
      n_iter: the number of iterations taken (proximal-gradient and conjugate-gradient steps).
      converged: ``gap <= tol * P0`` was reached before ``max_iter``.
      status: why the solve stopped, an index into ``jaxl1.STATUS``: ``0`` converged, ``1`` stopped at
        ``max_iter``, ``2`` non-finite values (a property, computed from the fields).
      certificate: what ``gap`` measures: ``"duality_gap"``, or ``"optimality"`` for a loss without a
        conjugate (``||G||^2 / (2L)``, ``G`` the proximal-gradient mapping: see :mod:`jaxl1.losses`).
    """

    coef: jax.Array
    intercept: jax.Array
    gap: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    certificate: str = "duality_gap"

    @property
    def status(self):
        return status_of(self.converged, self.coef, self.intercept, self.gap)

    def predict(self, X):
        """Linear predictor ``X @ coef + intercept`` (``X`` dense or sparse)."""
        return _design.matmul(X, self.coef) + self.intercept


def _fit_impl(X, y, s, pen, w0, tol, max_iter, *, loss, fit_intercept, form, check_every, ws_size):
    loss_c = get_loss(loss)
    squared = is_quadratic(loss_c)
    fit_b = fit_intercept and not squared
    prob = prepare(X, y, s, loss=loss, fit_intercept=fit_intercept, form=form, scale=scalable(pen))
    b0 = init_intercept(prob, loss, fit_b, w0) if form == "data" else jnp.zeros([], X.dtype)
    w, b, gap, n_iter, conv = solve(
        prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b, check_every=check_every,
        ws_size=ws_size,
    )
    return FitResult(w, intercept_out(prob, w, b, fit_intercept, squared), gap, n_iter, conv,
                     certificate_of(loss_c))


_CFG = ("loss", "fit_intercept", "form", "check_every", "ws_size")


def _fit_tangent(cfg, res, primals, tangents):
    """Implicit differentiation at the solution (see :mod:`jaxl1.implicit`); the loop is not differentiated."""
    X, y, s, pen = primals[:4]
    dX, dy, ds, dpen = tangents[:4]
    kw = dict(zip(_CFG, cfg))
    dw, db = solution_tangent(res.coef, res.intercept, X, y, s, pen, dX, dy, ds, dpen,
                              loss=kw["loss"], fit_intercept=kw["fit_intercept"])
    return dataclasses.replace(zero_tangent(res), coef=dw, intercept=db)


_fit_diff = differentiable_solve(lambda cfg, *args: _fit_impl(*args, **dict(zip(_CFG, cfg))), _fit_tangent)


@partial(jit, static_argnames=_CFG)
def _fit_jit(X, y, s, pen, w0, tol, max_iter, *, loss, fit_intercept, form, check_every, ws_size):
    return _fit_diff((loss, fit_intercept, form, check_every, ws_size), X, y, s, pen, w0, tol, max_iter)


# --------------------------------------------------------------------------- #
# validation at the public boundary
# --------------------------------------------------------------------------- #
def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _as_float_array(name, x, dtype=None):
    x = x if isinstance(x, jax.Array) else np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    if dtype is None:
        dtype = x.dtype if x.dtype.kind == "f" else jnp.result_type(float)
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    return jnp.asarray(x, dtype=dtype)


def _check_finite(name, x):
    if _concrete(x) and not bool(np.all(np.isfinite(np.asarray(x)))):
        raise ValueError(f"{name} contains NaN or infinity")


def validate_data(X, y, sample_weight, loss):
    """Check and convert ``X``, ``y`` and ``sample_weight``; return ``(X, y, s)`` with ``s`` normalized.

    Raises ``ValueError`` naming the argument.  Value checks run only on concrete
    inputs (under a user's ``jit`` the shapes are still checked).
    """
    loss = get_loss(loss)
    X, y, sample_weight = _validation.prepare_inputs(X, y, sample_weight)
    if _design.is_sparse(X):  # a BCOO, checked on its own; y and the weights as beside a dense X
        X = _design.as_bcoo(X)
        return (X, *validate_data(_design.stand_in(X), y, sample_weight, loss)[1:])
    if isinstance(X, jax.core.Tracer) or isinstance(X, jax.Array):
        Xdt = X.dtype
    else:
        X = np.asarray(X)
        Xdt = X.dtype
    if len(np.shape(X)) != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {np.shape(X)}")
    if Xdt.kind not in "fiub" if hasattr(Xdt, "kind") else False:
        raise ValueError(f"X must be numeric, got dtype {Xdt}")
    dtype = jnp.dtype(Xdt) if jnp.issubdtype(Xdt, jnp.floating) else jnp.dtype(float)
    if dtype not in (jnp.float32, jnp.float64):
        dtype = jnp.dtype(float)
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    n, p = np.shape(X)
    if n < 1 or p < 1:
        raise ValueError(f"X must have at least one sample and one feature, got shape {(n, p)}")
    if np.ndim(y) != 1:
        raise ValueError(f"y must be 1-D, got shape {np.shape(y)}")
    if np.shape(y)[0] != n:
        raise ValueError(f"X and y have inconsistent numbers of samples: {n} and {np.shape(y)[0]}")
    X = _as_float_array("X", X, dtype)
    y = _as_float_array("y", y, dtype)
    _check_finite("X", X)
    _check_finite("y", y)
    if _concrete(y) and hasattr(loss, "validate_y"):
        loss.validate_y(np.asarray(y))
    if sample_weight is None:
        s = jnp.asarray(np.full(n, 1.0 / n, dtype))  # built by numpy: an eager jnp.full compiles per n
    else:
        sw = _as_float_array("sample_weight", sample_weight, dtype)
        if sw.ndim == 0:
            sw = jnp.full(n, sw, dtype)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
        _check_finite("sample_weight", sw)
        if _concrete(sw):
            swn = np.asarray(sw)
            if np.any(swn < 0):
                raise ValueError("sample_weight must be non-negative")
            if not swn.sum() > 0:
                raise ValueError("sample_weight must have a positive sum")
        s = sw / jnp.sum(sw)
    return X, y, s


def _check_tol_iter(tol, max_iter, dtype):
    if tol is None:
        tol = default_tol(dtype)
    if _concrete(tol) and not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite non-negative number, got {tol!r}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter!r}")
    if max_iter > MAX_ITER_LIMIT:
        raise ValueError(f"max_iter must be at most {MAX_ITER_LIMIT}, got {max_iter!r}")
    return tol


MAX_ITER_LIMIT = 2**31 - 1024  # iteration counts are int32; room for the sums in the loop tests


def _check_penalty(penalty, p):
    if not (hasattr(penalty, "prox") and hasattr(penalty, "value")):
        raise ValueError(f"penalty must be a jaxl1 penalty (with value and prox), got {penalty!r}")
    w = weights = getattr(penalty, "weights", None)
    if weights is not None and np.shape(w) != (p,):
        raise ValueError(f"penalty weights must have shape ({p},), got {np.shape(w)}")


def _check_ws_size(ws_size, loss, n, p, form):
    if ws_size is None:
        return default_ws_size(loss, n, p, form)
    if not isinstance(ws_size, (int, np.integer)) or ws_size < 0:
        raise ValueError(f"ws_size must be a non-negative integer or None, got {ws_size!r}")
    return int(min(ws_size, p))


def _arg(x, dtype):
    """``x`` as an array of ``dtype`` for a jitted call: by numpy when concrete, as eager ``jnp``
    conversions each compile a small program on first use."""
    if isinstance(x, (jax.core.Tracer, jax.Array)):
        return jnp.asarray(x, dtype)
    return np.asarray(x, dtype)


def _init_coef(init, p, dtype):
    if init is None:
        return np.zeros(p, dtype)
    if isinstance(init, FitResult):
        init = init.coef
    elif isinstance(init, tuple):
        init = init[0]
    w0 = jnp.asarray(init, dtype)
    if w0.shape != (p,):
        raise ValueError(f"init must have shape ({p},), got {w0.shape}")
    _check_finite("init", w0)
    return w0


def fit(
    X,
    y,
    penalty,
    loss: str = "squared",
    fit_intercept: bool = True,
    sample_weight=None,
    tol: float | None = None,
    max_iter: int = 20_000,
    init=None,
    *,
    form: str = "auto",
    check_every: int = 10,
    ws_size: int | None = None,
) -> FitResult:
    r"""Fit a penalized linear model by accelerated proximal gradient.

    Minimizes :math:`\sum_i s_i\,\ell(y_i, x_i^\top w + b) + P(w)` with
    :math:`s_i` the normalized sample weights (:math:`1/n` by default), so for the
    squared loss and ``L1(alpha)`` this is scikit-learn's
    ``Lasso(alpha=alpha)`` objective :math:`\frac{1}{2n}\|y - Xw - b\|^2 + \alpha\|w\|_1`,
    and for the logistic loss (labels in {0, 1}) it is
    ``LogisticRegression(penalty="l1", C=1 / (n * alpha))`` rescaled by :math:`1/n`.
    The intercept is never penalized.

    Args:
      X: ``(n, p)`` design matrix: an array, or a ``scipy.sparse`` matrix (CSR, CSC, ...) or a
        ``jax.experimental.sparse.BCOO``, which is never densified (centred and scaled inside the products).
      y: ``(n,)`` targets (labels in {0, 1} for ``loss="logistic"``).
      penalty: a penalty from :mod:`jaxl1.penalties` (``L1``, ``ElasticNet``, ...).
      loss: ``"squared"``, ``"logistic"``, or a loss object of the datafit protocol (see
        :mod:`jaxl1.losses`; for example a subclass of :class:`jaxl1.Loss`).
      fit_intercept: fit an unpenalized intercept.
      sample_weight: optional ``(n,)`` non-negative weights (weighted means).
      tol: stop when the duality gap is at most ``tol * P0``, ``P0`` the objective
        at ``w = 0`` with the intercept at its optimum.  Default ``1e-6`` in float64,
        ``1e-4`` in float32.
      max_iter: the most iterations (proximal-gradient and conjugate-gradient steps).
      init: optional starting coefficients (``(p,)`` array or a ``FitResult``).
      form: ``"auto"`` (the Gram matrix for the squared loss when ``n >= p``),
        ``"gram"`` or ``"data"``.
      check_every: iterations between duality-gap evaluations.
      ws_size: working-set size for L1-type penalties (``L1``, ``ElasticNet``,
        ``NonNegativeL1``): each round solves a dense subproblem on this many
        coordinates (prox-Newton for the logistic loss). ``None`` picks it from
        the shapes (all coordinates in the Gram form); ``0`` turns working sets off.

    Returns:
      A :class:`FitResult` with ``coef``, ``intercept``, ``gap``, ``n_iter``,
      ``converged`` and ``status``; ``converged`` is ``False`` when ``max_iter`` was
      reached, and then (with concrete inputs) a :class:`ConvergenceWarning` is emitted.

    Raises:
      ValueError: bad shapes, NaN/inf, negative weights, unknown ``loss``, labels
        outside {0, 1} for the logistic loss, a single class among the samples of
        positive weight (logistic), a negative ``tol``, a bool for a number, values
        of ``X`` or ``y`` beyond what the solver handles in their dtype (about 1e151
        in float64 and 1e16 in float32; 1e75 and 4e7 for a penalty without
        ``scaled``, such as ``GroupL1``).  A hyperparameter of the wrong type raises
        :class:`jaxl1.InvalidParameterError`, both a ``ValueError`` and a ``TypeError``.

    Examples:
      >>> import numpy as np, jaxl1
      >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
      >>> y = np.array([1.0, 0.0, 1.0, 2.0])
      >>> res = jaxl1.fit(X, y, jaxl1.L1(0.1))
      >>> res.coef.round(3), bool(res.converged)
      (Array([0.8, 0. ], dtype=float32), True)
    """
    X, y, s = validate_data(X, y, sample_weight, loss)
    n, p = X.shape
    _validation.reject_bools(tol=tol, max_iter=max_iter, ws_size=ws_size)
    tol = _check_tol_iter(tol, max_iter, X.dtype)
    _check_penalty(penalty, p)
    check_every = _validation.check_positive_int("check_every", check_every)
    _validation.check_magnitude(X, y, scaled=scalable(penalty))
    _validation.check_two_classes(y, s, get_loss(loss).name)
    form = choose_form(loss, n, p, form, sparse=_design.is_sparse(X))
    ws_size = _check_ws_size(ws_size, loss, n, p, form)
    w0 = _init_coef(init, p, X.dtype)
    penalty = jax.tree.map(lambda a: _arg(a, X.dtype), penalty)
    res = _fit_jit(
        X, y, s, penalty, w0, _arg(tol, X.dtype), _arg(max_iter, np.int32),
        loss=get_loss(loss), fit_intercept=bool(fit_intercept), form=form, check_every=check_every,
        ws_size=ws_size,
    )
    warn_if_stopped("jaxl1.fit", res.status, max_iter)
    return res

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
* The group penalties (``GroupL1`` with ``groups``, ``SparseGroupL1``) take working
  sets of whole groups, one problem at a time on a CPU (FISTA on every coordinate
  under ``vmap`` or on an accelerator).
* Other penalties (``L2``, ``GroupL1`` by ``axis``) use FISTA with O'Donoghue–Candès gradient
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
from ._validation import as_arg
from .implicit import differentiable_solve, solution_tangent, zero_tangent
from .losses import get_loss, is_quadratic
from .penalties import Bounded, bounded_and_scaled
from .solvers import (
    certificate_of,
    choose_form,
    default_tol,
    default_ws_size,
    init_intercept,
    intercept_out,
    prepare,
    rows_of,
    scalable,
    solve,
    standardizing_scale,
)
from .solvers._problem import host_moments, host_moments_apply, sparse_gram_choice, weighted_gram
from .solvers._sparse import is_bcoo

__all__ = ["FitResult", "fit", "default_tol", "ConvergenceWarning", "STATUS", "status_of", "warn_if_stopped"]

PyTree = Any


class ConvergenceWarning(UserWarning):
    """A solve stopped before its tolerance was met (at ``max_iter``, or on non-finite values).

    ``fit``, ``fit_path`` and ``cross_validate`` emit it when called with concrete inputs; nothing is
    emitted under a trace (``jit``, ``vmap``, ``grad``), where ``converged`` and ``status`` tell.
    """


STATUS = ("converged", "max_iter", "nonfinite")  # the names of the codes of ``status``


def status_of(converged, coef, intercept, gap):
    """Why each solve stopped, as an index into :data:`STATUS` (``coef`` has the lanes' axes first).

    Concrete results are read on the host (numpy): a handful of eager JAX operations would each compile
    a program of their own on a first call (about 20 ms apiece on a CPU).
    """
    arrays = (converged, coef, intercept, gap)
    concrete = not any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(arrays))
    xp = np if concrete else jnp
    if concrete:
        converged, coef, intercept, gap = jax.device_get(arrays)
    lanes = xp.ndim(gap)  # the axes beyond the lanes' are the coefficients' own ((p,) or (p, K))
    allfinite = lambda a: xp.all(xp.isfinite(a), axis=tuple(range(lanes, xp.ndim(a))))
    finite = xp.isfinite(gap) & allfinite(coef) & allfinite(intercept)
    status = xp.where(converged, 0, xp.where(finite, 1, 2)).astype(np.int32)
    return jax.device_put(status) if concrete else status  # (jnp.asarray would compile a program)


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
        return _design.affine(X, self.coef, self.intercept)


def _fit_impl(X, y, s, pen, w0, tol, max_iter, offset=None, moments=None, *, loss, fit_intercept, form, check_every,
              ws_size, many=False):
    loss_c = get_loss(loss)
    squared = is_quadratic(loss_c)
    fit_b = fit_intercept and not squared
    prob = prepare(X, y, s, loss=loss, fit_intercept=fit_intercept, form=form, scale=scalable(pen), offset=offset,
                   moments=moments)
    b0 = init_intercept(prob, loss, fit_b, w0) if form == "data" else jnp.zeros(w0.shape[1:], X.dtype)
    w, b, gap, n_iter, conv = solve(
        prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b, check_every=check_every,
        ws_size=ws_size, many=many,
    )
    return FitResult(w, intercept_out(prob, w, b, fit_intercept, squared), gap, n_iter, conv,
                     certificate_of(loss_c, pen))


_CFG = ("loss", "fit_intercept", "form", "check_every", "ws_size")


def _fit_tangent(cfg, res, primals, tangents):
    """Implicit differentiation at the solution (see :mod:`jaxl1.implicit`); the loop is not differentiated."""
    X, y, s, pen = primals[:4]
    dX, dy, ds, dpen = tangents[:4]
    kw = dict(zip(_CFG, cfg))
    dw, db = solution_tangent(res.coef, res.intercept, X, y, s, pen, dX, dy, ds, dpen,
                              loss=kw["loss"], fit_intercept=kw["fit_intercept"], offset=primals[7])
    return dataclasses.replace(zero_tangent(res), coef=dw, intercept=db)


def _mapped_on_cpu(solve, *, form, fit_intercept):
    """``solve(X, y, s, ..., moments)`` such that ``jax.vmap`` of it on a CPU runs the problems one after the
    other (``lax.map``).

    A vmapped solve runs every problem's loops in lockstep until the slowest has converged; on a CPU, where
    the batch buys no parallelism, the problems one after the other are faster (1000 lassos of 200x50 with
    their own responses: 0.13 s mapped against 0.38 s in lockstep; 100 paths of them: 0.25 s against 0.68 s).
    When ``X`` and the sample weights are shared by the problems (only ``y``, the strengths or the penalty
    vary) in the Gram form, the Gram matrix is computed once, before the map, and passed to every solve as
    its ``moments`` (the last argument).  The mapped solve is ``solve(..., many=True)``: compiled code that
    only pays over many problems (see :func:`jaxl1.solvers.solve_ws`).  On an accelerator the batch is kept.
    Only the solve is mapped: the implicit derivatives stay batched.
    """
    if jax.default_backend() != "cpu":
        return solve

    def mapped(solve_fn):
        f = jax.custom_batching.custom_vmap(solve_fn)

        @f.def_vmap
        def rule(axis_size, in_batched, *args):
            args, in_batched = list(args), list(in_batched)
            X, s = args[0], args[2]
            if form == "gram" and args[-1] is None and not in_batched[0] and not in_batched[2] and not is_bcoo(X):
                u = s @ X if fit_intercept else jnp.zeros(X.shape[1], X.dtype)
                R = weighted_gram(X - u, s)
                args[-1], in_batched[-1] = (R, u, jnp.diag(R)), (False, False, False)
            leaves, tree = jax.tree.flatten(args)
            batched = tree.flatten_up_to(in_batched)
            each = [a for a, b in zip(leaves, batched) if b]
            g = mapped(partial(solve, many=True))  # (a vmap inside the map comes back here)

            def one(row):
                it = iter(row)
                return g(*tree.unflatten([next(it) if b else a for a, b in zip(leaves, batched)]))

            out = jax.lax.map(one, each)
            return out, jax.tree.map(lambda _: True, out)

        return f

    return mapped(solve)


def _fit_mapped(cfg, *args):
    kw = dict(zip(_CFG, cfg))
    return _mapped_on_cpu(partial(_fit_impl, **kw), form=kw["form"], fit_intercept=kw["fit_intercept"])(*args)


_fit_diff = differentiable_solve(_fit_mapped, _fit_tangent)


@partial(jit, static_argnames=_CFG + ("standardize",))
def _fit_jit(X, y, s, pen, w0, tol, max_iter, bounds=None, offset=None, moments=None, *, loss, fit_intercept, form,
             check_every, ws_size, standardize=False):
    # the box, and the penalty on the standardized columns' coefficients (computed here so that it is
    # differentiated through X and s)
    pscale = rows_of(standardizing_scale(X, s, fit_intercept), w0) if standardize else None
    pen = bounded_and_scaled(pen, bounds, pscale)
    return _fit_diff((loss, fit_intercept, form, check_every, ws_size), X, y, s, pen, w0, tol, max_iter, offset,
                     moments)


DEFAULT_MAX_ITER = 20_000  # fit's default iteration budget


def _fit_checked(X, y, s, penalty, *, loss, fit_intercept, tol=None, max_iter=DEFAULT_MAX_ITER, w0=None,
                 form="auto", check_every=10, ws_size=None, standardize=False, bounds=None,
                 offset=None) -> FitResult:
    """:func:`fit` on arguments checked already: ``X``, ``y``, ``s`` as :func:`jaxl1._validation.validate_data`
    returns them, ``loss`` a loss object.

    Fills in the defaults the way :func:`fit` does (``tol``, ``form``, ``ws_size``, a zero ``w0``) and runs
    the compiled solve; checks nothing and does not warn.  ``fit`` ends here, and so do the fits inside
    :func:`jaxl1.lambda_max` and :func:`jaxl1.tune`, whose data are validated once at their own boundary.
    """
    n, p = X.shape
    tol = default_tol(X.dtype) if tol is None else tol
    sparse = _design.is_sparse(X)
    form = choose_form(loss, n, p, form, sparse=sparse, gram=sparse_gram_choice(X, s) if sparse else None)
    # a large Gram matrix by numpy's BLAS on X in place, before the program (see host_moments); a sparse X's
    # by scipy, or the data form where its moments overflow
    moments = host_moments(X, s, fit_intercept) if host_moments_apply(X, form) else None
    form = "data" if (sparse and moments is None) else form
    ws_size = default_ws_size(loss, n, p, form) if ws_size is None else ws_size
    w0 = np.zeros((p,) + y.shape[1:], X.dtype) if w0 is None else w0
    penalty = jax.tree.map(lambda a: as_arg(a, X.dtype), penalty)
    return _fit_jit(
        X, y, s, penalty, w0, as_arg(tol, X.dtype), as_arg(max_iter, np.int32), bounds, offset, moments,
        loss=loss, fit_intercept=bool(fit_intercept), form=form, check_every=check_every, ws_size=ws_size,
        standardize=bool(standardize),
    )


def fit(
    X,
    y,
    penalty,
    loss: str = "squared",
    fit_intercept: bool = True,
    sample_weight=None,
    tol: float | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    init=None,
    *,
    form: str = "auto",
    check_every: int = 10,
    ws_size: int | None = None,
    standardize: bool = False,
    bounds=None,
    offset=None,
    devices=None,
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
      loss: ``"squared"``, ``"logistic"``, ``"multinomial"``, ``"poisson"``, or a loss object of the datafit protocol (see
        :mod:`jaxl1.losses`; for example a subclass of :class:`jaxl1.Loss`).
      fit_intercept: fit an unpenalized intercept.
      sample_weight: optional ``(n,)`` non-negative weights (weighted means).
      tol: stop when the duality gap is at most ``tol * P0``, ``P0`` the objective
        at ``w = 0`` with the intercept at its optimum.  Default ``1e-6`` in float64,
        ``1e-4`` in float32.
      max_iter: the most iterations (proximal-gradient and conjugate-gradient steps).
      init: optional starting coefficients (``(p,)`` array or a ``FitResult``).
      form: ``"auto"`` (the Gram matrix for the squared loss when ``n >= p``; for a sparse ``X`` given by value
        on a CPU, also at most 4096 columns and ``p^2`` at most 64 times its stored entries, its moments by
        scipy), ``"gram"`` or ``"data"``.
      check_every: iterations between duality-gap evaluations.
      ws_size: working-set size for L1-type penalties (``L1``, ``ElasticNet``,
        ``NonNegativeL1``): each round solves a dense subproblem on this many
        coordinates (prox-Newton for the logistic loss). ``None`` picks it from
        the shapes (64 in the Gram form, where a round also takes 4 times as many
        coordinates, or all of them, once the support outgrows it; under ``vmap`` or on
        an accelerator every round takes all of them); ``0`` turns working sets off.
        For ``GroupL1`` with ``groups`` and ``SparseGroupL1`` a round takes whole groups,
        as many as hold ``ws_size`` coordinates on average (4 times as many, or all
        groups, once more groups are nonzero than a round holds).
      standardize: penalize the coefficients of the standardized columns, as glmnet's
        ``standardize=TRUE``: the penalty is ``P(sd * w)``, ``sd`` the columns' weighted standard
        deviations (``ddof=0``; about 0 without an intercept); ``coef`` and ``intercept`` are on the
        original scale, the same as standardizing by hand, fitting and mapping back.  A constant
        column keeps a zero coefficient.  Needs a separable penalty.
      bounds: ``(lower, upper)``, each ``None``, a number or a ``(p,)`` array: box constraints on
        the coefficients (glmnet's ``lower.limits``/``upper.limits``; ``(0, None)`` is scikit-learn's
        ``positive=True``), exact in the prox, the gap, the working sets and the gradients (see
        :class:`jaxl1.Bounded`).  The box must hold 0.
      offset: optional ``(n,)`` array added to the linear predictor, ``z = Xw + b + offset``
        (glmnet's ``offset``: the log exposure of a Poisson model of rates); ``(n, K)`` or ``(n,)``
        with a 2-D ``y``.  It is not part of the model: ``predict`` leaves it out, add it back.
      devices: optional devices to split the rows over, for tall data (``None``: one device, JAX's default).
        With several, ``X``, ``y``, the weights and the offset are split by rows as with
        ``jaxl1.fit_path(..., shard="rows")``: each device holds only its rows and the products over the
        samples are reduced across devices; the answer is that of one device.  A dense ``X`` only.

    Returns:
      A :class:`FitResult` with ``coef``, ``intercept``, ``gap``, ``n_iter``,
      ``converged`` and ``status``; ``converged`` is ``False`` when ``max_iter`` was
      reached, and then (with concrete inputs) a :class:`ConvergenceWarning` is emitted.

    Many problems at once: ``jax.vmap`` over ``y``, the penalty, the weights or ``X`` fits them all in one
    compiled call.  On a CPU they are solved one after the other inside it (no problem waits for the
    slowest), with the Gram matrix computed once when ``X`` and the weights are shared; on an accelerator
    they run as one batch.

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
    X, y, s = _validation.validate_data(X, y, sample_weight, loss)
    n, p = X.shape
    loss = get_loss(loss)
    _validation.reject_bools(tol=tol, max_iter=max_iter, ws_size=ws_size)
    tol = _validation.check_tol_iter(tol, max_iter, X.dtype)
    coef_shape = (p,) + y.shape[1:]  # (p, K) for a 2-D y (several responses, or the classes of multinomial)
    _validation.check_penalty(penalty, p, coef_shape)
    penalty = _validation.penalty_for(penalty, coef_shape)
    _validation.check_standardize(standardize, penalty)
    bounds = _validation.check_bounds(bounds, p, X.dtype, multi_output=len(coef_shape) > 1)
    if bounds is not None:
        Bounded(penalty)  # refuses a penalty a box cannot go with, naming it
    check_every = _validation.check_integer("check_every", check_every)
    _validation.check_magnitude(X, y, scaled=scalable(penalty))
    _validation.check_two_classes(y, s, loss)
    devices = None if devices is None else _validation.check_devices(devices)
    sharded = devices is not None and len(devices) > 1
    sparse = _design.is_sparse(X)
    # (a sparse X's Gram form: its moments by scipy in _fit_checked, which keeps the data form where they overflow)
    form = _validation.check_form(loss, n, p, form, sparse=sparse,
                                  gram=sparse_gram_choice(X, s) if (sparse and not sharded) else None)
    ws_size = None if ws_size is None else _validation.check_ws_size(ws_size, loss, n, p, form)
    w0 = _validation.init_coef(init, coef_shape, X.dtype)
    offset = _validation.check_offset(offset, y)
    if sharded:
        X, y, s, offset = _design.shard_rows(devices, X, y, s, offset)
    res = _fit_checked(X, y, s, penalty, loss=loss, fit_intercept=fit_intercept, tol=tol, max_iter=max_iter, w0=w0,
                       form=form, check_every=check_every, ws_size=ws_size, standardize=standardize, bounds=bounds,
                       offset=offset)
    warn_if_stopped("jaxl1.fit", res.status, max_iter)
    return res

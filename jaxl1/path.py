r"""Regularization paths and cross-validation.

``fit_path`` solves the problem of :func:`jaxl1.fit` for a decreasing grid of
strengths :math:`\lambda_1 > \dots > \lambda_K` in one compiled call.  The grid
is processed in chunks of ``chunk_size`` consecutive strengths: a chunk is one
vmapped solve, warm-started from the previous chunk's last solution, so that a
lane only waits for the slowest lane of its own chunk (a vmapped
``while_loop`` runs until all of its lanes are done).  With the squared loss and
``n >= p`` the data enter once through the Gram matrix.

``cross_validate`` fits the same path on every training split (inside the same
compiled call, folds mapped one after the other) and scores the held-out parts.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _design, _validation
from ._jit import enable_x64, jit
from ._validation import as_arg
from .implicit import differentiable_solve, solution_tangent, zero_tangent
from .losses import get_loss, heldout_scores, intercept_of, is_quadratic
from .penalties import L1, L21, MCP, SCAD, ElasticNet, GroupL1, NonNegativeL1, SparseGroupL1, bounded_and_scaled
from .solver import DEFAULT_MAX_ITER, FitResult, _fit_checked, _mapped_on_cpu, status_of, warn_if_stopped
from .solvers import (
    certificate_of,
    init_intercept,
    intercept_out,
    prepare,
    rmul,
    rows_of,
    scalable,
    solve,
    standardizing_scale,
)
from .solvers._gap import smooth_value
from .solvers._problem import (column_peaks, fold_moments, host_moments, host_moments_apply, side_by_side,
                               sparse_fold_moments, sparse_gram_choice)

__all__ = ["PathResult", "CVResult", "lambda_max", "lambda_grid", "fit_path", "cross_validate"]


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
@partial(
    jax.tree_util.register_dataclass,
    data_fields=["lambdas", "coef", "intercept", "gap", "n_iter", "converged"],
    meta_fields=["certificate"],
)
@dataclass(frozen=True)
class PathResult:
    """A regularization path (a pytree).

    Attributes:
      lambdas: ``(K,)`` strengths, decreasing.
      coef: ``(K, p)`` coefficients, one row per strength (``(K, p, T)`` for a 2-D ``y``).
      intercept: ``(K,)`` intercepts (``(K, T)`` for a 2-D ``y``).
      gap: ``(K,)`` duality gaps (absolute), or the optimality measure for a loss without a
        conjugate (see ``certificate`` and :class:`jaxl1.FitResult`).
      n_iter: ``(K,)`` iterations per strength.
      converged: ``(K,)`` whether each strength reached ``tol``.
      certificate: ``"duality_gap"`` or ``"optimality"`` (what ``gap`` measures).
    """

    lambdas: jax.Array
    coef: jax.Array
    intercept: jax.Array
    gap: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    certificate: str = "duality_gap"

    def predict(self, X):
        """Linear predictors ``X @ coef.T + intercept`` for every strength: ``(n_new, K)`` (log-odds for logistic;
        ``(n_new, K, T)`` for a 2-D ``y``, the classes' scores for multinomial)."""
        if self.coef.ndim == 3:
            return _design.scores(X, self.coef, self.intercept, self.coef.dtype)
        return _design.affine(X, self.coef, self.intercept, self.coef.dtype, transpose=True)

    @property
    def status(self):
        """``(K,)`` why each solve stopped, an index into ``jaxl1.STATUS`` (see :class:`jaxl1.FitResult`)."""
        return status_of(self.converged, self.coef, self.intercept, self.gap)

    def interpolate(self, lambdas):
        """Coefficients and intercepts at any strengths, linearly interpolated in ``log lambda`` between the
        two neighbouring strengths of the path (glmnet's ``coef(fit, s=)`` without ``exact``).

        A strength above the path's first is given the first solution, one below its last the last (no
        extrapolation).  At a strength of the path the result is that solution exactly.  Works under ``jit``.

        Args:
          lambdas: a positive number or a 1-D array of positive strengths, in any order.

        Returns:
          ``(coef, intercept)``: ``(m, p)`` and ``(m,)`` for ``m`` strengths (``(p,)`` and ``()`` for a
          number; a trailing ``T`` or ``K`` axis with a 2-D ``y``).

        Raises:
          ValueError: ``lambdas`` not positive or not finite (with concrete values), or not 0-D or 1-D.

        Examples:
          >>> import numpy as np, jaxl1
          >>> from sklearn.datasets import load_diabetes
          >>> X, y = load_diabetes(return_X_y=True)
          >>> path = jaxl1.fit_path(X, y, n_lambdas=20)
          >>> coef, b = path.interpolate(path.lambdas[3])
          >>> bool((coef == path.coef[3]).all()), path.interpolate([1.0, 0.5])[0].shape
          (True, (2, 10))
        """
        lam = _validation.check_interpolation_strengths(lambdas)
        # one compiled program (its operations run eagerly compiled 33 programs on a first call: 0.96 s)
        return _interpolate_jit(self.lambdas, self.coef, self.intercept, lam)

    def at(self, lambdas, X=None, y=None, *, exact: bool = False, **fit_path_options):
        """Coefficients and intercepts at any strengths (glmnet's ``coef(fit, s=, exact=)``).

        With ``exact=False`` (default) they are interpolated between the path's solutions
        (:meth:`interpolate`).  With ``exact=True`` the path is fitted again on its strengths and the new
        ones together (:func:`fit_path` with ``lambdas`` the merged grid, warm-started along it), and the
        solutions at ``lambdas`` are returned: pass the data ``X``, ``y`` and the options the path was
        fitted with (``loss``, ``l1_ratio``, ``weights``, ``tol``, ...), as glmnet asks for ``x`` and ``y``.

        Args:
          lambdas: a positive number or a 1-D array of positive strengths, in any order.
          X, y: the path's data (``exact=True`` only).
          exact: refit instead of interpolating.
          **fit_path_options: :func:`fit_path`'s options, for the refit (not ``lambdas``).

        Returns:
          ``(coef, intercept)``, shaped as by :meth:`interpolate`.

        Raises:
          ValueError: naming ``X`` (``exact=True`` without the data, or data or options given without it),
            ``lambdas``, or as :func:`fit_path`.

        Examples:
          >>> import jaxl1
          >>> from sklearn.datasets import load_diabetes
          >>> X, y = load_diabetes(return_X_y=True)
          >>> path = jaxl1.fit_path(X, y, n_lambdas=10)
          >>> coef, b = path.at(0.5, X, y, exact=True)  # the lasso at lambda = 0.5, not on the grid
          >>> coef.shape
          (10,)
        """
        if not exact:
            if X is not None or y is not None or fit_path_options:
                raise ValueError("X: the data and fit_path's options are for exact=True; without it the "
                                 "coefficients are interpolated from the path")
            return self.interpolate(lambdas)
        if X is None or y is None:
            raise ValueError("X: exact=True refits the path, so it needs the data X and y it was fitted on")
        lam = np.asarray(_validation.check_interpolation_strengths(lambdas), dtype=np.float64)
        scalar = lam.ndim == 0
        lam = np.atleast_1d(lam)
        grid = np.unique(np.concatenate([np.asarray(self.lambdas, np.float64), lam]))[::-1]  # decreasing
        refit = fit_path(X, y, lambdas=grid, **fit_path_options)
        rows = np.searchsorted(-grid, -lam)
        coef, intercept = refit.coef[rows], refit.intercept[rows]
        return (coef[0], intercept[0]) if scalar else (coef, intercept)


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["lambdas", "mean_score", "std_score", "fold_scores", "lambda_best", "lambda_1se", "path",
                 "fold_converged"],
    meta_fields=[],
)
@dataclass(frozen=True)
class CVResult:
    """Cross-validation over a path.

    Attributes:
      lambdas: ``(K,)`` the strengths.
      mean_score: ``(K,)`` held-out score averaged over folds (mean squared error
        for ``loss="squared"``, mean deviance for ``"logistic"``; lower is better).
      std_score: ``(K,)`` the standard error of ``mean_score`` over folds
        (standard deviation with ``ddof=1`` divided by ``sqrt(n_folds)``, glmnet's ``cvsd``).
      fold_scores: ``(n_folds, K)`` the score of each fold.
      lambda_best: the strength with the smallest ``mean_score``.
      lambda_1se: the largest strength whose ``mean_score`` is within one
        ``std_score`` of the minimum (glmnet's ``lambda.1se``).
      path: the path refitted on all the data.
      fold_converged: ``(n_folds, K)`` whether each fold's fit met ``tol`` at
        each strength (a score from a fit stopped at ``max_iter`` is less reliable).

    The two selected models, refitted on all the data, are rows of ``path``:
    :meth:`model` returns one as a :class:`jaxl1.FitResult`, ``coef_best`` /
    ``intercept_best`` and ``coef_1se`` / ``intercept_1se`` give their coefficients,
    and :meth:`predict` their linear predictor.  They are the very rows of ``path``
    (``cv.coef_best`` equals ``cv.path.coef[cv.index("best")]`` exactly), and all of
    them work under ``jit``.

    Examples:
      >>> import numpy as np, jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> cv = jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=30)
      >>> i = cv.index("1se")
      >>> bool(cv.lambdas[i] == cv.lambda_1se), bool((cv.coef_1se == cv.path.coef[i]).all())
      (True, True)
      >>> model = cv.model("best")          # a FitResult: coef, intercept, gap, converged, predict
      >>> model.coef.shape, cv.predict(X[:3], which="1se").shape
      ((10,), (3,))
    """

    lambdas: jax.Array
    mean_score: jax.Array
    std_score: jax.Array
    fold_scores: jax.Array
    lambda_best: jax.Array
    lambda_1se: jax.Array
    path: PathResult
    fold_converged: jax.Array

    def index(self, which: str = "best") -> jax.Array:
        """The position on the grid of ``lambda_best`` (``which="best"``) or ``lambda_1se`` (``"1se"``).

        Found as :func:`cross_validate` chose them: the first smallest ``mean_score``, and the
        first (largest) strength within one standard error of it.
        """
        i = self._index(which)
        if not isinstance(i, int):
            return i
        return jax.device_put(np.asarray(i, jax.dtypes.canonicalize_dtype(np.int64)))  # jnp.argmin's dtype

    def _index(self, which):
        """:meth:`index`, as a Python ``int`` for concrete scores (found by numpy: on a first call each eager
        operation would compile a program)."""
        if which not in ("best", "1se"):
            raise ValueError(f"which must be 'best' or '1se', got {which!r}")
        traced = any(isinstance(a, jax.core.Tracer) for a in (self.mean_score, self.std_score))
        xp = jnp if traced else np
        mean, std = (a if traced else np.asarray(a) for a in (self.mean_score, self.std_score))
        i_best = xp.argmin(mean)
        if which == "best":
            return i_best if traced else int(i_best)
        within = mean <= mean[i_best] + std[i_best]
        i = xp.argmax(within)  # the grid decreases: the first strength within is the largest
        return i if traced else int(i)

    def model(self, which: str = "best"):
        """The model at ``lambda_best`` or ``lambda_1se``, fitted on all the data, as a :class:`jaxl1.FitResult`."""
        i = self._index(which)
        p = self.path
        return FitResult(*(_row(a, i) for a in (p.coef, p.intercept, p.gap, p.n_iter, p.converged)), p.certificate)

    @property
    def coef_best(self) -> jax.Array:
        """``(p,)`` coefficients at ``lambda_best``."""
        return _row(self.path.coef, self._index("best"))

    @property
    def intercept_best(self) -> jax.Array:
        """The intercept at ``lambda_best``."""
        return _row(self.path.intercept, self._index("best"))

    @property
    def coef_1se(self) -> jax.Array:
        """``(p,)`` coefficients at ``lambda_1se``."""
        return _row(self.path.coef, self._index("1se"))

    @property
    def intercept_1se(self) -> jax.Array:
        """The intercept at ``lambda_1se``."""
        return _row(self.path.intercept, self._index("1se"))

    def predict(self, X, which: str = "best") -> jax.Array:
        """``(n_new,)`` linear predictor ``X @ coef + intercept`` of the model at ``lambda_best`` or ``lambda_1se``.

        As :meth:`PathResult.predict` and :meth:`FitResult.predict`, this is the linear
        predictor for every loss: for ``loss="logistic"`` the log-odds of class 1, so that
        ``jax.nn.sigmoid(cv.predict(X))`` is its probability and ``cv.predict(X) > 0`` the class.
        """
        i = self._index(which)
        return _design.affine(X, _row(self.path.coef, i), _row(self.path.intercept, i), self.path.coef.dtype)


def _interpolate(lambdas, coef, intercept, lam):
    """:meth:`PathResult.interpolate` of the path ``(lambdas, coef, intercept)`` at ``lam`` (0-D or 1-D)."""
    scalar = jnp.ndim(lam) == 0
    lam = jnp.atleast_1d(lam).astype(lambdas.dtype)
    # the path's strengths decrease: on an increasing axis, -log lambda
    t = -jnp.log(lambdas)
    u = jnp.clip(-jnp.log(lam), t[0], t[-1])
    hi = jnp.clip(jnp.searchsorted(t, u, side="right"), 1, t.shape[0] - 1) if t.shape[0] > 1 else jnp.zeros_like(
        u, dtype=jnp.int32)
    lo = jnp.maximum(hi - 1, 0)
    span = t[hi] - t[lo]
    r = jnp.where(span > 0, (u - t[lo]) / jnp.where(span > 0, span, 1.0), 0.0)

    def mix(a):  # exact at r = 0 and r = 1 (finite solutions)
        w = r.reshape((-1,) + (1,) * (a.ndim - 1))
        return (1 - w) * a[lo] + w * a[hi]

    coef, intercept = mix(coef), mix(intercept)
    return (coef[0], intercept[0]) if scalar else (coef, intercept)


_interpolate_jit = jit(_interpolate)


def _row(a, i):
    """``a[i]``; by numpy and put for a concrete array and a Python ``int`` (an eager index compiles a program)."""
    if isinstance(i, int) and not isinstance(a, jax.core.Tracer):
        return jax.device_put(np.asarray(a)[i])
    return a[i]


# --------------------------------------------------------------------------- #
# penalties along a path
# --------------------------------------------------------------------------- #
_FOLDED = {"mcp": (MCP, "gamma"), "scad": (SCAD, "a")}  # the non-convex penalties, and their shape parameter


def _make_penalty(kind, lam, l1_ratio, weights):
    """The path's penalty at strength ``lam``; for ``"mcp"`` and ``"scad"`` the ``l1_ratio`` slot holds the
    penalty's ``gamma`` (or ``a``), checked at the boundary (and maybe a tangent here: not checked again)."""
    if kind in _FOLDED:
        cls, name = _FOLDED[kind]
        pen = object.__new__(cls)
        for field, value in (("strength", lam), (name, l1_ratio), ("weights", weights)):
            object.__setattr__(pen, field, value)
        return pen
    if _validation.is_group_kind(kind):  # built without the constructor's checks (traced values)
        pen = object.__new__(GroupL1 if kind[0] == "group" else SparseGroupL1)
        fields = {"strength": lam, "groups": kind[1], "weights": weights}
        fields.update({"axis": None} if kind[0] == "group" else {"l1_ratio": l1_ratio})
        for field, value in fields.items():
            object.__setattr__(pen, field, value)
        return pen
    if kind == "l1":
        return L1(lam, weights)
    if kind == "nonneg":
        return NonNegativeL1(lam)
    if kind == "l21":
        return L21(lam, weights)
    return ElasticNet(lam, l1_ratio, weights)


def _path_penalty(kind, lam, l1_ratio, weights, pscale, bounds=None):
    """The penalty at one strength of the path, with the box ``bounds``; ``pscale`` (``standardize``) puts
    it on the standardized columns' coefficients (:func:`jaxl1.solvers.standardizing_scale`)."""
    return bounded_and_scaled(_make_penalty(kind, lam, l1_ratio, weights), bounds, pscale)


# --------------------------------------------------------------------------- #
# lambda_max and the grid
# --------------------------------------------------------------------------- #
@partial(jit, static_argnames=("loss", "fit_intercept"))
def _null_gradient(X, y, s, offset=None, *, loss, fit_intercept):
    """Gradient of the loss in ``w`` at ``w = 0`` with the intercept at its optimum (``offset`` in the predictor)."""
    loss = get_loss(loss)
    zeros = jnp.zeros_like(y) if offset is None else offset
    b = intercept_of(loss, y, zeros, s) if fit_intercept else jnp.zeros(y.shape[1:], y.dtype)
    return rmul(loss.grad(y, zeros + b, s), X)


def lambda_max(
    X, y, loss: str = "squared", l1_ratio: float | None = None, fit_intercept: bool = True,
    sample_weight=None, weights=None, positive: bool = False, *, standardize: bool = False, bounds=None,
    grouped: bool = False, offset=None, groups=None,
) -> jax.Array:
    r"""The smallest strength whose solution is all zero.

    With ``g`` the gradient of the loss at ``w = 0`` (intercept at its optimum),
    :math:`\lambda_{\max} = \max_j |g_j| / (\rho\,c_j)` over coordinates with a
    positive penalty factor :math:`c_j` (``weights``), :math:`\rho` = ``l1_ratio``;
    with ``positive=True`` only :math:`-g_j > 0` counts.  For the squared loss this
    is scikit-learn's ``alpha_max``.  If some ``weights`` are zero, those
    coordinates are first fitted without penalty.  The formula is the penalty's own
    (``max_strength`` of the path's penalty at unit strength), so ``weights`` go with
    ``l1_ratio=1`` and ``positive=False``, as in :func:`fit_path`; ``positive=True``
    needs ``l1_ratio=1``.  ``standardize``, ``bounds`` and ``offset`` as in :func:`fit_path` (whose default
    grid starts here): the strength on the standardized scale, and only the directions the box allows.
    With a 2-D ``y`` (several responses, or ``loss="multinomial"``), :math:`g` is ``(p, K)``: the maximum
    runs over its entries, or with ``grouped=True`` (the :class:`jaxl1.L21` penalty) over its rows' norms.
    With ``groups`` (as in :func:`fit_path`: the group lasso, or the sparse-group lasso for
    ``0 < l1_ratio < 1``) it is :math:`\max_g \|g_g\|_2 / c_g` for the group lasso, ``c`` the groups'
    factors (``weights``, by default the square roots of the groups' sizes), and the sparse-group
    penalty's dual norm of :math:`g` otherwise.  ``l1_ratio=None`` is 1 (the lasso), or 0 with ``groups``.

    Examples:
      >>> import numpy as np, jaxl1
      >>> X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]]); y = np.array([1.0, 0.0, 2.0])
      >>> round(float(jaxl1.lambda_max(X, y)), 6)
      1.0
    """
    X, y, s = _validation.validate_data(X, y, sample_weight, loss)
    groups = _validation.check_groups(groups, X.shape[1])
    l1_ratio = _validation.resolve_l1_ratio(l1_ratio, groups)
    _validation.reject_bools(l1_ratio=l1_ratio)
    l1_ratio = _validation.check_l1_ratio(l1_ratio)
    if groups is None:
        _validation.check_has_lambda_max(l1_ratio)
    coef_shape = X.shape[1:] + y.shape[1:]
    _validation.check_group_options(groups, standardize=standardize, bounds=bounds, multi_output=len(coef_shape) > 1)
    w = (_validation.check_weights(weights, X.shape[1], X.dtype) if groups is None
         else _validation.check_group_weights(weights, groups, X.dtype))
    kind = _validation.path_penalty_kind(l1_ratio, positive, w, grouped=grouped, groups=groups)
    w = _path_weights(w, kind, coef_shape)
    loss = get_loss(loss)
    if _has_free(w):  # the unpenalized coordinates are fitted: check the data as fit does
        _validation.check_magnitude(X, y)
        _validation.check_two_classes(y, s, loss)
    _validation.check_standardize(standardize)
    box = _validation.check_bounds(bounds, X.shape[1], X.dtype, positive=positive, multi_output=len(coef_shape) > 1)
    pscale = _standardizing_factors(X, y, s, bool(fit_intercept), standardize)
    offset = _validation.check_offset(offset, y)
    lam = _lambda_max(X, y, s, loss=loss, kind=kind, l1_ratio=l1_ratio, weights=w, fit_intercept=bool(fit_intercept),
                      pscale=pscale, bounds=box, offset=offset)
    # finished before returning, as fit and fit_path are: the data may alias the caller's arrays on a CPU
    return lam if isinstance(lam, jax.core.Tracer) else jax.block_until_ready(lam)


def _path_weights(weights, kind, coef_shape):
    """The path's ``(p,)`` penalty factors as its penalty takes them: broadcast to a ``(p, K)`` coefficient
    matrix for the entrywise penalties (``L1``, ``ElasticNet``), one per row for ``L21``."""
    if kind == "l21" or _validation.is_group_kind(kind):  # one per row, or per group
        return weights
    return _validation.entry_factors(weights, coef_shape)


def _has_free(weights) -> bool:
    """Some coordinates have no penalty (a zero factor); in numpy (an eager ``jnp.any`` compiles a program)."""
    if weights is None:
        return False
    if isinstance(weights, jax.core.Tracer):  # unknown under jit: the general way (it holds without free ones too)
        return True
    return bool(np.any(np.asarray(weights) == 0))


def _lambda_max(X, y, s, *, loss, kind, l1_ratio, weights, fit_intercept, pscale=None, bounds=None, offset=None):
    """:func:`lambda_max` on checked arguments; checks nothing.

    ``X``, ``y``, ``s`` as :func:`jaxl1._validation.validate_data` returns them, ``loss`` a loss object,
    ``kind`` the path's penalty (``path_penalty_kind``), ``weights`` a ``(p,)`` array or ``None``.
    """
    if not _has_free(weights):
        return _null_strength(X, y, s, offset, l1_ratio, weights, pscale, bounds, loss=loss,
                              fit_intercept=fit_intercept, kind=kind)
    # fit the unpenalized coordinates first; a huge strength keeps the rest at zero
    g = _null_gradient(X, y, s, offset, loss=loss, fit_intercept=fit_intercept)
    big = 1e6 * (jnp.max(jnp.abs(g)) / jnp.min(jnp.where(weights > 0, weights, jnp.inf)) + 1.0)
    factors = weights
    if _validation.is_group_kind(kind):  # a group of factor 0 is free with the group lasso (not with an L1 share)
        factors = ((weights[jnp.asarray(kind[1])] > 0) | (kind[0] == "sgl")).astype(g.dtype)
    pen = L1(big, factors)
    # a tight fit: the gradient at it sets the grid's first strength, where the penalized part must be zero
    res = _fit_checked(X, y, s, pen, loss=loss, fit_intercept=fit_intercept, offset=offset,
                       tol=1e-12 if X.dtype == jnp.float64 else None)
    warn_if_stopped("jaxl1.fit", res.status, DEFAULT_MAX_ITER)
    z = X @ res.coef + res.intercept + (0.0 if offset is None else offset)
    g = rmul(loss.grad(y, z, s), X)
    return _max_strength(g, l1_ratio, weights, pscale, bounds, kind=kind)


@partial(jit, static_argnames=("loss", "fit_intercept", "kind"))
def _null_strength(X, y, s, offset, l1_ratio, weights, pscale, bounds, *, loss, fit_intercept, kind):
    """:func:`_lambda_max` without free coordinates: the null model's gradient through the penalty's
    ``max_strength``, in one compiled program."""
    g = _null_gradient(X, y, s, offset, loss=loss, fit_intercept=fit_intercept)
    return _max_strength(g, l1_ratio, weights, pscale, bounds, kind=kind)


def _standardizing_factors(X, y, s, fit_intercept, standardize):
    """The penalty factors of ``standardize`` (:func:`standardizing_scale`, shaped like a row of ``y``), or
    ``None``."""
    return rows_of(standardizing_scale(X, s, fit_intercept), y) if standardize else None


@partial(jit, static_argnames=("kind",))
def _max_strength(g, l1_ratio, weights, pscale, bounds, *, kind):
    """The penalty of the path at unit strength tells its smallest strength with the solution ``w = 0``.

    One compiled program (on a first call its few operations one by one would each compile their own).
    """
    return _path_penalty(kind, 1.0, l1_ratio, weights, pscale, bounds).max_strength(g)


def lambda_grid(lam_max, n_lambdas: int = 100, eps: float = 1e-3) -> jax.Array:
    """``n_lambdas`` strengths log-spaced from ``lam_max`` down to ``eps * lam_max`` (scikit-learn's grid).

    Examples:
      >>> import jaxl1
      >>> jaxl1.lambda_grid(1.0, n_lambdas=3, eps=1e-2)
      Array([1.  , 0.1 , 0.01], dtype=float32)
    """
    _validation.reject_bools(n_lambdas=n_lambdas, eps=eps)
    return _grid(lam_max, _validation.check_grid(n_lambdas, eps), eps)


def _grid(lam_max, n_lambdas, eps, dtype=None, *, floor=False):
    """:func:`lambda_grid` on checked arguments, in ``dtype`` (default: ``lam_max``'s floating type); with
    ``floor`` a ``lam_max`` of 0 (``y`` fitted exactly at ``w = 0``) becomes the dtype's epsilon."""
    lam_max = jnp.asarray(lam_max)
    if dtype is None:
        dtype = lam_max.dtype if jnp.issubdtype(lam_max.dtype, jnp.floating) else jnp.result_type(float)
    return _grid_jit(lam_max, n_lambdas=int(n_lambdas), eps=float(eps), dtype=jnp.dtype(dtype), floor=floor)


@partial(jit, static_argnames=("n_lambdas", "eps", "dtype", "floor"))
def _grid_jit(lam_max, *, n_lambdas, eps, dtype, floor):
    lam_max = lam_max.astype(dtype)
    if floor:
        lam_max = jnp.where(lam_max > 0, lam_max, jnp.finfo(dtype).eps)
    if n_lambdas == 1:
        return lam_max[None]
    return lam_max * jnp.logspace(0, np.log10(eps), n_lambdas, dtype=dtype)


@partial(jit, static_argnames=("loss", "kind", "fit_intercept", "standardize", "n_lambdas", "eps", "dtype"))
def _data_grid(X, y, s, offset, l1_ratio, weights, bounds, *, loss, kind, fit_intercept, standardize, n_lambdas, eps,
               dtype):
    """The path's grid from the data, without free coordinates (:func:`_lambda_max`, then :func:`_grid` with
    ``floor``), in one compiled program: on a first call its three parts took a program each (50-70 ms)."""
    pscale = _standardizing_factors(X, y, s, fit_intercept, standardize)
    lam_max = _null_strength(X, y, s, offset, l1_ratio, weights, pscale, bounds, loss=loss,
                             fit_intercept=fit_intercept, kind=kind)
    return _grid_jit(lam_max, n_lambdas=n_lambdas, eps=eps, dtype=dtype, floor=True)


# --------------------------------------------------------------------------- #
# the path
# --------------------------------------------------------------------------- #
def _path_impl(X, y, s, lambdas, weights, l1_ratio, tol, max_iter, bounds, pscale, offset, stops=None, moments=None,
               *, loss,
               fit_intercept, form, kind, check_every, chunk_size, ws_size, standardize, devices=(), many=False):
    """The whole path for one data set (traceable; vmappable over ``s``); ``standardize`` is carried by ``pscale``.

    With several ``devices`` the grid is cut into one contiguous block per device (padded with copies of
    the last strength, trimmed back): a coarse path through the blocks' first strengths, walked on every
    device, gives each block its warm start, and the blocks are walked in parallel (``shard_map``).

    ``stops`` (see :func:`_stop_rules`; one device only) ends the walk early: the strengths after the stop
    are not solved and come back with ``n_iter = -1`` (the caller trims them).

    ``moments`` (Gram form): the second moments the Gram matrix is derived from (see
    :func:`jaxl1.solvers._problem.prepare`); cross-validation passes each run's.

    ``many``: this path is one of many fitted one after the other (see :func:`jaxl1.solvers.solve_ws`).
    """
    loss_c = get_loss(loss)
    squared = is_quadratic(loss_c)
    fit_b = fit_intercept and not squared
    dtype = X.dtype
    coef_shape = X.shape[1:] + y.shape[1:]  # (p,), or (p, K) for a 2-D y
    scale = scalable(_path_penalty(kind, lambdas[0], l1_ratio, weights, pscale, bounds))  # as solvers.solve will decide
    prob = prepare(X, y, s, loss=loss, fit_intercept=fit_intercept, form=form, scale=scale, offset=offset,
                   moments=moments)
    K = lambdas.shape[0]
    w_init = jnp.zeros(coef_shape, dtype)
    b_init = init_intercept(prob, loss_c, fit_b, w_init) if form == "data" else jnp.zeros(coef_shape[1:], dtype)
    pen_args = (weights, l1_ratio, pscale, bounds, tol, max_iter)
    opts = dict(kind=kind, loss=loss_c, form=form, fit_b=fit_b, check_every=check_every, ws_size=ws_size, many=many)
    n_dev = len(devices)
    if n_dev <= 1:
        W, B, gap, n_iter, conv = _walk(prob, lambdas, w_init, b_init, pen_args, chunk_size=chunk_size, stops=stops,
                                        **opts)
    else:
        block = -(-K // n_dev)
        lam_pad = _pad_grid(lambdas, block * n_dev)
        # the coarse pass: one strength per block (the block's first), warm-started along the way
        w0, b0 = _walk(prob, lam_pad[::block], w_init, b_init, pen_args, chunk_size=1, **opts)[:2]
        mesh = jax.sharding.Mesh(np.array(devices), ("lambdas",))
        P = jax.sharding.PartitionSpec

        def walk_block(prob, lams, w0, b0, pen_args):
            return _walk(prob, lams, w0[0], b0[0], pen_args, chunk_size=min(chunk_size, block), **opts)

        # no collectives inside, so the varying-axis type check (which the solver's loops would need
        # annotations for) is off
        walk_block = jax.shard_map(walk_block, mesh=mesh, in_specs=(P(), P("lambdas"), P("lambdas"), P("lambdas"), P()),
                                   out_specs=P("lambdas"), check_vma=False)
        # trimmed, the rows stay on their devices; across several processes every process gets all of them
        # (so that each can read its result)
        local = all(d.process_index == jax.process_index() for d in devices)
        along = jax.sharding.NamedSharding(mesh, P("lambdas") if local else P())
        W, B, gap, n_iter, conv = (jax.lax.with_sharding_constraint(a[:K], along)
                                   for a in walk_block(prob, lam_pad, w0, b0, pen_args))
    intercept = jax.vmap(lambda w, b: intercept_out(prob, w, b, fit_intercept, squared))(W, B)
    return PathResult(lambdas, W, intercept, gap, n_iter, conv,
                      certificate_of(loss_c, _make_penalty(kind, lambdas[0], l1_ratio, weights)))


def _walk(prob, lambdas, w_init, b_init, pen_args, *, kind, loss, form, fit_b, check_every, ws_size, chunk_size,
          stops=None, many=False):
    """Walk down the strengths ``lambdas`` from the solver state ``(w_init, b_init)``, warm-starting each
    chunk of ``chunk_size`` strengths (one vmapped solve) from the previous two solutions.

    With ``stops`` (see :func:`_stop_rules`) the walk ends as glmnet's does: once a rule fires, the chunks
    left are skipped (not solved) and their strengths, and those after the stop in the last chunk, get
    ``n_iter = -1``.

    Returns the solver's ``(W, B, gap, n_iter, converged)``, one row per strength (``B`` as the solver keeps it).
    """
    weights, l1_ratio, pscale, bounds, tol, max_iter = pen_args
    coef_shape = w_init.shape
    K = lambdas.shape[0]
    n_chunks = -(-K // chunk_size)
    lam_chunks = _pad_grid(lambdas, n_chunks * chunk_size).reshape(n_chunks, chunk_size)

    def solve_lane(lam, w0, b0):
        pen = _path_penalty(kind, lam, l1_ratio, weights, pscale, bounds)
        return solve(prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b,
                     check_every=check_every, ws_size=ws_size, batched=chunk_size > 1, many=many)

    def chunk(carry, lams):
        (w1, b1, lam1), (w2, b2, lam2), state = carry

        def run():
            if chunk_size == 1:  # one lane: no batching, so the solver's loops stay plain loops
                w0, b0 = _extrapolate(w1, b1, lam1, w2, b2, lam2, lams[0])
                return jax.tree.map(lambda a: a[None], solve_lane(lams[0], w0, b0))
            inits = jax.vmap(lambda lam: _extrapolate(w1, b1, lam1, w2, b2, lam2, lam))(lams)
            return jax.vmap(solve_lane)(lams, *inits)

        if stops is None:
            out = run()
        else:
            def skip():  # after the stop: the last solution, marked unsolved
                W, B, gap, n_iter, conv = jax.eval_shape(run)
                return (jnp.broadcast_to(w1, W.shape), jnp.broadcast_to(b1, B.shape), jnp.zeros(gap.shape, gap.dtype),
                        jnp.full(n_iter.shape, -1, n_iter.dtype), jnp.ones(conv.shape, conv.dtype))

            out = jax.lax.cond(state[0], skip, run)
            state, n_iter = jax.lax.scan(lambda st, lane: _stop_step(prob, st, lane, stops, loss=loss, form=form,
                                                                     fit_b=fit_b), state, (out[0], out[1], out[3]))
            out = out[:3] + (n_iter,) + out[4:]
        w, b = out[0], out[1]
        last = (w[-1], b[-1], lams[-1])
        prev = (w[-2], b[-2], lams[-2]) if chunk_size > 1 else (w1, b1, lam1)
        return (last, prev, state), out

    start = (w_init, b_init, lambdas[0])
    state = None if stops is None else _stop_start(prob, w_init)
    _, (W, B, gap, n_iter, conv) = jax.lax.scan(chunk, (start, start, state), lam_chunks)
    W = W.reshape(-1, *coef_shape)[:K]
    B = B.reshape(-1, *coef_shape[1:])[:K]
    gap, n_iter, conv = (a.reshape(-1)[:K] for a in (gap, n_iter, conv))
    return W, B, gap, n_iter, conv


# glmnet's path stops (glmnet.control: fdev, devmax, mnlam)
FDEV = 1e-5  # the smallest change of the deviance ratio, relative to it, that keeps the path going
DEVMAX = 0.999  # the deviance ratio that ends the path
MIN_STRENGTHS = 5  # the stops by df or deviance apply from this strength on (1-based)


def _stop_rules(dfmax, pmax, early_stop, dtype):
    """The arrays of the path's stopping rules, or ``None`` when none is asked for (checked before)."""
    if dfmax is None and pmax is None and early_stop is False:
        return None
    big = np.iinfo(np.int32).max
    fdev, devmax = (FDEV, DEVMAX) if early_stop is True else ((0.0, np.inf) if early_stop is False else early_stop)
    return (jnp.asarray(big if dfmax is None else dfmax, jnp.int32), jnp.asarray(big if pmax is None else pmax, jnp.int32),
            jnp.asarray(early_stop is not False), jnp.asarray(fdev, dtype), jnp.asarray(devmax, dtype))


def _stop_start(prob, w_init):
    """The walk's stopping state: (stopped, the last deviance ratio, the variables nonzero so far, strengths kept)."""
    dtype = w_init.dtype
    return (jnp.asarray(False), jnp.zeros([], dtype), jnp.zeros(w_init.shape[0], bool), jnp.zeros([], jnp.int32))


def _stop_step(prob, state, lane, stops, *, loss, form, fit_b):
    """One solved strength through glmnet's stopping rules: returns the new state and the strength's ``n_iter``
    (``-1`` when it is dropped: after a stop, or where it takes the variables ever nonzero past ``pmax``).

    The deviance ratio is ``1 - F(w, b) / F_null`` with ``F`` the loss (0 at the saturated fit for the built-in
    losses, so that this is the fraction of the deviance explained: ``R^2`` for the squared loss) and ``F_null``
    the loss of the intercept-only model.  From the ``MIN_STRENGTHS``-th strength on, the path stops after a
    strength with more than ``dfmax`` nonzero variables, a deviance ratio above ``devmax``, or one that grew by
    less than ``fdev`` times itself (the strength is kept, as in glmnet).
    """
    done, dev_prev, ever, k = state
    w, b, n_iter = lane
    dfmax, pmax, use_dev, fdev, devmax = stops
    nz = w != 0 if w.ndim == 1 else jnp.any(w != 0, axis=tuple(range(1, w.ndim)))
    ever_new = ever | nz
    value = smooth_value(prob, w * rows_of(prob.d, w), b, loss=loss, form=form, fit_b=fit_b)
    null = prob.P0
    dev = jnp.where(null > 0, 1.0 - value / jnp.where(null > 0, null, 1.0), 0.0).astype(dev_prev.dtype)
    drop = done | (jnp.sum(ever_new) > pmax)
    k_new = k + 1
    late = k_new >= MIN_STRENGTHS
    stop = late & ((jnp.sum(nz) > dfmax) | (use_dev & ((dev - dev_prev < fdev * dev) | (dev > devmax))))
    keep = ~drop
    state = (drop | stop, jnp.where(keep, dev, dev_prev), jnp.where(keep, ever_new, ever), jnp.where(keep, k_new, k))
    return state, jnp.where(keep, n_iter, -1).astype(n_iter.dtype)


def _trim_stopped(path):
    """The path without the strengths its stopping rules left unsolved (``n_iter == -1``: a tail)."""
    try:
        n_iter = np.asarray(path.n_iter)
    except jax.errors.TracerArrayConversionError:
        raise ValueError("dfmax, pmax and early_stop make the path's length depend on the data: they need concrete "
                         "inputs (not under jit or vmap; differentiate the path without them, on the strengths "
                         "they keep)") from None
    k = int(np.sum(n_iter >= 0))
    if k == n_iter.shape[0]:
        return path
    return dataclasses.replace(path, **{f: getattr(path, f)[:k] for f in
                                        ("lambdas", "coef", "intercept", "gap", "n_iter", "converged")})


def _pad_grid(lambdas, m):
    """The strengths padded to ``m`` with copies of the last (their solves are trimmed off afterwards)."""
    pad = m - lambdas.shape[0]
    return jnp.concatenate([lambdas, jnp.repeat(lambdas[-1:], pad)]) if pad else lambdas


def _extrapolate(w1, b1, lam1, w2, b2, lam2, lam):
    """Warm start for ``lam`` from the two previous solutions along the path.

    On a piece of the path where the support and signs stay fixed the lasso
    solution is affine in the strength, so the secant through the last two
    solutions predicts the next one; coordinates whose predicted value would
    change sign (or that were zero in either solution) start at their last value.
    """
    dl = lam1 - lam2
    r = jnp.where(dl != 0, (lam - lam1) / jnp.where(dl != 0, dl, 1.0), 0.0)
    w = w1 + r * (w1 - w2)
    keep = (w1 != 0) & (w2 != 0) & (jnp.sign(w) == jnp.sign(w1))
    return jnp.where(keep, w, w1), b1 + r * (b1 - b2)


_STATIC = ("loss", "fit_intercept", "form", "kind", "check_every", "chunk_size", "ws_size", "standardize")
_ARRAYS = ("X", "y", "s", "lambdas", "weights", "l1_ratio", "tol", "max_iter", "bounds", "offset")  # PathSpec.arrays


def _path_tangent(cfg, path, primals, tangents):
    """Implicit differentiation at every solution of the path, one strength after the other."""
    X, y, s, lambdas, weights, l1_ratio = primals[:6]
    dX, dy, ds, dlam, dweights, dl1 = tangents[:6]
    bounds, dbounds, pscale, dpscale = primals[8], tangents[8], primals[9], tangents[9]
    kw = dict(zip(_STATIC, cfg))

    def one(args):
        w, b, lam, dl = args
        pen = _path_penalty(kw["kind"], lam, l1_ratio, weights, pscale, bounds)
        dpen = _path_penalty(kw["kind"], dl, dl1, dweights, dpscale, dbounds)  # (the box's tangent is unused)
        return solution_tangent(w, b, X, y, s, pen, dX, dy, ds, dpen, loss=kw["loss"],
                                fit_intercept=kw["fit_intercept"], offset=primals[10])

    dW, dB = jax.lax.map(one, (path.coef, path.intercept, lambdas, dlam))
    return dataclasses.replace(zero_tangent(path), lambdas=dlam, coef=dW, intercept=dB)


def _path_mapped(cfg, *args):
    kw = dict(zip(_STATIC + ("devices",), cfg))
    *args, moments = args
    return _mapped_on_cpu(partial(_path_impl, **kw), form=kw["form"], fit_intercept=kw["fit_intercept"])(*args, moments)


_path_diff = differentiable_solve(_path_mapped, _path_tangent)


def _path_core(X, y, s, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset=None, stops=None, moments=None, *,
               devices=(), **static):
    # the standardizing scale is computed here, from the weights of this run (a fold's training samples in
    # cross-validation, as cv.glmnet standardizes each fold's fit), and differentiated through X and s
    pscale = _standardizing_factors(X, y, s, static["fit_intercept"], static["standardize"])
    return _path_diff(tuple(static[k] for k in _STATIC) + (devices,), X, y, s, lambdas, weights, l1_ratio, tol, max_iter,
                      bounds, pscale, offset, stops, moments)


_path_jit = jit(_path_core, static_argnames=_STATIC + ("devices",))


def _default_chunk(K):
    return 1 if jax.default_backend() == "cpu" else min(K, 10)


class PathSpec(NamedTuple):
    """The arguments of a path solve, checked and resolved once by :func:`_path_spec`.

    The first ten fields are the arrays the compiled core takes (:attr:`arrays`, in its order),
    the others its static options (:attr:`options`).
    """

    X: jax.Array  # (n, p), in the dtype of the solve
    y: jax.Array  # (n,)
    s: jax.Array  # (n,) sample weights, normalized to sum 1
    lambdas: jax.Array  # (K,) strengths, decreasing
    weights: jax.Array | None  # (p,) penalty factors (L1 or elastic net)
    l1_ratio: Any  # 0-d arrays, for the jitted call
    tol: Any
    max_iter: Any
    bounds: Any  # None or (lo, hi), two (p,) arrays
    offset: Any  # None or an array shaped like y, added to the linear predictor
    loss: Any  # the loss object
    fit_intercept: bool
    form: str  # "gram" or "data"
    kind: str  # the penalty along the path: "l1", "nonneg" or "enet"
    check_every: int
    chunk_size: int  # at most K
    ws_size: int
    standardize: bool

    @property
    def arrays(self) -> tuple:
        return tuple(getattr(self, name) for name in _ARRAYS)

    @property
    def options(self) -> dict:
        return {name: getattr(self, name) for name in _STATIC}


def _path_spec(X, y, loss, l1_ratio, lambdas, n_lambdas, eps, fit_intercept, sample_weight, tol, max_iter,
               weights, positive, form, chunk_size, check_every, ws_size, standardize=False, bounds=None,
               grouped=False, offset=None, penalty="l1", gamma=None, groups=None, sparse_gram=False) -> PathSpec:
    """Check the arguments ``fit_path`` and ``cross_validate`` share, once, and resolve them (the grid too).

    ``sparse_gram``: the caller computes a sparse ``X``'s moments before the program (:func:`sparse_moments`),
    so that it may take the Gram form (:func:`jaxl1.solvers._problem.sparse_gram_choice`)."""
    X, y, s = _validation.validate_data(X, y, sample_weight, loss)
    n, p = X.shape
    loss = get_loss(loss)
    _validation.reject_bools(l1_ratio=l1_ratio, n_lambdas=n_lambdas, eps=eps, tol=tol, max_iter=max_iter,
                             chunk_size=chunk_size, check_every=check_every, ws_size=ws_size)
    _validation.check_lambdas_shape(lambdas)
    _validation.check_magnitude(X, y)
    _validation.check_two_classes(y, s, loss)
    groups = _validation.check_groups(groups, p)
    l1_ratio = _validation.check_l1_ratio(_validation.resolve_l1_ratio(l1_ratio, groups))
    coef_shape = (p,) + y.shape[1:]
    _validation.check_group_options(groups, standardize=standardize, bounds=bounds, multi_output=len(coef_shape) > 1)
    w = (_validation.check_weights(weights, p, X.dtype) if groups is None
         else _validation.check_group_weights(weights, groups, X.dtype))
    kind = _validation.path_penalty_kind(l1_ratio, positive, w, grouped=grouped, penalty=penalty, groups=groups)
    w = _path_weights(w, kind, coef_shape)
    tol = _validation.check_tol_iter(tol, max_iter, X.dtype)
    if kind in _FOLDED:  # the penalty's shape parameter travels in the l1_ratio slot
        if len(coef_shape) > 1:
            raise ValueError(f"penalty={kind!r} is for a coefficient vector: a 2-D y (several responses, or "
                             "loss='multinomial') is fitted with the lasso's penalties only")
        if bounds is not None:
            raise ValueError(f"bounds are not supported with penalty={kind!r} (a box on a non-convex penalty)")
        l1_ratio = _validation.check_folded_shape(kind, gamma)
    elif gamma is not None:
        raise ValueError(f"gamma is the concavity of penalty='mcp' or 'scad', not of penalty={penalty!r}: leave it None")
    fit_intercept = bool(fit_intercept)
    _validation.check_standardize(standardize)
    box = _validation.check_bounds(bounds, p, X.dtype, positive=positive, multi_output=len(coef_shape) > 1)
    offset = _validation.check_offset(offset, y)
    if lambdas is None:
        n_lambdas = _validation.check_grid(n_lambdas, eps, l1_ratio=1.0 if (kind in _FOLDED or groups is not None)
                                           else l1_ratio)
        if _has_free(w):  # a fit of the free coordinates first
            pscale = _standardizing_factors(X, y, s, fit_intercept, standardize)
            lam_max = _lambda_max(X, y, s, loss=loss, kind=kind, l1_ratio=l1_ratio, weights=w,
                                  fit_intercept=fit_intercept, pscale=pscale, bounds=box, offset=offset)
            lams = _grid(lam_max, n_lambdas, eps, X.dtype, floor=True)
        else:
            lams = _data_grid(X, y, s, offset, as_arg(l1_ratio, X.dtype), w, box, loss=loss, kind=kind,
                              fit_intercept=fit_intercept, standardize=bool(standardize), n_lambdas=int(n_lambdas),
                              eps=float(eps), dtype=jnp.dtype(X.dtype))
    else:
        lams = _validation.check_lambdas(lambdas, X.dtype)
    K = lams.shape[0]
    chunk_size = _validation.check_integer("chunk_size", _default_chunk(K) if chunk_size is None else chunk_size)
    check_every = _validation.check_integer("check_every", check_every)
    sparse = _design.is_sparse(X)
    form = _validation.check_form(loss, n, p, form, sparse=sparse,
                                  gram=sparse_gram_choice(X, s) if (sparse and sparse_gram) else None)
    ws_size = _validation.check_ws_size(ws_size, loss, n, p, form)
    return PathSpec(X, y, s, lams, w, as_arg(l1_ratio, X.dtype), as_arg(tol, X.dtype), as_arg(max_iter, np.int32), box,
                    offset, loss=loss, fit_intercept=fit_intercept, form=form, kind=kind, check_every=check_every,
                    chunk_size=min(chunk_size, K), ws_size=ws_size, standardize=bool(standardize))


def _placed(spec, devices):
    """``spec`` with its committed arrays copied to every one of ``devices`` where the work is spread over several
    (see :func:`jaxl1._validation.on_devices`): a program over several devices takes no argument committed to
    one of them only."""
    if len(devices) < 2:
        return spec
    return spec._replace(**dict(zip(_ARRAYS, _validation.on_devices(devices, *spec.arrays))))


def _data_form(spec, ws_size):
    """``spec`` in the data form (a sparse ``X`` whose moments could not be used), ``ws_size`` as the caller gave it."""
    n, p = spec.X.shape
    return spec._replace(form="data", ws_size=_validation.check_ws_size(ws_size, spec.loss, n, p, "data"))


def fit_path(
    X, y, loss: str = "squared", l1_ratio: float | None = None, lambdas=None, n_lambdas: int = 100,
    eps: float = 1e-3, fit_intercept: bool = True, sample_weight=None, tol: float | None = None,
    max_iter: int = 20_000, *, weights=None, positive: bool = False, form: str = "auto",
    chunk_size: int | None = None, check_every: int = 10, ws_size: int | None = None, standardize: bool = False,
    bounds=None, grouped: bool = False, offset=None, devices=None, shard: str = "lambdas", penalty: str = "l1",
    gamma: float | None = None, groups=None, dfmax: int | None = None, pmax: int | None = None,
    early_stop=False,
) -> PathResult:
    r"""Fit a whole regularization path in one compiled call.

    For each strength :math:`\lambda_k` the penalty is ``L1(lam, weights)`` when
    ``l1_ratio == 1`` (``NonNegativeL1`` with ``positive=True``) and
    ``ElasticNet(lam, l1_ratio)`` otherwise; the objective is that of
    :func:`jaxl1.fit` (scikit-learn's ``lasso_path`` / ``enet_path`` scaling).

    Args:
      X: ``(n, p)`` design, dense or sparse (as in :func:`jaxl1.fit`).
      y: ``(n,)`` targets; ``(n, T)`` for ``T`` responses with the squared loss (multi-task), or
        integer labels ``0 .. K-1`` for ``loss="multinomial"``: the coefficients are then ``(p, T)``
        or ``(p, K)`` at every strength (see :func:`jaxl1.fit`).
      loss: ``"squared"``, ``"logistic"``, ``"multinomial"`` or a loss object.
      l1_ratio: elastic-net mixing in [0, 1] (default 1: the lasso); with ``groups``, the L1 share of the
        sparse-group lasso (default 0: the group lasso).
      lambdas: optional decreasing strengths; by default ``n_lambdas`` log-spaced
        from :func:`lambda_max` down to ``eps * lambda_max``.
      n_lambdas: size of the default grid.
      eps: ratio of the smallest to the largest default strength.
      fit_intercept: fit an unpenalized intercept.
      sample_weight: optional ``(n,)`` non-negative weights.
      tol: relative duality gap per strength (see :func:`jaxl1.fit`).
      max_iter: the most iterations per strength.
      weights: optional ``(p,)`` penalty factors, for the lasso and the elastic net: each
        coordinate's whole penalty is multiplied by its factor (glmnet's ``penalty.factor``;
        0 leaves it free).  With ``groups``, one factor per group (``(G,)``; default the square root
        of each group's size).
      positive: constrain the coefficients to be non-negative.
      form: ``"auto"``, ``"gram"`` or ``"data"`` (see :mod:`jaxl1.solver`).
      chunk_size: strengths solved together in one vmapped lane group (default:
        1 on CPU, 10 on accelerators).
      check_every: iterations between duality-gap evaluations.
      ws_size: working-set size (see :func:`jaxl1.fit`).
      standardize: penalize the standardized columns' coefficients (glmnet's ``standardize``;
        see :func:`jaxl1.fit`): ``lambda_max`` and the grid follow, coefficients stay on the
        original scale.
      bounds: ``(lower, upper)`` box constraints on the coefficients (see :func:`jaxl1.fit`);
        ``lambda_max`` counts only the directions the box allows.
      grouped: with a 2-D ``y``, the penalty :class:`jaxl1.L21` on the rows of the coefficient matrix
        (a feature enters for every response or class at once: scikit-learn's ``MultiTaskLasso``, glmnet's
        ``type.multinomial="grouped"``); needs ``l1_ratio=1``.  ``False`` penalizes every entry (``L1``).
      offset: optional ``(n,)`` array added to the linear predictor (see :func:`jaxl1.fit`); the
        default grid starts at the ``lambda_max`` with this offset; ``predict`` leaves it out.
      devices: the devices the work is spread over (default: all of ``jax.devices()``, or the one device
        that the inputs placed by ``jax.device_put`` are on; with one device nothing is spread).  Inputs placed
        on one device are copied to every device the work is spread over.  See ``shard``.
      shard: what is spread over ``devices``.  ``"lambdas"`` (default): each device walks a contiguous
        block of the strengths with its own warm starts, in parallel (``jax.shard_map`` over a one-axis mesh
        named ``"lambdas"``); a coarse path through the blocks' first strengths gives each block its
        start.  The grid is padded to a multiple of the device count and trimmed back; when the number of
        strengths is such a multiple the result's arrays stay sharded along the strengths.  ``"rows"``,
        for tall data: ``X``, ``y``, the weights and the offset are split by rows (each device holds only
        its rows; padded with zero-weight rows) and every product over the samples — the Gram matrix,
        the gradients, the gap — is reduced across devices; the result is replicated.  Either way the
        answer is that of one device (to the solver's tolerance).  A dense ``X`` only for ``"rows"``.
      penalty: ``"l1"`` (default: the lasso, or the elastic net with ``l1_ratio < 1``), ``"mcp"``
        (:class:`jaxl1.MCP`) or ``"scad"`` (:class:`jaxl1.SCAD`), the non-convex penalties of ncvreg: the
        path walks down from ``lambda_max`` (the lasso's: the penalties agree at zero), each strength
        warm-started from the last, which is how a good stationary point is reached; ``gap`` is then the
        stationarity measure (``certificate="optimality"``: there is no duality gap).  With ``weights``,
        ``standardize`` (ncvreg standardizes), any 1-D ``y`` loss; not with ``l1_ratio < 1``, ``positive``,
        ``bounds`` or a 2-D ``y``.
      gamma: the concavity of ``penalty``: MCP's ``gamma`` (default 3, ``> 1``) or SCAD's ``a`` (default 3.7,
        ``> 2``), ncvreg's ``gamma``; ``None`` for the lasso.
      groups: optional ``(p,)`` integer group ids ``0 .. G-1`` of the columns (every id used): the group
        lasso :class:`jaxl1.GroupL1` along the path, :math:`\lambda \sum_g c_g \|w_g\|_2` (whole groups
        enter together), or with ``0 < l1_ratio < 1`` the sparse-group lasso :class:`jaxl1.SparseGroupL1`,
        :math:`\lambda (\alpha \|w\|_1 + (1 - \alpha) \sum_g c_g \|w_g\|_2)`; ``c`` is ``weights``.
        The grid starts at the group ``lambda_max``; the certificate is the duality gap.  Any 1-D ``y``
        loss and a dense or sparse ``X``; not with ``standardize``, ``bounds``, ``positive`` or ``penalty``.
      dfmax: end the path after the first strength with more than ``dfmax`` nonzero variables (glmnet's
        ``dfmax``; that strength is kept; a variable is a row of a coefficient matrix).  ``None``: no limit.
      pmax: end the path before the first strength that would make more than ``pmax`` variables nonzero at
        some point along the path (glmnet's ``pmax``; that strength is dropped).  ``None``: no limit.
      early_stop: end the path when the fraction of the deviance explained (``1 - F / F_null``, the loss
        ``F`` relative to the intercept-only model's: ``R^2`` for the squared loss) exceeds 0.999 or grows by
        less than 1e-5 times itself from one strength to the next, as glmnet does by default (its ``fdev``
        and ``devmax``); a pair ``(fdev, devmax)`` sets both.  ``False`` (default): the whole grid.
        The rules of ``dfmax`` and ``early_stop`` apply from the 5th strength on (glmnet's ``mnlam``); the
        strengths after a stop are not solved and the result is shorter than the grid.  The three need
        concrete inputs (not under ``jit``, ``vmap`` or ``grad``) and walk the path on one device (each stop
        depends on the strengths before); :func:`cross_validate` applies them to its full-data path.

    Returns:
      A :class:`PathResult`.

    Examples:
      >>> import numpy as np, jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> path = jaxl1.fit_path(X, y, n_lambdas=20)
      >>> path.coef.shape, bool(path.converged.all())
      ((20, 10), True)
      >>> [int((row != 0).sum()) for row in path.coef[::5]]
      [0, 4, 7, 10]
      >>> short = jaxl1.fit_path(X, y, n_lambdas=20, dfmax=5)  # ends once more than 5 variables are in
      >>> short.coef.shape[0] < 20, int((short.coef[-1] != 0).sum()) > 5
      (True, True)
    """
    devices = _validation.check_devices(devices, X, y, sample_weight, lambdas, weights, bounds, offset)
    by_rows = _validation.check_shard(shard) == "rows"
    spec = _path_spec(X, y, loss, l1_ratio, lambdas, n_lambdas, eps, fit_intercept, sample_weight, tol, max_iter,
                      weights, positive, form, chunk_size, check_every, ws_size, standardize, bounds, grouped, offset,
                      penalty, gamma, groups, sparse_gram=not (by_rows and len(devices) > 1))
    spec = _placed(spec, devices)
    stops = _stop_rules(*_validation.check_path_stops(dfmax, pmax, early_stop), spec.X.dtype)
    if by_rows:
        if len(devices) > 1:
            X, y, s, offset = _design.shard_rows(devices, spec.X, spec.y, spec.s, spec.offset)
            spec = spec._replace(X=X, y=y, s=s, offset=offset)
        devices = ()
    devices = devices[:spec.lambdas.shape[0]] if stops is None else ()  # no device without a strength
    moments = host_moments(spec.X, spec.s, spec.fit_intercept) if host_moments_apply(spec.X, spec.form) else None
    if moments is None and spec.form == "gram" and _design.is_sparse(spec.X):  # its moments overflowed
        spec = _data_form(spec, ws_size)
    path = _path_jit(*spec.arrays, stops, moments, devices=devices if len(devices) > 1 else (), **spec.options)
    if stops is not None:
        path = _trim_stopped(path)
    warn_if_stopped("jaxl1.fit_path", path.status, max_iter)
    return path


# --------------------------------------------------------------------------- #
# independent runs of one program (folds, subsamples), mapped or spread over devices
# --------------------------------------------------------------------------- #
def _over_runs(one_run, runs, args, devices, *, summed=False):
    """``one_run(run, *args)`` for every run: the leaves of ``runs`` share a leading axis, a multiple of the
    device count (the caller pads it).

    On one device the runs are mapped one after the other; with several ``devices`` they are split into
    contiguous blocks, one per device (``shard_map`` over a one-axis mesh named ``"runs"``; ``args`` are
    replicated).  ``one_run`` returns what is kept per run, stacked along the runs; with ``summed`` it returns
    a pair ``(kept, added)`` and the ``added`` parts are summed over the runs instead of stacked (constant
    memory in the number of runs).
    """

    def block(runs, *args):
        if not summed:
            return jax.lax.map(lambda r: one_run(r, *args), runs)
        first = jax.tree.map(lambda a: a[0], runs)
        zero = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(one_run, first, *args)[1])

        def step(total, r):
            kept, added = one_run(r, *args)
            return jax.tree.map(jnp.add, total, added), kept

        total, kept = jax.lax.scan(step, zero, runs)
        return kept, jax.tree.map(lambda a: a[None], total)

    if len(devices) > 1:
        mesh = jax.sharding.Mesh(np.array(devices), ("runs",))
        P = jax.sharding.PartitionSpec
        # no collectives inside, so the varying-axis type check (which the solver's loops would need
        # annotations for) is off
        block = jax.shard_map(block, mesh=mesh, in_specs=(P("runs"),) + (P(),) * len(args), out_specs=P("runs"),
                              check_vma=False)
    out = block(runs, *args)
    if summed:
        kept, totals = out
        return kept, jax.tree.map(lambda a: jnp.sum(a, axis=0), totals)
    return out


# --------------------------------------------------------------------------- #
# cross-validation
# --------------------------------------------------------------------------- #
def _cv_run(run, X, y, s, folds, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset, centre, top,
            **static):
    """One run of cross-validation: ``run = (k, R, mag, rows, mask)``, the path fitted without fold ``k`` (none
    held out for ``k = n_folds``) from its moments ``R`` (Gram form; ``centre`` ``None`` otherwise), and the
    held-out scores per strength, from the fold's rows ``rows`` (padded; ``mask`` marks the real ones, none
    for the full run).  ``top``: ``max |X|`` per column, shared by the runs (:func:`column_peaks`)."""
    k, R, mag, rows, mask = run
    out = folds == k
    s_train = jnp.where(out, 0.0, s)
    path = _path_core(X, y, s_train / jnp.sum(s_train), lambdas, weights, l1_ratio, tol, max_iter, bounds,
                      offset, None, None if centre is None else (R, centre, mag, top), **static)
    scores = _heldout(get_loss(static["loss"]), X, y, s, offset, rows, mask, path.coef, path.intercept)
    return scores, path


def _heldout(loss, X, y, s, offset, rows, mask, coef, intercept):
    """The held-out score per strength of one fold's path (``coef``, ``intercept``: ``(K, p)``, ``(K,)``, or
    ``(K, p, T)``, ``(K, T)``): the weighted mean over the fold's rows ``rows`` (padded; ``mask`` marks the real
    ones) of the loss's held-out score."""
    o = jnp.zeros_like(y) if offset is None else offset
    if _design.is_sparse(X):  # every row, the others weighted 0 (a padding slot adds 0 to row 0)
        held = jnp.zeros_like(s).at[rows].add(jnp.where(mask, s[rows], 0.0))
    else:  # the fold's rows only: predicting all n rows per strength cost 5x more (a 20000x1000 X: 0.07 s)
        X, y, o, held = X[rows], y[rows], o[rows], jnp.where(mask, s[rows], 0.0)
    if y.ndim == 1:
        return _heldout_of(loss, y, o, held, _design.matmul(X, coef.T) + intercept)
    held = held / jnp.maximum(jnp.sum(held), jnp.finfo(X.dtype).tiny)  # the full run holds nothing out
    # a (p, T) coefficient matrix per strength: the predictors one strength at a time
    per_sample = jax.lax.map(lambda wb: heldout_scores(loss, y, X @ wb[0] + wb[1] + o), (coef, intercept))
    return per_sample @ held


def _heldout_of(loss, y, o, held, z):
    """The held-out score per strength from the predictors ``z`` ``(m, K)`` (offset left out) of rows whose
    targets, offsets and weights are ``y``, ``o`` and ``held`` (normalized here; all zero: the full run)."""
    held = held / jnp.maximum(jnp.sum(held), jnp.finfo(z.dtype).tiny)
    per_sample = jax.vmap(lambda zk: heldout_scores(loss, y, zk), in_axes=1, out_axes=1)(z + o[:, None])
    return held @ per_sample


@partial(jit, static_argnames=("loss",))
def _cv_scores_of(y, s, offset, rows, mask, Z, *, loss):
    """Every fold's held-out scores ``(k, K)`` from its rows' predictors ``Z`` ``(k, m, K)``, computed before (a
    sparse ``X`` by scipy: :func:`_sparse_predictors`), for a 1-D ``y``."""
    loss = get_loss(loss)
    o = jnp.zeros_like(y) if offset is None else offset
    return jax.lax.map(lambda a: _heldout_of(loss, y[a[0]], o[a[0]], jnp.where(a[1], s[a[0]], 0.0), a[2]),
                       (rows, mask, Z))


def _sparse_predictors(X, rows, coefs, intercepts):
    """``(k, m, K)``: fold ``f``'s rows ``rows[f]`` (padded) times its path's coefficients, by scipy (the held-out
    rows only: XLA's product of a sparse X scatters all its entries once per strength)."""
    Xh, rows = _design.host_csr(X), np.asarray(rows)
    return np.stack([Xh[r] @ c.T + b for r, c, b in zip(rows, coefs, intercepts)])


@partial(jit, static_argnames=("loss",))
def _cv_scores(X, y, s, offset, rows, mask, coefs, intercepts, *, loss):
    """Every fold's held-out scores ``(k, K)`` from the fold paths' ``coefs`` and ``intercepts`` (stacked)."""
    loss = get_loss(loss)
    return jax.lax.map(lambda a: _heldout(loss, X, y, s, offset, *a), (rows, mask, coefs, intercepts))


def _run_weights(fold_ids, s, k, i):
    """Run ``i``'s training weights as :func:`_cv_threaded` passes them: its fold's rows weighted 0 and the rest
    normalized in numpy (a numpy array); the full run (``i = k``) takes ``s`` itself, as ``fit_path`` does."""
    if i == k:
        return s
    s_host = np.asarray(s)
    st = np.where(np.asarray(fold_ids) == i, 0.0, s_host).astype(s_host.dtype)
    return st / st.sum(dtype=st.dtype)


def _sparse_runs(fold_ids, spec, k):
    """Every run's moments for a sparse ``X`` in the Gram form (:func:`sparse_fold_moments` on the runs' training
    weights), or ``None`` where one overflows (the runs then take the data form)."""
    weights = [np.asarray(_run_weights(fold_ids, spec.s, k, i)) for i in range(k + 1)]
    return sparse_fold_moments(spec.X, fold_ids, weights, spec.fit_intercept)


def _cv_threaded(fold_ids, rows, mask, spec, moments, k, n_threads, runs=None):
    """Cross-validation's ``n_folds + 1`` runs as calls of :func:`fit_path`'s compiled program from ``n_threads``
    threads, then the held-out scores in one program (:func:`_cv_scores`).

    XLA:CPU runs one program's loops on one core, and two calls at once on two (5-fold 2000x500: 0.48 s in
    one program).  The first run compiles alone (or finds the program a ``fit_path`` on the same data
    compiled); the others follow in parallel.  A run is the path with its fold's sample weights set to 0,
    from its moments when the data are large enough for them (:func:`host_moments_apply`), as ``fit_path``
    takes them (``moments``: what :func:`fold_moments` returns, or ``None``; ``runs``: every run's own moments,
    for a sparse ``X``: :func:`_sparse_runs`).  Returns what ``_cv_jit`` returns; the results are the single
    program's to the solver's tolerance (that one computes every run's moments and weights inside)."""
    if runs is None:
        runs = [None] * (k + 1)
        if moments is not None:
            R, mags, centre = moments
            top = column_peaks(spec.X, np)
            runs = [(R[i], centre, mags[i], top) for i in range(k + 1)]
    X, y, s, rest = spec.X, spec.y, spec.s, spec.arrays[3:]  # as fit_path passes them (validate_data put them)

    def weights_of(i):  # the run's training weights (the full path's: fit_path's own, so that it is its result),
        return _on_device(_run_weights(fold_ids, s, k, i))  # an array as fit_path's: the same dispatch

    outs = _in_threads(lambda i: _path_jit(X, y, weights_of(i), *rest, None, runs[i], devices=(), **spec.options),
                       k + 1, n_threads)
    # stacked and summarized in numpy: on a first call each eager operation would compile a program
    coefs = np.stack([np.asarray(o.coef) for o in outs[:k]])
    intercepts = np.stack([np.asarray(o.intercept) for o in outs[:k]])
    if _design.is_sparse(X) and y.ndim == 1 and jax.default_backend() == "cpu":
        Z = _sparse_predictors(X, rows, coefs, intercepts)
        scores = np.asarray(_cv_scores_of(y, s, spec.offset, rows, mask, Z, loss=spec.loss))
    else:
        scores = np.asarray(_cv_scores(X, y, s, spec.offset, rows, mask, coefs, intercepts, loss=spec.loss))
    conv = np.stack([np.asarray(o.converged) for o in outs[:k]])
    full = outs[k]
    return jax.device_put(scores), jax.device_put(conv), full, _cv_summary_np(scores, np.asarray(full.lambdas))


def _cv_summary_np(scores, lams):
    """:func:`_cv_summary` in numpy, for scores and strengths on the host."""
    k = scores.shape[0]
    with np.errstate(all="ignore"):  # an infinite score (a diverged fold) stays inf, as in the program
        mean = scores.mean(axis=0)
        se = scores.std(axis=0, ddof=1) / np.sqrt(k)
    i_best = int(np.argmin(mean))
    within = mean <= mean[i_best] + se[i_best]
    return jax.device_put((mean, se, lams[i_best], np.max(np.where(within, lams, -np.inf))))


def _run_threads(arrays, devices) -> int:
    """Threads for independent runs (cross-validation's, stability selection's subsamples): the cores, for
    concrete inputs on one CPU device; 0 (one compiled program for every run) otherwise, or with
    ``JAXL1_CV_THREADS=1`` in the environment.  The callers run one program for every run from fewer than 2
    threads too, but for a sparse ``X`` in the Gram form, whose runs take their moments from the host: one
    thread then makes the runs calls one after the other."""
    if len(devices) > 1 or jax.default_backend() != "cpu" or os.environ.get("JAXL1_CV_THREADS") == "1":
        return 0
    if any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(arrays)):
        return 0
    return max(1, min(os.cpu_count() or 1, RUN_THREADS_MAX))


RUN_THREADS_MAX = 8


def _on_device(tree):
    """The numpy arrays of ``tree`` on the default device once (a call would copy them in every time), in the
    dtypes JAX computes with (float32 without ``jax_enable_x64``); no program is compiled for it."""
    def put(a):
        if isinstance(a, np.ndarray):
            return jax.device_put(np.asarray(a, jax.dtypes.canonicalize_dtype(a.dtype)))
        return a

    return jax.tree.map(put, tree)


def _in_threads(call, n_runs, n_threads):
    """``[call(0), ..., call(n_runs - 1)]``, each finished: the first from this thread, the others from ``n_threads``
    threads once it is dispatched (XLA:CPU runs one program's loops on one core, two calls on two).  A first
    call compiles the program once before the others start; a compiled one runs on beside them (5-fold
    cross-validation of 2000x500: the runs took 0.17-0.18 s instead of 0.19-0.22 s when the first finished alone).

    The workers run under the calling thread's float64 setting and default device: a context manager (the
    estimators' ``jax.enable_x64(True)``) sets them for its own thread only.
    """
    x64, device = bool(jax.config.jax_enable_x64), jax.config.jax_default_device

    def run(i):
        with enable_x64(x64), jax.default_device(device):
            return jax.block_until_ready(call(i))

    first = call(0)  # (dispatched: it runs on while the others start)
    with side_by_side(), concurrent.futures.ThreadPoolExecutor(n_threads) as pool:  # (numpy's BLAS on one thread)
        rest = list(pool.map(run, range(1, n_runs)))
    return [jax.block_until_ready(first)] + rest


def _cv_jit_impl(folds, fold_rows, fold_mask, X, y, s, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset,
                 moments=None, *, n_folds, devices, **static):
    """Every fold's path and scores, and the path on all the data, as ``n_folds + 1`` runs of one program.

    Run ``n_folds`` is the full path (no sample is held out).  With several ``devices`` the runs are
    sharded across them (``shard_map`` over a one-axis mesh, padded with copies of the full run to a
    multiple of the device count); on one device they are mapped one after the other.

    In the Gram form the runs' Gram matrices come from one pass over the rows (``fold_rows``, ``fold_mask``:
    each fold's row indices, padded): a run's is the whole minus its held-out fold's part
    (:func:`jaxl1.solvers._problem.fold_moments`), so the ``n_folds + 1`` runs cost one Gram matrix.
    ``moments``: what ``fold_moments`` returns, computed by numpy before the program (a large concrete ``X``).
    """
    if moments is not None:
        moments, mags, centre = moments
    elif static["form"] == "gram" and n_folds <= MOMENT_FOLDS_MAX:
        moments, mags, centre = fold_moments(X, s, fold_rows, fold_mask, static["fit_intercept"])
    else:  # the data form, or many folds (leave-one-out): each run's Gram matrix from its rows
        moments, mags, centre = jnp.zeros((n_folds + 1, 0, 0), X.dtype), jnp.zeros((n_folds + 1, 0), X.dtype), None

    one_run = partial(_cv_run, **static)
    top = None if centre is None else column_peaks(X, jnp)  # once, not in every run: a pass over X
    args = (X, y, s, folds, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset, centre, top)
    n_runs = -(-(n_folds + 1) // max(len(devices), 1)) * max(len(devices), 1)
    ks = jnp.minimum(jnp.arange(n_runs), n_folds)  # the padding repeats the full run
    rows, mask = _with_full_run(fold_rows, fold_mask)
    runs = (ks, moments[ks], mags[ks], rows[ks], mask[ks])
    scores, paths = _over_runs(one_run, runs, args, devices)
    scores, full = scores[:n_folds], jax.tree.map(lambda a: a[n_folds], paths)
    return scores, paths.converged[:n_folds], full, _cv_summary(scores, full.lambdas)


def _cv_summary(scores, lams):
    """The mean held-out score and its standard error per strength, ``lambda_best`` and ``lambda_1se``
    (in the compiled program: on a first call these few operations would each compile their own)."""
    k = scores.shape[0]
    mean = jnp.mean(scores, axis=0)
    se = jnp.std(scores, axis=0, ddof=1) / jnp.sqrt(k)
    i_best = jnp.argmin(mean)
    within = mean <= mean[i_best] + se[i_best]
    return mean, se, lams[i_best], jnp.max(jnp.where(within, lams, -jnp.inf))


MOMENT_FOLDS_MAX = 20  # up to this many folds the runs' Gram matrices come from one pass (k + 1 of them in memory)


_cv_jit = jit(_cv_jit_impl, static_argnames=("n_folds", "devices") + _STATIC)


def _fold_rows(fold_ids, k):
    """Each fold's row indices as a ``(k, m)`` array padded with row 0, and the mask of the real ones."""
    counts = np.bincount(fold_ids, minlength=k)
    m = int(counts.max())
    order = np.argsort(fold_ids, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(m)[None, :]
    mask = pos < counts[:, None]
    rows = np.where(mask, order[np.minimum(starts[:, None] + pos, len(order) - 1)], 0)
    return rows.astype(np.int32), mask  # numpy: on a first call a conversion here would compile a program


def _with_full_run(rows, mask):
    """:func:`_fold_rows`'s arrays with a last row for the full run, which holds no row out."""
    return jnp.concatenate([rows, jnp.zeros_like(rows[:1])]), jnp.concatenate([mask, jnp.zeros_like(mask[:1])])


def cross_validate(
    X, y, n_folds: int = 5, folds=None, loss: str = "squared", l1_ratio: float | None = None, lambdas=None,
    n_lambdas: int = 100, eps: float = 1e-3, fit_intercept: bool = True, sample_weight=None,
    tol: float | None = None, max_iter: int = 20_000, *, weights=None, positive: bool = False,
    form: str = "auto", chunk_size: int | None = None, check_every: int = 10, ws_size: int | None = None,
    devices=None, standardize: bool = False, bounds=None, grouped: bool = False, offset=None, penalty: str = "l1",
    gamma: float | None = None, groups=None, dfmax: int | None = None, pmax: int | None = None,
    early_stop=False,
) -> CVResult:
    r"""K-fold cross-validation over a regularization path.

    The strengths are computed once on all the data (as scikit-learn's
    ``LassoCV`` does); each fold's path is fitted on the other folds and scored
    on its own samples; the path is then refitted on all the data.

    Args:
      X, y, loss, l1_ratio, lambdas, n_lambdas, eps, fit_intercept, sample_weight,
        tol, max_iter, weights, positive, form, chunk_size, check_every, ws_size, standardize, bounds, grouped,
        offset, penalty, gamma, groups: as in :func:`fit_path` (the held-out predictions include the offset; with
        ``standardize`` each fold's fit standardizes by its own training samples, as ``cv.glmnet`` does).
      dfmax, pmax, early_stop: :func:`fit_path`'s stopping rules, applied as ``cv.glmnet`` applies them: to the
        path on all the data, which fixes the strengths (the grid up to the stop); the folds are then fitted
        on those strengths.  The full path is fitted once more inside the cross-validation.
      n_folds: number of folds when ``folds`` is not given: contiguous blocks,
        scikit-learn's ``KFold(n_folds)`` without shuffling.
      folds: optional ``(n,)`` integer fold ids.
      devices: the devices the folds are spread over (default: as in :func:`fit_path`).  The
        ``n_folds`` fold paths and the full path are independent runs of one compiled program; with
        several devices they run in parallel, one per device at a time (``jax.shard_map``).  On one CPU
        device, with concrete inputs, the runs are calls of :func:`fit_path`'s compiled program (its fold's
        samples weighted 0) from a thread per core (up to 8; ``JAXL1_CV_THREADS=1`` in the environment keeps
        them in one program), and a ``fit_path`` on the same data has compiled it already.  A sparse ``X`` that
        takes the Gram form (see :func:`jaxl1.fit`'s ``form``) runs so even on one core, each run from its own
        moments (one sparse product per fold); in one program it takes the data form.

    Returns:
      A :class:`CVResult` (``mean_score`` is the held-out mean squared error for the
      squared loss and the mean deviance for the logistic loss).

    Raises:
      ValueError: as :func:`fit_path`; and, naming ``sample_weight``, a fold whose training
        samples all have zero weight (nothing to fit) or whose held-out samples all have zero
        weight (no score: such a fold is refused rather than averaged in as a score of 0);
        for the logistic loss, a fold whose training samples hold a single class.

    Examples:
      >>> import jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> cv = jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=30)
      >>> bool(cv.lambda_1se >= cv.lambda_best), cv.mean_score.shape
      (True, (30,))
    """
    if _validation.check_path_stops(dfmax, pmax, early_stop) != (None, None, False):
        # cv.glmnet's order: the stops shorten the full-data path, whose strengths the folds then share
        lambdas = fit_path(X, y, loss, l1_ratio, lambdas, n_lambdas, eps, fit_intercept, sample_weight, tol, max_iter,
                           weights=weights, positive=positive, form=form, chunk_size=chunk_size,
                           check_every=check_every, ws_size=ws_size, standardize=standardize, bounds=bounds,
                           grouped=grouped, offset=offset, devices=devices, penalty=penalty, gamma=gamma,
                           groups=groups, dfmax=dfmax, pmax=pmax, early_stop=early_stop).lambdas
    devices = _validation.check_devices(devices, X, y, sample_weight, lambdas, weights, bounds, offset)
    spec = _path_spec(X, y, loss, l1_ratio, lambdas, n_lambdas, eps, fit_intercept, sample_weight, tol, max_iter,
                      weights, positive, form, chunk_size, check_every, ws_size, standardize, bounds, grouped, offset,
                      penalty, gamma, groups, sparse_gram=len(devices) == 1)
    spec = _placed(spec, devices)
    _validation.reject_bools(n_folds=n_folds)
    fold_ids, k = _validation.check_folds(folds, n_folds, spec.X.shape[0])
    _validation.check_cv_folds(fold_ids, spec.s, k, spec.y, spec.loss)
    rows, mask = _fold_rows(fold_ids, k)
    threads = _run_threads(spec.arrays, devices)
    moments, overflow, runs = None, False, None
    if _design.is_sparse(spec.X) and spec.form == "gram":  # every run's moments by scipy, for the runs as calls
        runs = _sparse_runs(fold_ids, spec, k) if threads >= 1 else None
        spec = spec if runs is not None else _data_form(spec, ws_size)
    # the fold moments by numpy's BLAS on X in place, for a large X (fit_path takes its moments the same way)
    elif host_moments_apply(spec.X, spec.form) and k <= MOMENT_FOLDS_MAX:
        moments = fold_moments(np.asarray(spec.X), np.asarray(spec.s), rows, mask, spec.fit_intercept, xp=np)
        overflow = not np.all(np.isfinite(moments[1]))
        moments = None if overflow else moments  # overflow: the single program's own way (columns scaled first)
    if (threads > 1 or runs is not None) and not overflow:
        out = _cv_threaded(fold_ids, rows, mask, spec, moments, k, threads, runs)
    else:
        out = _cv_jit(jnp.asarray(fold_ids), rows, mask, *spec.arrays, moments, n_folds=k, devices=devices,
                      **spec.options)
    scores, fold_conv, full, (mean, se, lam_best, lam_1se) = out
    if not isinstance(fold_conv, jax.core.Tracer):
        warn_if_stopped("jaxl1.cross_validate (fold fits)", np.where(np.asarray(fold_conv), 0, 1), max_iter)
    warn_if_stopped("jaxl1.cross_validate (full-data path)", full.status, max_iter)
    return CVResult(full.lambdas, mean, se, scores, lam_best, lam_1se, full, fold_conv)

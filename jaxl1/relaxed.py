r"""The relaxed lasso (glmnet's ``relax=TRUE``): at each strength of a path, the unpenalized fit on that
strength's support, and the blend of the two fits,

.. math:: \beta(\gamma) = \gamma\,\hat\beta_\lambda + (1 - \gamma)\,\hat\beta^{\mathrm{relaxed}}_\lambda,
   \qquad \gamma \in [0, 1],

(the intercepts blended alike): ``gamma = 1`` is the penalized path, ``gamma = 0`` the refit, which undoes
the shrinkage of the selected coefficients.  :func:`relax` refits a path; :func:`cross_validate_relaxed`
chooses ``gamma`` and the strength together by K-fold cross-validation (glmnet's ``cv.glmnet(relax=TRUE)``),
every fold's path, refits and scores in one compiled call.

The refit at strength :math:`\lambda_k` minimizes the loss over the coefficients of the support
:math:`S_k = \{j : \hat\beta_{\lambda_k, j} \ne 0\}` (and the intercept), the others held at 0: the solver
with the penalty ``Bounded(L1(0), lo, hi)``, ``lo = hi = 0`` off the support, warm-started at the penalized
solution.  Its gap is an estimate here, not a bound: the unpenalized coordinates enter it as the decrease one
gradient step would still make (``v_j^2 / L``), which understates the distance to the optimum of an
ill-conditioned refit (the squared loss's refits are exact solves on the support; a logistic refit of 4
correlated columns, tested at ``tol=1e-12``, is within 1.4e-9 of the optimum relative).  Where the support's columns are collinear, or hold more
variables than samples, the refit is not unique (the solver returns one of its minimizers); with the
logistic loss on separable data it does not exist (the solves stop at ``max_iter`` and say so).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import _design, _validation
from ._jit import jit
from .losses import get_loss, heldout_scores, is_quadratic
from .path import (_STATIC, _cv_scores_of, _data_form, _fold_rows, _in_threads, _on_device, _over_runs, _path_core,
                   _path_jit, _path_spec, _placed, _run_threads, _run_weights, _sparse_predictors, _sparse_runs)
from .penalties import L1, Bounded
from .solver import DEFAULT_MAX_ITER, status_of, warn_if_stopped
from .solvers import certificate_of, init_intercept, intercept_out, prepare, scalable, solve
from .solvers._problem import sparse_gram_choice, sparse_moments

__all__ = ["RelaxedPath", "RelaxedCVResult", "relax", "cross_validate_relaxed"]

GAMMAS = (0.0, 0.25, 0.5, 0.75, 1.0)  # cv.glmnet's default grid of gamma


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["lambdas", "coef", "intercept", "coef_relaxed", "intercept_relaxed", "gap", "n_iter", "converged"],
    meta_fields=["certificate"],
)
@dataclass(frozen=True)
class RelaxedPath:
    """A path and its relaxed refits (a pytree), from :func:`relax`.

    Attributes:
      lambdas: ``(K,)`` the path's strengths.
      coef, intercept: ``(K, p)`` and ``(K,)``: the penalized path (``gamma = 1``).
      coef_relaxed, intercept_relaxed: the unpenalized refits on each strength's support (``gamma = 0``).
      gap, n_iter, converged: the refits' certificates (see :class:`jaxl1.FitResult`), iterations and
        whether each reached ``tol``; a strength with the previous strength's support takes that refit over
        (``n_iter`` 0), so equal supports have identical refits.
      certificate: what ``gap`` measures.
    """

    lambdas: jax.Array
    coef: jax.Array
    intercept: jax.Array
    coef_relaxed: jax.Array
    intercept_relaxed: jax.Array
    gap: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    certificate: str = "duality_gap"

    def blend(self, gamma):
        """``(coef, intercept)`` of the blend ``gamma * path + (1 - gamma) * refit`` at every strength:
        ``(K, p)`` and ``(K,)``; ``gamma`` a number in [0, 1]."""
        return _blend_jit(_check_gamma(gamma), self.coef, self.coef_relaxed, self.intercept, self.intercept_relaxed)

    def predict(self, X, gamma=0.0):
        """Linear predictors of the blend at every strength: ``(n_new, K)`` (log-odds for logistic)."""
        coef, intercept = self.blend(gamma)
        return _design.affine(X, coef, intercept, coef.dtype, transpose=True)

    @property
    def status(self):
        """``(K,)`` why each refit stopped, an index into ``jaxl1.STATUS``."""
        return status_of(self.converged, self.coef_relaxed, self.intercept_relaxed, self.gap)


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["gammas", "lambdas", "mean_score", "std_score", "fold_scores", "gamma_best", "lambda_best",
                 "index", "relaxed", "fold_converged"],
    meta_fields=[],
)
@dataclass(frozen=True)
class RelaxedCVResult:
    """Cross-validation over ``gamma`` and the strength, from :func:`cross_validate_relaxed`.

    Attributes:
      gammas: ``(G,)`` the blends scored.
      lambdas: ``(K,)`` the strengths (computed on all the data).
      mean_score, std_score: ``(G, K)`` the mean held-out score over the folds and its standard error
        (mean squared error for the squared loss, mean deviance otherwise; lower is better).
      fold_scores: ``(n_folds, G, K)``.
      gamma_best, lambda_best: the pair with the smallest mean score (the first in ``gammas``, then along
        the grid, among ties).
      index: ``(2,)`` its indices ``(i_gamma, i_lambda)``.
      relaxed: the :class:`RelaxedPath` on all the data.
      fold_converged: ``(n_folds, K)`` whether each fold's path solve and its refit reached ``tol``.
    """

    gammas: jax.Array
    lambdas: jax.Array
    mean_score: jax.Array
    std_score: jax.Array
    fold_scores: jax.Array
    gamma_best: jax.Array
    lambda_best: jax.Array
    index: jax.Array
    relaxed: RelaxedPath
    fold_converged: jax.Array

    def model(self):
        """``(coef, intercept)`` of the chosen blend at the chosen strength, fitted on all the data."""
        r = self.relaxed
        return _blend_at_jit(self.gamma_best, self.index, r.coef, r.coef_relaxed, r.intercept, r.intercept_relaxed)

    def predict(self, X):
        """Linear predictors of the chosen model: ``(n_new,)``."""
        coef, intercept = self.model()
        return _design.affine(X, coef, intercept, coef.dtype)


def _blend(g, coef, coef_relaxed, intercept, intercept_relaxed):
    return g * coef + (1 - g) * coef_relaxed, g * intercept + (1 - g) * intercept_relaxed


# one program each (as eager operations, each compiled one on a first call)
_blend_jit = jit(_blend)
_blend_at_jit = jit(lambda g, index, *parts: tuple(a[index[1]] for a in _blend(g, *parts)))


def _check_gamma(gamma):
    if isinstance(gamma, jax.core.Tracer):
        return gamma
    _validation.reject_bools(gamma=gamma)
    try:
        g = float(gamma)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be a number in [0, 1], got {gamma!r}") from None
    if not 0.0 <= g <= 1.0:
        raise ValueError(f"gamma must be a number in [0, 1], got {gamma!r}")
    return g


def _check_gammas(gammas):
    try:
        g = np.asarray(gammas, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"gammas must be a 1-D array of numbers in [0, 1], got {gammas!r}") from None
    if g.ndim != 1 or g.size < 1 or np.any(~np.isfinite(g)) or np.any((g < 0) | (g > 1)):
        raise ValueError(f"gammas must be a non-empty 1-D array of numbers in [0, 1], got {gammas!r}")
    return g


def _relax_core(X, y, s, coef, tol, max_iter, offset=None, moments=None, *, loss, fit_intercept, form, check_every,
                ws_size):
    """The unpenalized refit on the support of each row of ``coef`` (traceable): ``(W, b, gap, n_iter, conv)``;
    ``moments``: a sparse ``X``'s in the Gram form (:func:`jaxl1.solvers._problem.sparse_moments`)."""
    loss = get_loss(loss)
    squared = is_quadratic(loss)
    fit_b = fit_intercept and not squared
    dtype = X.dtype
    p = X.shape[1]
    zero = jnp.zeros([], dtype)
    prob = prepare(X, y, s, loss=loss, fit_intercept=fit_intercept, form=form,
                   scale=scalable(Bounded(L1(zero), jnp.zeros(p, dtype), jnp.zeros(p, dtype))), offset=offset,
                   moments=moments)

    def one(w):
        on = w != 0
        pen = Bounded(L1(zero), jnp.where(on, -jnp.inf, 0.0).astype(dtype), jnp.where(on, jnp.inf, 0.0).astype(dtype))
        b0 = init_intercept(prob, loss, fit_b, w) if form == "data" else jnp.zeros([], dtype)
        w_r, b, gap, n_iter, conv = solve(prob, pen, w, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b,
                                          check_every=check_every, ws_size=ws_size)
        return w_r, intercept_out(prob, w_r, b, fit_intercept, squared), gap, n_iter, conv

    # a strength whose support is the previous one's has the same refit: it is taken over (no iteration), so that
    # the blends of equal supports score exactly alike (cross-validation's ties then fall to the first strength)
    def step(prev, w):
        on, out, started = prev
        same = started & jnp.all((w != 0) == on)
        kept = out[:3] + (jnp.zeros_like(out[3]),) + out[4:]
        new = jax.lax.cond(same, lambda: kept, lambda: one(w))
        return ((w != 0), new, jnp.ones([], bool)), new

    blank = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), jax.eval_shape(one, coef[0]))
    return jax.lax.scan(step, (coef[0] != 0, blank, jnp.zeros([], bool)), coef)[1]


_relax_jit = jit(_relax_core, static_argnames=("loss", "fit_intercept", "form", "check_every", "ws_size"))


def _certificate(loss):
    return certificate_of(get_loss(loss), Bounded(L1(0.0)))


def relax(path, X, y, loss: str = "squared", *, fit_intercept: bool = True, sample_weight=None, offset=None,
          tol: float | None = None, max_iter: int = DEFAULT_MAX_ITER, form: str = "auto", check_every: int = 10,
          ws_size: int | None = None) -> RelaxedPath:
    r"""The relaxed lasso of a path: the unpenalized refit on each strength's support (glmnet's ``relax=TRUE``).

    Args:
      path: a :class:`jaxl1.PathResult` fitted on ``X`` and ``y`` (any penalty: the lasso, the elastic net,
        the group lasso, MCP, ...; or a :class:`jaxl1.CVResult`, whose full-data path is taken), with a
        coefficient vector per strength (a 1-D ``y``).
      X, y, loss, fit_intercept, sample_weight, offset: the data and the model of the path (as in
        :func:`jaxl1.fit_path`); the refits have no penalty, so the path's penalty factors, ``standardize``
        and strengths do not enter, and its ``bounds`` are not kept.
      tol, max_iter, form, check_every, ws_size: the refits' solver settings (as in :func:`jaxl1.fit`; the
        refits run one after the other, each warm-started at the path's solution).

    Returns:
      A :class:`RelaxedPath`; ``blend(gamma)`` gives glmnet's relaxed fit for ``gamma`` in [0, 1].

    Raises:
      ValueError: naming ``path`` (coefficients that do not match ``X``, or a coefficient matrix), or as
        :func:`jaxl1.fit`.

    Examples:
      >>> import numpy as np, jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> path = jaxl1.fit_path(X, y, n_lambdas=20)
      >>> rel = jaxl1.relax(path, X, y)
      >>> k = 8  # the refit has the path's support, and fits at least as well
      >>> bool(((rel.coef_relaxed[k] != 0) == (path.coef[k] != 0)).all())
      True
      >>> rss = lambda c, b: float(((y - X @ c - b) ** 2).sum())
      >>> rss(rel.coef_relaxed[k], rel.intercept_relaxed[k]) <= rss(path.coef[k], path.intercept[k])
      True
    """
    path = getattr(path, "path", path)
    if not all(hasattr(path, name) for name in ("coef", "intercept", "lambdas")):
        raise ValueError(f"path must be a jaxl1.PathResult (or a jaxl1.CVResult), got {type(path).__name__}")
    X, y, s = _validation.validate_data(X, y, sample_weight, loss)
    lossobj = get_loss(loss)
    if y.ndim != 1:
        raise ValueError("y: the relaxed fit is for a coefficient vector per strength (a 1-D y); a 2-D y "
                         "(several responses, or loss='multinomial') is not supported")
    n, p = X.shape
    coef = path.coef
    if coef.ndim != 2 or coef.shape[1] != p:
        raise ValueError(f"path: its coefficients {coef.shape} do not match X {X.shape} (a (K, p) array is expected)")
    offset = _validation.check_offset(offset, y)
    _validation.reject_bools(tol=tol, max_iter=max_iter, check_every=check_every, ws_size=ws_size)
    tol = _validation.check_tol_iter(tol, max_iter, X.dtype)
    check_every = _validation.check_integer("check_every", check_every)
    sparse = _design.is_sparse(X)
    form = _validation.check_form(lossobj, n, p, form, sparse=sparse, gram=sparse_gram_choice(X, s) if sparse else None)
    # a sparse X in the Gram form: its moments by scipy (the data form where they overflow)
    moments = sparse_moments(X, s, bool(fit_intercept)) if (sparse and form == "gram") else None
    form = "data" if (sparse and moments is None) else form
    ws_size = _validation.check_ws_size(ws_size, lossobj, n, p, form)
    W, b, gap, n_iter, conv = _relax_jit(X, y, s, jnp.asarray(coef, X.dtype), _validation.as_arg(tol, X.dtype),
                                         _validation.as_arg(max_iter, np.int32), offset, moments, loss=lossobj,
                                         fit_intercept=bool(fit_intercept), form=form, check_every=check_every,
                                         ws_size=ws_size)
    rel = RelaxedPath(path.lambdas, coef, path.intercept, W, b, gap, n_iter, conv, _certificate(lossobj))
    warn_if_stopped("jaxl1.relax", rel.status, max_iter)
    return rel


def _cv_relaxed_impl(folds, gammas, X, y, s, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset, *, n_folds,
                     devices, form_r, ws_r, **static):
    """Every fold's path, refits and scores for every gamma, and the full-data path and refits."""
    loss = get_loss(static["loss"])
    fit_intercept = static["fit_intercept"]

    def one_run(k, X, y, s, folds, gammas, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset):
        out = folds == k
        s_train = jnp.where(out, 0.0, s)
        s_train = s_train / jnp.sum(s_train)
        path = _path_core(X, y, s_train, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset, **static)
        W, b, gap, n_iter, conv = _relax_core(X, y, s_train, path.coef, tol, max_iter, offset, loss=loss,
                                              fit_intercept=fit_intercept, form=form_r,
                                              check_every=static["check_every"], ws_size=ws_r)
        o = jnp.zeros_like(y) if offset is None else offset
        held = jnp.where(out, s, 0.0)
        held = held / jnp.maximum(jnp.sum(held), jnp.finfo(X.dtype).tiny)
        z1 = _design.matmul(X, path.coef.T) + path.intercept + o[:, None]  # (n, K): gamma = 1
        z0 = _design.matmul(X, W.T) + b + o[:, None]  # gamma = 0
        z = gammas[:, None, None] * z1 + (1 - gammas[:, None, None]) * z0  # (G, n, K): linear in gamma
        per_sample = jax.vmap(jax.vmap(lambda zk: heldout_scores(loss, y, zk), in_axes=1, out_axes=1))(z)
        scores = jnp.einsum("i,gik->gk", held, per_sample)
        rel = RelaxedPath(path.lambdas, path.coef, path.intercept, W, b, gap, n_iter, conv)
        return scores, (path.converged & conv), rel

    args = (X, y, s, folds, gammas, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset)
    n_runs = -(-(n_folds + 1) // max(len(devices), 1)) * max(len(devices), 1)
    runs = jnp.minimum(jnp.arange(n_runs), n_folds)  # the padding repeats the full run
    scores, conv, rels = _over_runs(one_run, runs, args, devices)
    return scores[:n_folds], conv[:n_folds], jax.tree.map(lambda a: a[n_folds], rels)


_cv_relaxed_jit = jit(_cv_relaxed_impl, static_argnames=("n_folds", "devices", "form_r", "ws_r") + _STATIC)


def _cv_relaxed_runs(fold_ids, spec, k, runs, gammas, n_threads):
    """:func:`_cv_relaxed_impl`'s results for a sparse ``X`` in the Gram form: each run (a fold held out, or the full
    run) is a call of :func:`jaxl1.fit_path`'s compiled program and one of :func:`relax`'s, both from the run's own
    moments (``runs``: :func:`jaxl1.path._sparse_runs`), from ``n_threads`` threads (one after the other for 1); the
    folds' predictors by scipy on their own rows (:func:`jaxl1.path._sparse_predictors`)."""
    n, p = spec.X.shape
    X, y, s, rest = spec.X, spec.y, spec.s, spec.arrays[3:]
    opts = spec.options
    ws_r = _validation.check_ws_size(None, spec.loss, n, p, "gram")

    def run(i):
        st = _on_device(_run_weights(fold_ids, s, k, i))
        path = _path_jit(X, y, st, *rest, None, runs[i], devices=(), **opts)
        refit = _relax_jit(X, y, st, path.coef, spec.tol, spec.max_iter, spec.offset, runs[i], loss=spec.loss,
                           fit_intercept=spec.fit_intercept, form="gram", check_every=spec.check_every, ws_size=ws_r)
        return path, refit

    outs = _in_threads(run, k + 1, n_threads)
    rows, mask = (np.asarray(a) for a in _fold_rows(fold_ids, k))
    stacked = lambda get: np.stack([np.asarray(get(o)) for o in outs[:k]])
    Z1 = _sparse_predictors(X, rows, stacked(lambda o: o[0].coef), stacked(lambda o: o[0].intercept))
    Z0 = _sparse_predictors(X, rows, stacked(lambda o: o[1][0]), stacked(lambda o: o[1][1]))
    G = gammas.size
    Z = gammas[:, None, None, None] * Z1 + (1 - gammas[:, None, None, None]) * Z0  # (G, k, m, K): linear in gamma
    scores = np.asarray(_cv_scores_of(y, s, spec.offset, np.tile(rows, (G, 1)), np.tile(mask, (G, 1)),
                                      Z.reshape((G * k,) + Z.shape[2:]), loss=spec.loss))
    scores = scores.reshape((G, k, -1)).transpose(1, 0, 2)  # (k, G, K)
    conv = stacked(lambda o: o[0].converged) & stacked(lambda o: o[1][4])
    path, (W, b, gap, n_iter, c) = outs[k]
    rel = RelaxedPath(path.lambdas, path.coef, path.intercept, W, b, gap, n_iter, c)
    return jax.device_put(scores), jax.device_put(conv), rel


def cross_validate_relaxed(
    X, y, gammas=GAMMAS, n_folds: int = 5, folds=None, loss: str = "squared", l1_ratio: float | None = None,
    lambdas=None, n_lambdas: int = 100, eps: float = 1e-3, fit_intercept: bool = True, sample_weight=None,
    tol: float | None = None, max_iter: int = DEFAULT_MAX_ITER, *, weights=None, standardize: bool = False,
    offset=None, penalty: str = "l1", gamma: float | None = None, groups=None, check_every: int = 10,
    devices=None,
) -> RelaxedCVResult:
    r"""The relaxed lasso with ``gamma`` and the strength chosen by K-fold cross-validation (glmnet's
    ``cv.glmnet(relax=TRUE)``), in one compiled call.

    The strengths are computed on all the data; each fold's path is fitted on the other folds, refitted
    on each strength's support (:func:`relax`), and every blend ``gamma * path + (1 - gamma) * refit`` in
    ``gammas`` is scored on the fold's own samples; the path and its refits are then fitted on all the data.
    A sparse ``X`` with more rows than columns, concrete on a CPU, takes the Gram form as in
    :func:`jaxl1.cross_validate`: each run (a fold held out, or all the data) is then a call of its own, from its
    own moments.

    Args:
      gammas: the blends to score, numbers in [0, 1] (default cv.glmnet's ``0, 0.25, 0.5, 0.75, 1``; 1 is the
        plain path, so the choice includes it).
      n_folds, folds, devices: as in :func:`jaxl1.cross_validate`.
      X, y, loss, l1_ratio, lambdas, n_lambdas, eps, fit_intercept, sample_weight, tol, max_iter, weights,
        standardize, offset, penalty, gamma, groups, check_every: the path's, as in :func:`jaxl1.fit_path`
        (``gamma`` is MCP's or SCAD's concavity, not a blend); a 1-D ``y``.

    Returns:
      A :class:`RelaxedCVResult`.

    Raises:
      ValueError: naming ``gammas``, or as :func:`jaxl1.cross_validate`.

    Examples:
      >>> import jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> cv = jaxl1.cross_validate_relaxed(X, y, n_lambdas=20)
      >>> cv.mean_score.shape, 0.0 <= float(cv.gamma_best) <= 1.0
      ((5, 20), True)
    """
    g = _check_gammas(gammas)
    devices = _validation.check_devices(devices, X, y, sample_weight, lambdas, weights, offset)
    # a sparse X may take the Gram form when its runs go as calls from the host (each from its own moments)
    spec = _path_spec(X, y, loss, l1_ratio, lambdas, n_lambdas, eps, fit_intercept, sample_weight, tol, max_iter,
                      weights, False, "auto", None, check_every, None, standardize, None, False, offset, penalty,
                      gamma, groups, sparse_gram=len(devices) == 1)
    if spec.y.ndim != 1:
        raise ValueError("y: the relaxed fit is for a coefficient vector per strength (a 1-D y); a 2-D y (several "
                         "responses, or loss='multinomial') is not supported")
    _validation.reject_bools(n_folds=n_folds)
    fold_ids, k = _validation.check_folds(folds, n_folds, spec.X.shape[0])
    _validation.check_cv_folds(fold_ids, spec.s, k, spec.y, spec.loss)
    spec = _placed(spec, devices)
    n, p = spec.X.shape
    gam = jnp.asarray(g, spec.X.dtype)
    runs, threads = None, _run_threads(spec.arrays, devices)
    if _design.is_sparse(spec.X) and spec.form == "gram":
        runs = _sparse_runs(fold_ids, spec, k) if threads >= 1 else None
        spec = spec if runs is not None else _data_form(spec, None)
    if runs is not None:
        scores, conv, rel = _cv_relaxed_runs(fold_ids, spec, k, runs, g, threads)
    else:
        form_r = _validation.check_form(spec.loss, n, p, "auto", sparse=_design.is_sparse(spec.X))
        ws_r = _validation.check_ws_size(None, spec.loss, n, p, form_r)
        scores, conv, rel = _cv_relaxed_jit(jnp.asarray(fold_ids), gam, *spec.arrays, n_folds=k, devices=devices,
                                            form_r=form_r, ws_r=ws_r, **spec.options)
    rel = RelaxedPath(*(getattr(rel, f) for f in ("lambdas", "coef", "intercept", "coef_relaxed", "intercept_relaxed",
                                                  "gap", "n_iter", "converged")), _certificate(spec.loss))
    mean = jnp.mean(scores, axis=0)
    se = jnp.std(scores, axis=0, ddof=1) / jnp.sqrt(k)
    flat = jnp.argmin(mean.reshape(-1))
    index = jnp.stack([flat // mean.shape[1], flat % mean.shape[1]])
    warn_if_stopped("jaxl1.cross_validate_relaxed (fold fits)", jnp.where(conv, 0, 1), max_iter)
    warn_if_stopped("jaxl1.cross_validate_relaxed (full-data refits)", rel.status, max_iter)
    return RelaxedCVResult(gam, rel.lambdas, mean, se, scores, gam[index[0]], rel.lambdas[index[1]], index, rel, conv)

r"""Gradient-based tuning of the regularization strength (and penalty factors).

The held-out loss :math:`V(\lambda) = \ell_{\text{val}}(\hat w(\lambda), \hat b(\lambda))` of a
model fitted on a training split is differentiated through the solver by
implicit differentiation (:mod:`jaxl1.implicit`) and minimized over
:math:`\log\lambda` with an optax optimizer.  With ``tune_weights=True`` the
per-feature penalty factors :math:`c_j = e^{\gamma_j}` are tuned as well (the
weighted lasso, where a grid search over ``p`` factors is impossible).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _validation
from ._jit import jit
from .losses import get_loss, heldout_scores
from .path import _lambda_max
from .penalties import L1, ElasticNet
from .solver import DEFAULT_MAX_ITER, _fit_checked, warn_if_stopped

__all__ = ["TuneResult", "tune", "heldout_score"]


@dataclass(frozen=True)
class TuneResult:
    """The trajectory of :func:`tune`.

    Attributes:
      lambdas: ``(n_steps + 1,)`` strengths visited (the last one after the final update).
      scores: ``(n_steps,)`` held-out scores at ``lambdas[:-1]``.
      lambda_best: the visited strength with the lowest held-out score.
      score_best: that score.
      weights_best: the penalty factors at ``lambda_best`` (``None`` unless ``tune_weights``).
      fit: the :class:`jaxl1.FitResult` at ``lambda_best`` on the training data.
    """

    lambdas: np.ndarray
    scores: np.ndarray
    lambda_best: float
    score_best: float
    weights_best: np.ndarray | None
    fit: object


def heldout_score(loss, y, z):
    """The mean of the loss's held-out score (mean squared error, mean deviance, ...) of predictions ``z``."""
    return jnp.mean(heldout_scores(get_loss(loss), y, z))


def _penalty(params, l1_ratio):
    lam = jnp.exp(params["log_lambda"])
    if "log_weights" in params:
        return L1(lam, jnp.exp(params["log_weights"]))
    return L1(lam) if l1_ratio == 1.0 else ElasticNet(lam, l1_ratio)


def _objective(params, Xt, yt, st, Xv, yv, tol, *, loss, fit_intercept, l1_ratio):
    res = _fit_checked(Xt, yt, st, _penalty(params, l1_ratio), loss=loss, fit_intercept=fit_intercept, tol=tol)
    return heldout_score(loss, yv, Xv @ res.coef + res.intercept)


# module level, so repeated calls with the same shapes reuse the compiled program
_value_and_grad = jit(jax.value_and_grad(_objective), static_argnames=("loss", "fit_intercept", "l1_ratio"))


def tune(
    X_train, y_train, X_val, y_val, init_lambda=None, *, loss: str = "squared", l1_ratio: float = 1.0,
    fit_intercept: bool = True, tune_weights: bool = False, optimizer=None, n_steps: int = 40,
    tol: float | None = None,
) -> TuneResult:
    r"""Minimize the held-out loss over :math:`\log\lambda` by gradient descent through the solver.

    Args:
      X_train, y_train: the data the model is fitted on (``X_train`` and ``X_val`` dense or sparse,
        as in :func:`jaxl1.fit`).
      X_val, y_val: the data the model is scored on (mean squared error for the
        squared loss, mean deviance for the logistic loss).
      init_lambda: starting strength; default ``0.1 * lambda_max(X_train, y_train)``.
      loss: ``"squared"`` or ``"logistic"``.
      l1_ratio: elastic-net mixing (1 is the lasso).
      fit_intercept: fit an unpenalized intercept.
      tune_weights: also tune per-feature penalty factors (lasso only), starting at 1.
      optimizer: an optax optimizer over ``{"log_lambda", "log_weights"}``;
        default ``optax.adam(0.1)``.
      n_steps: number of optimizer steps.
      tol: the solver's relative duality gap (default: 1e-10 in float64, 1e-5 in float32).

    Returns:
      A :class:`TuneResult`.

    Examples:
      >>> import numpy as np, jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> res = jaxl1.tune(X[:300], y[:300], X[300:], y[300:], n_steps=30)
      >>> grid = jaxl1.fit_path(X[:300], y[:300], n_lambdas=60)
      >>> best_grid = float(((y[300:, None] - grid.predict(X[300:])) ** 2).mean(0).min())
      >>> bool(res.score_best <= 1.01 * best_grid)
      True
    """
    with _validation.renamed(X="X_train", y="y_train"):
        Xt, yt, st = _validation.validate_data(X_train, y_train, None, loss)
        _validation.check_magnitude(Xt, yt)
        _validation.check_two_classes(yt, st, loss)
    with _validation.renamed(X="X_val", y="y_val"):
        Xv, yv, _ = _validation.validate_data(X_val, y_val, None, loss)
    loss = get_loss(loss)
    _validation.reject_bools(init_lambda=init_lambda, l1_ratio=l1_ratio, n_steps=n_steps, tol=tol)
    _validation.check_same_features(Xt, Xv)
    n_steps = _validation.check_integer("n_steps", n_steps)
    l1_ratio = _validation.check_l1_ratio(l1_ratio)
    _validation.check_tune_weights(tune_weights, l1_ratio)
    dtype = Xt.dtype
    tol = _validation.check_tol(tol, 1e-10 if dtype == jnp.float64 else 1e-5)
    fit_intercept = bool(fit_intercept)
    if init_lambda is None:
        _validation.check_has_lambda_max(l1_ratio)
        kind = _validation.path_penalty_kind(l1_ratio, False, None)
        lam_max = _lambda_max(Xt, yt, st, loss=loss, kind=kind, l1_ratio=l1_ratio, weights=None,
                              fit_intercept=fit_intercept)
        init_lambda = 0.1 * float(lam_max)
    _validation.check_positive_number("init_lambda", init_lambda)
    p = Xt.shape[1]
    params = {"log_lambda": jnp.log(jnp.asarray(init_lambda, dtype))}
    if tune_weights:
        params["log_weights"] = jnp.zeros(p, dtype)

    cfg = dict(loss=loss, fit_intercept=fit_intercept, l1_ratio=l1_ratio)
    data = (Xt, yt, st, Xv, yv, jnp.asarray(tol, dtype))
    opt = optax.adam(0.1) if optimizer is None else optimizer
    state = opt.init(params)
    lambdas, scores, weights = [], [], []
    for _ in range(n_steps):
        value, grads = _value_and_grad(params, *data, **cfg)
        lambdas.append(float(jnp.exp(params["log_lambda"])))
        scores.append(float(value))
        weights.append(np.asarray(jnp.exp(params["log_weights"])) if tune_weights else None)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    lambdas.append(float(jnp.exp(params["log_lambda"])))
    i = int(np.argmin(scores))
    best = {"log_lambda": jnp.log(jnp.asarray(lambdas[i], dtype))}
    if tune_weights:
        best["log_weights"] = jnp.log(jnp.asarray(weights[i], dtype))
    best_fit = _fit_checked(Xt, yt, st, _penalty(best, l1_ratio), loss=loss, fit_intercept=fit_intercept, tol=tol)
    warn_if_stopped("jaxl1.fit", best_fit.status, DEFAULT_MAX_ITER, stacklevel=2)
    return TuneResult(np.array(lambdas), np.array(scores), lambdas[i], scores[i], weights[i], best_fit)

r"""Information criteria along a path: choosing the strength without cross-validation.

For the fit :math:`\hat z_k` at each strength of a path, with :math:`\mathrm{df}_k` its number of
nonzero coefficients (the lasso's degrees of freedom, Zou, Hastie and Tibshirani 2007),

.. math:: \mathrm{IC}_k = D_k + c\,\mathrm{df}_k, \qquad c = 2 \text{ (AIC)}, \quad \log n \text{ (BIC)},

and the extended BIC for :math:`p \gg n` (Chen and Chen 2008) adds :math:`2\gamma\log\binom{p}{\mathrm{df}_k}`.
For the squared loss :math:`D_k = n \log(2\pi\sigma^2) + \mathrm{RSS}_k / \sigma^2` with a known or
estimated noise variance (scikit-learn's ``LassoLarsIC``), or :math:`n \log(\mathrm{RSS}_k / n)` with
``noise_variance="profile"`` (the variance maximized out at each strength, which needs no estimate; it
is infinite where the fit has ``n - 1`` or more degrees of freedom with the intercept, where the residuals
vanish); for the other losses :math:`D_k` is the deviance.  Samples of zero weight do not count in ``n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

from . import _design, _validation
from .losses import get_loss, heldout_scores

__all__ = ["ICResult", "information_criterion"]

CRITERIA = ("aic", "bic", "ebic")


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["lambdas", "criterion", "df", "index", "lambda_best", "noise_variance"],
    meta_fields=["name"],
)
@dataclass(frozen=True)
class ICResult:
    """An information criterion along a path, from :func:`information_criterion`.

    Attributes:
      lambdas: ``(K,)`` the path's strengths.
      criterion: ``(K,)`` the criterion at each strength (lower is better).
      df: ``(K,)`` the degrees of freedom: nonzero coefficients (entries, for a coefficient matrix).
      index: the strength with the smallest criterion (the first such one).
      lambda_best: ``lambdas[index]``.
      noise_variance: the variance used for the squared loss (given or estimated; NaN otherwise).
      name: ``"aic"``, ``"bic"`` or ``"ebic"``.
    """

    lambdas: jax.Array
    criterion: jax.Array
    df: jax.Array
    index: jax.Array
    lambda_best: jax.Array
    noise_variance: jax.Array
    name: str


def _ols_noise_variance(X, y, s, fit_intercept):
    """Residual variance of the (weighted) least-squares fit: RSS / (n - p - fit_intercept)."""
    keep = np.asarray(s) > 0  # zero weight: the row is absent
    X, y, s = X[keep], y[keep], s[keep]
    n, p = X.shape
    if n <= p + int(fit_intercept):
        raise ValueError(f"noise_variance: it cannot be estimated by least squares with n={n} samples and p={p} "
                         f"features (it needs n > p{' + 1' if fit_intercept else ''}); pass a number, or "
                         f"noise_variance='profile'")
    X, y, w = np.asarray(X, np.float64), np.asarray(y, np.float64), np.asarray(s, np.float64) * n
    if fit_intercept:
        X = X - w @ X / n
        y = y - w @ y / n
    r = np.sqrt(w)
    beta = np.linalg.lstsq(X * r[:, None], y * r, rcond=None)[0]
    return float(np.sum(w * (y - X @ beta) ** 2) / (n - p - int(fit_intercept)))


def information_criterion(path, X, y, loss: str = "squared", criterion: str = "bic", *, noise_variance=None,
                          gamma: float = 0.5, fit_intercept: bool = True, sample_weight=None,
                          offset=None) -> ICResult:
    r"""AIC, BIC or the extended BIC at every strength of a path, and the strength that minimizes it.

    Args:
      path: a :class:`jaxl1.PathResult` fitted on ``X`` and ``y`` (or a :class:`jaxl1.CVResult`: its
        path on all the data).
      X, y, loss, sample_weight, offset: the data and loss of the path (a weight multiplies its sample's
        term, with the weights rescaled to sum to ``n``).
      criterion: ``"aic"`` (``c = 2``), ``"bic"`` (``c = log n``) or ``"ebic"`` (BIC plus
        ``2 gamma log C(p, df)``; ``p`` counts every coefficient entry).
      noise_variance: squared loss only: the noise variance :math:`\sigma^2`; ``None`` (default)
        estimates it by least squares on all the features, as ``LassoLarsIC`` does (needs
        ``n > p + fit_intercept``); ``"profile"`` uses :math:`n \log(\mathrm{RSS}/n)` instead (infinite
        where ``df + fit_intercept >= n - 1``).  ``n`` counts the samples of positive weight.
      gamma: the extended BIC's :math:`\gamma` in [0, 1] (0 is the BIC).
      fit_intercept: whether the path has an intercept (for the variance estimate's degrees of freedom).

    Returns:
      An :class:`ICResult`.

    Raises:
      ValueError: naming ``criterion``, ``gamma``, ``noise_variance`` (not positive, given for another
        loss, or not estimable) or ``path`` (coefficients that do not match ``X``).

    Examples:
      >>> import jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> path = jaxl1.fit_path(X, y, n_lambdas=30)
      >>> ic = jaxl1.information_criterion(path, X, y, criterion="bic")
      >>> ic.criterion.shape, int(ic.df[ic.index])
      ((30,), 7)
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {list(CRITERIA)}, got {criterion!r}")
    _validation.reject_bools(gamma=gamma)
    if not isinstance(gamma, (int, float, np.integer, np.floating)) or not 0.0 <= float(gamma) <= 1.0:
        raise ValueError(f"gamma must be a number in [0, 1], got {gamma!r}")
    path = getattr(path, "path", path)
    X, y, s = _validation.validate_data(X, y, sample_weight, loss)
    offset = _validation.check_offset(offset, y)
    lossobj = get_loss(loss)
    p = X.shape[1]
    n = int(np.count_nonzero(np.asarray(s) > 0))  # the samples that count (zero weight: absent)
    coef = path.coef
    if coef.ndim < 2 or coef.shape[1] != p or coef.shape[2:] != y.shape[1:]:
        raise ValueError(f"path: its coefficients {coef.shape} do not match X {X.shape} and y {y.shape} "
                         f"(a (K, p) or (K, p, T) array is expected)")
    z = path.predict(X)  # (n, K) or (n, K, T)
    if offset is not None:
        z = z + (offset[:, None] if y.ndim == 1 else offset[:, None, :])
    w = s * n  # the sample weights, summing to n
    squared = lossobj.name == "squared"
    if noise_variance is not None and not squared:
        raise ValueError("noise_variance applies to the squared loss only")
    if squared:
        resid = (y[:, None] - z) ** 2
        rss = jnp.einsum("i,ik...->k", w, resid)
        if isinstance(noise_variance, str):
            if noise_variance != "profile":
                raise ValueError(f"noise_variance must be a positive number, None or 'profile', got "
                                 f"{noise_variance!r}")
            sigma2 = jnp.nan
            m = n * (1 if y.ndim == 1 else y.shape[1])
            df_all = jnp.sum(coef != 0, axis=tuple(range(1, coef.ndim))) + int(fit_intercept)
            fit = jnp.where(df_all < n - 1, m * jnp.log(rss / m), jnp.inf)  # no variance left to estimate
        else:
            if noise_variance is None:
                if y.ndim != 1:
                    raise ValueError("noise_variance: pass it for a 2-D y (it is estimated for one response only)")
                sigma2 = _ols_noise_variance(X if not _design.is_sparse(X) else X.todense(), y, s,
                                             fit_intercept)
            else:
                _validation.reject_bools(noise_variance=noise_variance)
                if not isinstance(noise_variance, (int, float, np.integer, np.floating)) or \
                        not (math.isfinite(float(noise_variance)) and float(noise_variance) > 0):
                    raise ValueError(f"noise_variance must be a positive number, None or 'profile', got "
                                     f"{noise_variance!r}")
                sigma2 = float(noise_variance)
            m = n * (1 if y.ndim == 1 else y.shape[1])
            fit = m * jnp.log(2 * jnp.pi * sigma2) + rss / sigma2
    else:
        sigma2 = jnp.nan
        scores = jax.vmap(lambda zk: heldout_scores(lossobj, y, zk), in_axes=1, out_axes=1)(z)  # (n, K)
        fit = w @ scores
    df = jnp.sum(coef != 0, axis=tuple(range(1, coef.ndim)))
    c = 2.0 if criterion == "aic" else math.log(n)
    value = fit + c * df
    if criterion == "ebic":
        total = math.prod(coef.shape[1:])
        log_binom = gammaln(total + 1.0) - gammaln(df + 1.0) - gammaln(total - df + 1.0)
        value = value + 2.0 * float(gamma) * log_binom
    value = value.astype(coef.dtype)
    index = jnp.argmin(value)
    return ICResult(path.lambdas, value, df, index, path.lambdas[index], jnp.asarray(sigma2, coef.dtype), criterion)

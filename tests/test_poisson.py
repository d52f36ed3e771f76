"""Poisson regression (``loss="poisson"``) and the ``offset`` of every loss.

References: scikit-learn's ``PoissonRegressor`` (an L2 penalty, with sample weights), the optimality
conditions of the L1 problem computed in numpy, the closed form of the intercept, finite differences
for the gradients, and the offset's own identities (the squared loss with an offset is the fit on
``y - offset``; a Poisson offset ``log t`` is a model of the rates ``y / t``).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import PoissonRegressor

import jaxl1
from jaxl1.losses import Poisson

N, P = 80, 6


@pytest.fixture(scope="module")
def counts():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((N, P)) * np.linspace(0.5, 2.0, P)
    w = np.array([0.4, -0.3, 0.0, 0.2, 0.0, 0.0])
    exposure = rng.uniform(0.5, 3.0, N)
    y = rng.poisson(exposure * np.exp(X @ w + 0.2)).astype(float)
    return X, y, np.log(exposure)


def _poisson_kkt(X, y, coef, b, alpha, offset=0.0, s=None):
    """The largest violation of the L1 problem's optimality conditions (intercept included), in numpy."""
    s = np.full(len(y), 1 / len(y)) if s is None else s / s.sum()
    z = X @ coef + b + offset
    u = s * (np.exp(z) - y)
    g = X.T @ u
    on = coef != 0
    viol = np.concatenate([np.abs(g[on] + alpha * np.sign(coef[on])), np.maximum(np.abs(g[~on]) - alpha, 0.0),
                           [abs(u.sum())]])
    return viol.max()


def test_poisson_l1_meets_optimality_conditions_with_offset(counts):
    X, y, off = counts
    for ws_size in (None, 0):  # working sets (prox-Newton), and FISTA with backtracking
        res = jaxl1.fit(X, y, jaxl1.L1(0.12), loss="poisson", offset=off, tol=1e-12, ws_size=ws_size,
                        max_iter=100_000)
        assert res.converged and res.certificate == "duality_gap"
        coef = np.asarray(res.coef)
        assert 0 < np.sum(coef != 0) < P
        assert _poisson_kkt(X, y, coef, float(res.intercept), 0.12, off) < 1e-6


def test_poisson_l2_matches_sklearn_poisson_regressor(counts):
    X, y, _ = counts
    sw = np.random.default_rng(0).uniform(0.2, 2.0, N)
    ref = PoissonRegressor(alpha=0.05, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=sw)
    # scikit-learn: (1/(2 sum sw)) sum sw deviance + alpha/2 ||w||^2; jaxl1's value is half the mean deviance
    res = jaxl1.fit(X, y, jaxl1.L2(0.025), loss="poisson", sample_weight=sw, tol=1e-14)
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(res.intercept, ref.intercept_, rtol=1e-7)


def test_poisson_intercept_is_the_closed_form():
    rng = np.random.default_rng(1)
    y = rng.poisson(2.0, 30).astype(float)
    z = rng.standard_normal(30)
    s = rng.uniform(0, 1, 30)
    s[:3] = 0
    s /= s.sum()
    b = float(Poisson.intercept(jnp.asarray(y), jnp.asarray(z), jnp.asarray(s)))
    assert b == pytest.approx(np.log(np.sum(s * y) / np.sum(s * np.exp(z))), rel=1e-12)
    # the null model: lambda_max's intercept is log of the (weighted) mean rate
    X = rng.standard_normal((30, 4))
    res = jaxl1.fit(X, y, jaxl1.L1(10.0), loss="poisson")
    assert np.all(np.asarray(res.coef) == 0)
    assert float(res.intercept) == pytest.approx(np.log(y.mean()), rel=1e-10)


def test_poisson_lambda_max_and_path_with_offset(counts):
    X, y, off = counts
    lam_max = float(jaxl1.lambda_max(X, y, loss="poisson", offset=off))
    # numpy: the gradient at w = 0 with the intercept optimal for the offset
    b = np.log(y.sum() / np.exp(off).sum())
    g = X.T @ (np.exp(off + b) - y) / N
    assert lam_max == pytest.approx(np.abs(g).max(), rel=1e-10)
    path = jaxl1.fit_path(X, y, loss="poisson", offset=off, n_lambdas=12, eps=1e-2, tol=1e-10)
    assert bool(path.converged.all())
    assert np.all(np.asarray(path.coef[0]) == 0)
    for k in (3, 8, 11):
        assert _poisson_kkt(X, y, np.asarray(path.coef[k]), float(path.intercept[k]), float(path.lambdas[k]),
                            off) < 1e-6
    # sparse X: the same path
    sp_path = jaxl1.fit_path(sp.csr_matrix(X), y, loss="poisson", offset=off, n_lambdas=12, eps=1e-2, tol=1e-10)
    np.testing.assert_allclose(sp_path.coef, path.coef, atol=1e-7)


def test_poisson_cross_validation_scores_are_heldout_deviances(counts):
    X, y, off = counts
    folds = np.arange(N) % 4
    cv = jaxl1.cross_validate(X, y, folds=folds, loss="poisson", offset=off, n_lambdas=6, eps=0.05, tol=1e-10)
    for k in (0, 2):
        train = folds != k
        path = jaxl1.fit_path(X[train], y[train], loss="poisson", offset=off[train], lambdas=cv.lambdas, tol=1e-10)
        mu = np.exp(X[~train] @ np.asarray(path.coef).T + np.asarray(path.intercept) + off[~train][:, None])
        yk = y[~train][:, None]
        dev = 2 * (np.where(yk > 0, yk * np.log(np.where(yk > 0, yk, 1) / mu), 0.0) - yk + mu)
        np.testing.assert_allclose(cv.fold_scores[k], dev.mean(axis=0), rtol=1e-6)


def test_poisson_gradient_matches_finite_differences(counts):
    X, y, off = counts
    pen = jaxl1.L1(0.02)

    def f(X, y):
        r = jaxl1.fit(X, y, pen, loss="poisson", offset=off, tol=1e-13)
        return jnp.sum(r.coef * jnp.arange(1.0, P + 1)) + r.intercept

    g = jax.grad(f, argnums=1)(jnp.asarray(X), jnp.asarray(y))
    rng = np.random.default_rng(5)
    d = rng.standard_normal(N) * (y > 0)  # counts stay non-negative
    h = 1e-5
    fd = (f(X, y + h * d) - f(X, y - h * d)) / (2 * h)
    assert float(jnp.vdot(g, d)) == pytest.approx(float(fd), rel=1e-5)


def test_squared_offset_is_the_fit_on_y_minus_offset():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 5))
    y = X[:, 0] + rng.standard_normal(40)
    off = rng.standard_normal(40)
    a = jaxl1.fit(X, y, jaxl1.L1(0.1), offset=off, tol=1e-12)
    b = jaxl1.fit(X, y - off, jaxl1.L1(0.1), tol=1e-12)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-12)
    np.testing.assert_allclose(a.intercept, b.intercept, atol=1e-12)
    # the logistic loss with an offset: its optimality conditions in numpy
    t = (X[:, 1] + off + rng.standard_normal(40) > 0).astype(float)
    r = jaxl1.fit(X, t, jaxl1.L1(0.02), loss="logistic", offset=off, tol=1e-12)
    z = X @ np.asarray(r.coef) + float(r.intercept) + off
    u = (1 / (1 + np.exp(-z)) - t) / 40
    g = X.T @ u
    on = np.asarray(r.coef) != 0
    assert abs(u.sum()) < 1e-7 and np.all(np.abs(g[~on]) <= 0.02 + 1e-7)
    np.testing.assert_allclose(g[on], -0.02 * np.sign(np.asarray(r.coef)[on]), atol=1e-7)


def test_poisson_bad_input_names_the_argument(counts):
    X, y, off = counts
    with pytest.raises(ValueError, match="y must hold non-negative counts"):
        jaxl1.fit(X, np.where(np.arange(N) == 3, -1.0, y), jaxl1.L1(0.1), loss="poisson")
    with pytest.raises(ValueError, match="y contains NaN"):
        jaxl1.fit(X, np.where(np.arange(N) == 3, np.nan, y), jaxl1.L1(0.1), loss="poisson")
    with pytest.raises(ValueError, match="y is all zero"):
        jaxl1.fit_path(X, np.zeros(N), loss="poisson")
    with pytest.raises(ValueError, match="offset must have shape"):
        jaxl1.fit(X, y, jaxl1.L1(0.1), loss="poisson", offset=off[:-1])
    with pytest.raises(ValueError, match="offset contains NaN"):
        jaxl1.cross_validate(X, y, loss="poisson", offset=np.full(N, np.inf), n_lambdas=3)


def test_poisson_does_not_warn_on_a_default_path(counts):
    X, y, off = counts
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = jaxl1.fit_path(X.astype(np.float32), y.astype(np.float32), loss="poisson", offset=off, n_lambdas=20)
    assert path.coef.dtype == jnp.float32 and bool(path.converged.all())

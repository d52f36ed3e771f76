"""Gradients of solutions: closed forms and central finite differences (float64)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_classification, make_regression

import jaxl1
from jaxl1.tune import heldout_score

TOL = 1e-14


@pytest.fixture(scope="module")
def reg():
    X, y = make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)
    rng = np.random.default_rng(0)
    return X, y, X[:30] + 0.1 * rng.standard_normal((30, 10)), y[:30] + rng.standard_normal(30)


@pytest.fixture(scope="module")
def clf():
    X, y = make_classification(n_samples=200, n_features=8, n_informative=4, random_state=0)
    return X[:150], y[:150].astype(float), X[150:], y[150:].astype(float)


def central(f, x, i, h):
    e = np.zeros_like(np.asarray(x, float))
    e.flat[i] = h
    return (float(f(x + e)) - float(f(x - e))) / (2 * h)


def test_jacobian_in_lambda_matches_closed_form(reg):
    X, y, _, _ = reg
    lam = 8.0
    res = jaxl1.fit(X, y, jaxl1.L1(lam), tol=TOL)
    S = np.asarray(res.coef) != 0
    assert 0 < S.sum() < 10
    Xc = X - X.mean(0)
    closed = -np.linalg.solve(Xc[:, S].T @ Xc[:, S] / len(y), np.sign(np.asarray(res.coef)[S]))
    for jac in (jax.jacobian, jax.jacfwd):
        J = np.asarray(jac(lambda lam: jaxl1.fit(X, y, jaxl1.L1(lam), tol=TOL).coef)(lam))
        np.testing.assert_allclose(J[S], closed, rtol=1e-6)
        assert np.all(J[~S] == 0)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_heldout_gradients_match_finite_differences(reg, clf, loss, fit_intercept):
    Xt, yt, Xv, yv = reg if loss == "squared" else clf
    lam0 = 8.0 if loss == "squared" else 0.01
    p = Xt.shape[1]
    c0 = np.linspace(0.5, 1.5, p)

    def score(log_lam, X, y, log_c):
        pen = jaxl1.L1(jnp.exp(log_lam), jnp.exp(log_c))
        res = jaxl1.fit(X, y, pen, loss=loss, fit_intercept=fit_intercept, tol=TOL, max_iter=10**6)
        return heldout_score(loss, yv, Xv @ res.coef + res.intercept)

    args = (np.log(lam0), Xt, yt, np.log(c0))
    grads = jax.grad(score, argnums=(0, 1, 2, 3))(*map(jnp.asarray, args))
    support = np.flatnonzero(np.asarray(jaxl1.fit(Xt, yt, jaxl1.L1(lam0, c0), loss=loss,
                                                  fit_intercept=fit_intercept, tol=TOL).coef))
    j = int(support[0])
    checks = [
        (grads[0], central(lambda a: score(a, Xt, yt, np.log(c0)), np.log(lam0), 0, 1e-5)),
        (grads[1][3, j], central(lambda X: score(np.log(lam0), X, yt, np.log(c0)), Xt, 3 * p + j, 1e-5)),
        (grads[3][j], central(lambda lc: score(np.log(lam0), Xt, yt, lc), np.log(c0), j, 1e-5)),
    ]
    if loss == "squared":  # labels are not differentiable for the logistic loss
        checks.append((grads[2][5], central(lambda y: score(np.log(lam0), Xt, y, np.log(c0)), yt, 5, 1e-5)))
    for auto, fd in checks:
        assert abs(float(auto) - fd) <= 1e-4 * abs(fd) + 1e-9, (float(auto), fd)


def test_elastic_net_hyperparameter_gradients(reg):
    X, y, Xv, yv = reg

    def score(alpha, l1_ratio):
        res = jaxl1.fit(X, y, jaxl1.ElasticNet(alpha, l1_ratio), tol=TOL)
        return jnp.mean((yv - Xv @ res.coef - res.intercept) ** 2)

    ga, gr = jax.grad(score, argnums=(0, 1))(3.0, 0.6)
    fa = (score(3.0 + 1e-5, 0.6) - score(3.0 - 1e-5, 0.6)) / 2e-5
    fr = (score(3.0, 0.6 + 1e-6) - score(3.0, 0.6 - 1e-6)) / 2e-6
    np.testing.assert_allclose([ga, gr], [fa, fr], rtol=1e-5)


def test_sample_weight_gradient(reg):
    X, y, Xv, yv = reg
    sw = np.linspace(0.5, 1.5, len(y))

    def score(sw):
        res = jaxl1.fit(X, y, jaxl1.L1(8.0), sample_weight=sw, tol=TOL)
        return jnp.mean((yv - Xv @ res.coef - res.intercept) ** 2)

    g = jax.grad(score)(jnp.asarray(sw))
    np.testing.assert_allclose(g[7], central(score, sw, 7, 1e-6), rtol=1e-5)


def test_path_gradient_is_per_lambda(reg):
    X, y, _, _ = reg
    lams = np.geomspace(30.0, 0.3, 6)

    def total(log_lams):
        return jnp.sum(jaxl1.fit_path(X, y, lambdas=jnp.exp(log_lams), tol=TOL).coef ** 2)

    g = jax.grad(total)(jnp.log(lams))
    for i in range(6):
        fd = central(total, np.log(lams), i, 1e-6)
        assert abs(float(g[i]) - fd) <= 1e-5 * abs(fd) + 1e-8
    # vmapping a differentiated fit over strengths equals the loop
    f = lambda lam: jnp.sum(jaxl1.fit(X, y, jaxl1.L1(lam), tol=TOL).coef)
    batched = jax.vmap(jax.grad(f))(jnp.asarray(lams))
    np.testing.assert_allclose(batched, [jax.grad(f)(lam) for lam in lams], rtol=1e-10)


def test_reverse_mode_does_not_grow_with_max_iter(reg):
    X, y, Xv, yv = reg

    def score(lam, max_iter):
        res = jaxl1.fit(X, y, jaxl1.L1(lam), tol=TOL, max_iter=max_iter)
        return jnp.mean((yv - Xv @ res.coef - res.intercept) ** 2)

    small = jax.make_jaxpr(jax.grad(lambda lam: score(lam, 100)))(8.0)
    huge = jax.make_jaxpr(jax.grad(lambda lam: score(lam, 2_000_000_000)))(8.0)
    # the same program: only the literal max_iter differs
    assert re.sub(r"\d+", "#", str(small)) == re.sub(r"\d+", "#", str(huge))
    g = jax.grad(lambda lam: score(lam, 2_000_000_000))(8.0)
    assert np.isfinite(float(g))


def test_group_penalty_gradient_matches_finite_differences(reg):
    """The whole coefficient vector as one group (the prox is a radial shrinkage); more in test_group.py."""
    X, y, _, _ = reg
    f = lambda lam: jaxl1.fit(X, y, jaxl1.GroupL1(lam, axis=0), tol=1e-14).coef.sum()
    g = jax.grad(f)(1.0)
    np.testing.assert_allclose(g, (f(1.0 + 1e-6) - f(1.0 - 1e-6)) / 2e-6, rtol=1e-5)


def test_tune_reaches_grid_minimum():
    X, y = load_diabetes(return_X_y=True)
    Xt, yt, Xv, yv = X[:300], y[:300], X[300:], y[300:]
    res = jaxl1.tune(Xt, yt, Xv, yv, n_steps=40)
    grid = jaxl1.fit_path(Xt, yt, n_lambdas=100, tol=1e-10)
    scores = ((yv[:, None] - np.asarray(grid.predict(Xv))) ** 2).mean(0)
    assert res.score_best <= 1.02 * scores.min()
    assert res.scores[0] > res.score_best  # it moved downhill
    weighted = jaxl1.tune(Xt, yt, Xv, yv, tune_weights=True, n_steps=40)
    assert weighted.weights_best.shape == (10,)
    assert weighted.score_best <= res.score_best * 1.001


def test_conjugate_gradient_branch_matches_dense(reg, monkeypatch):
    import jaxl1.implicit as implicit

    X, y, Xv, yv = reg
    # a fresh loss function, so that jit compiles again with the patched threshold
    score = lambda lam: jnp.mean((yv - Xv @ jaxl1.fit(X, y, jaxl1.L1(lam), tol=TOL).coef) ** 2)
    dense = jax.grad(score)(8.0)
    monkeypatch.setattr(implicit, "DENSE_MAX", 0)
    jax.clear_caches()
    cg = jax.grad(lambda lam: jnp.mean((yv - Xv @ jaxl1.fit(X, y, jaxl1.L1(lam), tol=TOL).coef) ** 2))(8.0)
    jax.clear_caches()
    np.testing.assert_allclose(cg, dense, rtol=1e-8)


def test_duplicated_active_column_gives_finite_gradient(reg):
    X, y, _, _ = reg
    X = np.c_[X, X[:, 0]]  # an exact copy: both copies are active with equal coefficients
    total = lambda lam: jaxl1.fit(X, y, jaxl1.L1(lam), tol=TOL).coef.sum()
    g = jax.grad(total)(8.0)
    fd = (float(total(8.0 + 1e-5)) - float(total(8.0 - 1e-5))) / 2e-5
    assert np.isfinite(float(g))
    np.testing.assert_allclose(g, fd, rtol=1e-6)

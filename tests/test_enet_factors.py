"""Elastic-net penalty factors (glmnet's penalty.factor): ElasticNet(alpha, l1_ratio, weights=c).

P(w) = sum_j c_j (alpha rho |w_j| + alpha (1 - rho) w_j^2 / 2).  References: the one-dimensional prox by a
fine grid, scipy's L-BFGS-B on the split variables, the optimality conditions in numpy, finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

import jaxl1

jax.config.update("jax_enable_x64", True)

ALPHA, RHO = 0.08, 0.6
C = np.array([1.0, 0.0, 2.5, 0.5, 1.0, 3.0, 0.0, 1.0, 0.2, 1.0])


def _data(seed=0, n=80):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, len(C))) * np.linspace(0.5, 3.0, len(C))
    y = X @ np.array([1.5, -2.0, 0.0, 0.7, 0.0, 1.0, 0.3, 0.0, -0.4, 0.0]) + 0.5 + rng.standard_normal(n)
    return X, y


def _objective(X, y, w, b):
    pen = np.sum(C * (ALPHA * RHO * np.abs(w) + 0.5 * ALPHA * (1 - RHO) * w * w))
    return 0.5 * np.mean((y - X @ w - b) ** 2) + pen


def _reference(X, y):
    n, p = X.shape

    def f(th):
        wp, wm, b = th[:p], th[p:2 * p], th[-1]
        w = wp - wm
        r = y - X @ w - b
        g = -(r @ X) / n + C * ALPHA * (1 - RHO) * w
        val = 0.5 * np.mean(r * r) + np.sum(C * (ALPHA * RHO * (wp + wm) + 0.5 * ALPHA * (1 - RHO) * w * w))
        return val, np.concatenate([g + C * ALPHA * RHO, -g + C * ALPHA * RHO, [-np.mean(r)]])

    out = minimize(f, np.zeros(2 * p + 1), jac=True, method="L-BFGS-B", bounds=[(0, None)] * (2 * p) + [(None, None)],
                   options={"maxiter": 50000, "ftol": 1e-16, "gtol": 1e-13, "maxcor": 50})
    return out.fun


def test_prox_matches_a_grid_minimization():
    pen = jaxl1.ElasticNet(0.7, 0.4, weights=jnp.asarray([0.0, 1.0, 2.5]))
    x = np.array([1.3, -0.9, 2.0])
    step = 0.8
    got = np.asarray(pen.prox(jnp.asarray(x), step))
    grid = np.linspace(-4, 4, 800001)
    for j, c in enumerate([0.0, 1.0, 2.5]):
        obj = 0.5 * (grid - x[j]) ** 2 / step + c * (0.7 * 0.4 * np.abs(grid) + 0.5 * 0.7 * 0.6 * grid ** 2)
        assert abs(got[j] - grid[np.argmin(obj)]) <= 2e-5
    np.testing.assert_allclose(float(pen.value(jnp.asarray(x))),
                               np.sum(np.array([0.0, 1.0, 2.5]) * (0.28 * np.abs(x) + 0.21 * x * x)))


@pytest.mark.parametrize("form", ["gram", "data"])
def test_fit_with_factors_meets_the_optimality_conditions(form):
    X, y = _data()
    res = jaxl1.fit(X, y, jaxl1.ElasticNet(ALPHA, RHO, weights=C), tol=1e-12, form=form)
    assert bool(res.converged) and res.certificate == "duality_gap"
    w, b = np.asarray(res.coef), float(res.intercept)
    g = -((y - X @ w - b) @ X) / len(y) + C * ALPHA * (1 - RHO) * w
    on, free = w != 0, C == 0
    np.testing.assert_allclose(g[on & ~free], -C[on & ~free] * ALPHA * RHO * np.sign(w[on & ~free]), atol=1e-7)
    assert np.all(np.abs(g[~on]) <= C[~on] * ALPHA * RHO * (1 + 1e-7) + 1e-12)
    np.testing.assert_allclose(g[free], 0.0, atol=1e-7)
    assert np.all(w[free] != 0) and np.sum(~on) >= 2  # free coordinates move; some penalized ones are zero
    f, f_ref = _objective(X, y, w, b), _reference(X, y)
    assert f <= f_ref + 1e-10 * abs(f_ref)
    assert f - f_ref <= float(res.gap) + 1e-12  # the reported gap bounds the excess


def test_gradient_with_respect_to_the_factors_matches_finite_differences():
    X, y = _data(1)

    def val(c):
        res = jaxl1.fit(X, y, jaxl1.ElasticNet(ALPHA, RHO, weights=c), tol=1e-13)
        return jnp.sum(res.coef ** 2) + res.intercept

    c0 = jnp.asarray(C + 0.3)  # every factor positive: the solution is smooth in each
    g = jax.grad(val)(c0)
    h = 1e-6
    for j in (0, 3, 5):
        e = np.zeros(len(C))
        e[j] = h
        fd = (val(c0 + e) - val(c0 - e)) / (2 * h)
        np.testing.assert_allclose(g[j], fd, rtol=1e-4, atol=1e-8)


def test_unit_factors_are_the_plain_elastic_net():
    X, y = _data(2)
    a = jaxl1.fit(X, y, jaxl1.ElasticNet(ALPHA, RHO, weights=np.ones(len(C))), tol=1e-12)
    b = jaxl1.fit(X, y, jaxl1.ElasticNet(ALPHA, RHO), tol=1e-12)
    np.testing.assert_allclose(a.coef, b.coef, atol=1e-10)


def test_negative_factors_are_refused():
    with pytest.raises(ValueError, match="weights"):
        jaxl1.ElasticNet(0.1, 0.5, weights=np.array([1.0, -1.0]))


def test_paths_and_cross_validation_take_elastic_net_factors():
    X, y = _data(3)
    path = jaxl1.fit_path(X, y, l1_ratio=RHO, weights=C, n_lambdas=8, tol=1e-12)
    assert bool(path.converged.all())
    # the default grid starts where the penalized coordinates leave zero: the free ones are fitted alone
    lam_max = float(path.lambdas[0])
    free = C == 0
    Z = np.column_stack([np.ones(len(y)), X[:, free]])
    beta = np.linalg.lstsq(Z, y, rcond=None)[0]
    g = -((y - Z @ beta) @ X) / len(y)
    np.testing.assert_allclose(lam_max, np.max(np.abs(g[~free]) / C[~free]) / RHO, rtol=1e-8)
    # (at lambda_max exactly a coordinate sits on its threshold: zero up to rounding)
    assert np.all(np.abs(np.asarray(path.coef[0])[~free]) <= 1e-12) and np.all(np.asarray(path.coef[0])[free] != 0)
    for k in (2, 7):
        res = jaxl1.fit(X, y, jaxl1.ElasticNet(path.lambdas[k], RHO, weights=C), tol=1e-12)
        np.testing.assert_allclose(path.coef[k], res.coef, atol=1e-8)
    cv = jaxl1.cross_validate(X, y, n_folds=3, l1_ratio=RHO, weights=C, lambdas=path.lambdas, tol=1e-12)
    np.testing.assert_allclose(cv.path.coef, path.coef, atol=1e-8)


def test_free_coordinates_far_from_the_solution_keep_the_gap_positive():
    """Penalty factors of 0 on a wide problem: the gap at a point far from the solution (the dual point rescaled,
    sigma > 1) must not read 0 (it did: the free coordinates' term took ``v w`` where the dual has ``v w / sigma``,
    and the path stopped at wrong points with gap 0).  Against the optimality conditions in numpy."""
    for seed in range(3):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((15, 30))
        y = X[:, :3].sum(1) + rng.standard_normal(15)
        pw = np.ones(30)
        pw[:8] = 0
        path = jaxl1.fit_path(X, y, weights=pw, n_lambdas=5, tol=1e-10)
        assert bool(np.all(path.converged))
        for k, lam in enumerate(np.asarray(path.lambdas)):
            w, b = np.asarray(path.coef[k]), float(path.intercept[k])
            g = X.T @ (X @ w + b - y) / len(y)
            t = lam * pw
            kkt = np.where(w != 0, g + t * np.sign(w), np.maximum(np.abs(g) - t, 0))
            assert np.abs(kkt).max() <= 1e-4 * lam, (seed, k, np.abs(kkt).max())

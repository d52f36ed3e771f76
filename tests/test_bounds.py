"""bounds=(lower, upper): box constraints on the coefficients (glmnet's lower.limits / upper.limits).

References: scikit-learn's Lasso(positive=True), scipy's L-BFGS-B on the split variables with the box,
the optimality conditions in numpy, finite differences.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.linear_model import Lasso

import jaxl1

jax.config.update("jax_enable_x64", True)

LO = np.array([-0.3, -np.inf, -0.2, 0.0, -0.5, -0.3, -np.inf, 0.0, -0.3, -0.3, -1.0, -0.3])
HI = np.array([0.4, 0.5, np.inf, 0.4, 0.0, 0.4, 0.3, np.inf, 0.4, 0.4, 1.0, 0.4])


def _data(seed=0, n=100, p=12):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.logspace(-1, 1, p)
    y = X @ (rng.standard_normal(p) / np.logspace(-1, 1, p)) + 0.3 + rng.standard_normal(n)
    return X, y


def _reference(X, y, lam, l1_ratio=1.0):
    """min 1/(2n)|y - Xw - b|^2 + lam (rho |w|_1 + (1 - rho)/2 |w|^2) over LO <= w <= HI, by L-BFGS-B."""
    n, p = X.shape
    a, m = lam * l1_ratio, lam * (1 - l1_ratio)

    def f(th):
        wp, wm, b = th[:p], th[p:2 * p], th[-1]
        w = wp - wm
        r = y - X @ w - b
        g = -(r @ X) / n + m * w
        return 0.5 * np.mean(r * r) + a * np.sum(wp + wm) + 0.5 * m * w @ w, np.concatenate([g + a, -g + a, [-np.mean(r)]])

    box = [(0, None if np.isinf(h) else h) for h in HI] + [(0, None if np.isinf(lo) else -lo) for lo in LO]
    out = minimize(f, np.zeros(2 * p + 1), jac=True, method="L-BFGS-B", bounds=box + [(None, None)],
                   options={"maxiter": 50000, "ftol": 1e-16, "gtol": 1e-13, "maxcor": 50})
    return out.x[:p] - out.x[p:2 * p], out.fun


@pytest.mark.parametrize("form", ["gram", "data"])
def test_nonnegative_bounds_are_scikit_learns_positive(form):
    X, y = _data()
    res = jaxl1.fit(X, y, jaxl1.L1(0.05), bounds=(0, None), tol=1e-13, form=form)
    ref = Lasso(alpha=0.05, positive=True, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(res.coef, ref.coef_, atol=1e-9)
    np.testing.assert_allclose(res.intercept, ref.intercept_, atol=1e-9)


@pytest.mark.parametrize("ws_size", [None, 0])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_a_general_box_meets_its_optimality_conditions(ws_size, l1_ratio):
    X, y = _data(1)
    lam = 0.05
    pen = jaxl1.L1(lam) if l1_ratio == 1 else jaxl1.ElasticNet(lam, l1_ratio)
    res = jaxl1.fit(X, y, pen, bounds=(LO, HI), tol=1e-13, ws_size=ws_size, max_iter=100_000)
    assert bool(res.converged) and res.certificate == "duality_gap"
    w, b = np.asarray(res.coef), float(res.intercept)
    assert np.all(w >= LO) and np.all(w <= HI)
    at_lo, at_hi = w == LO, w == HI
    assert at_lo.sum() + at_hi.sum() >= 3  # the box is active somewhere
    # KKT: g + lam (1 - rho) w + lam rho s = nu, s in d|w|, nu the box's normal cone (<= 0 at lo, >= 0 at hi)
    g = -((y - X @ w - b) @ X) / len(y) + lam * (1 - l1_ratio) * w
    a = lam * l1_ratio
    inner = ~at_lo & ~at_hi
    on = inner & (w != 0)
    np.testing.assert_allclose(g[on], -a * np.sign(w[on]), atol=1e-7)
    zero = inner & (w == 0)
    assert np.all(np.abs(g[zero]) <= a * (1 + 1e-7))
    assert np.all(g[at_hi & (w > 0)] <= -a + 1e-7) and np.all(g[at_lo & (w < 0)] >= a - 1e-7)
    w_ref, f_ref = _reference(X, y, lam, l1_ratio)
    f = 0.5 * np.mean((y - X @ w - b) ** 2) + lam * (l1_ratio * np.abs(w).sum() + 0.5 * (1 - l1_ratio) * w @ w)
    assert f <= f_ref + 1e-10 * abs(f_ref)
    assert f - f_ref <= float(res.gap) + 1e-12


def test_logistic_with_a_box_meets_its_optimality_conditions():
    X, y = _data(2)
    y = (y > np.median(y)).astype(float)
    lam = 0.01
    res = jaxl1.fit(X, y, jaxl1.L1(lam), loss="logistic", bounds=(LO, HI), tol=1e-12)
    assert bool(res.converged)
    w, b = np.asarray(res.coef), float(res.intercept)
    p1 = 1 / (1 + np.exp(-(X @ w + b)))
    g = (p1 - y) @ X / len(y)
    inner = (w > LO) & (w < HI)
    on = inner & (w != 0)
    np.testing.assert_allclose(g[on], -lam * np.sign(w[on]), atol=1e-6)
    assert np.all(np.abs(g[inner & (w == 0)]) <= lam * (1 + 1e-6))
    assert np.sum(~inner) >= 2


def test_path_and_cross_validation_take_bounds():
    X, y = _data(3)
    path = jaxl1.fit_path(X, y, bounds=(LO, HI), n_lambdas=8, tol=1e-12)
    assert bool(path.converged.all())
    assert np.all(np.asarray(path.coef) >= LO) and np.all(np.asarray(path.coef) <= HI)
    # lambda_max counts only the directions the box allows
    g = -((X - X.mean(0)).T @ (y - y.mean())) / len(y)
    allowed = np.maximum(np.where(HI > 0, np.maximum(-g, 0), 0), np.where(LO < 0, np.maximum(g, 0), 0))
    np.testing.assert_allclose(path.lambdas[0], allowed.max(), rtol=1e-10)
    for k in (3, 7):
        res = jaxl1.fit(X, y, jaxl1.L1(path.lambdas[k]), bounds=(LO, HI), tol=1e-12)
        np.testing.assert_allclose(path.coef[k], res.coef, atol=1e-8)
    cv = jaxl1.cross_validate(X, y, n_folds=3, bounds=(LO, HI), lambdas=path.lambdas, tol=1e-12)
    np.testing.assert_allclose(cv.path.coef, path.coef, atol=1e-8)
    std = jaxl1.fit_path(X, y, bounds=(LO, HI), lambdas=path.lambdas, standardize=True, tol=1e-12)
    assert np.all(np.asarray(std.coef) >= LO - 1e-12) and np.all(np.asarray(std.coef) <= HI + 1e-12)


def test_gradient_with_an_active_box_matches_finite_differences():
    X, y = _data(4)

    def f(lam, y):
        res = jaxl1.fit(X, y, jaxl1.L1(lam), bounds=(LO, HI), tol=1e-14)
        return jnp.sum(res.coef) + res.intercept

    g_lam, g_y = jax.grad(f, argnums=(0, 1))(0.05, jnp.asarray(y))
    h = 1e-6
    np.testing.assert_allclose(g_lam, (f(0.05 + h, y) - f(0.05 - h, y)) / (2 * h), rtol=1e-5)
    e = np.zeros_like(y)
    e[7] = h
    np.testing.assert_allclose(g_y[7], (f(0.05, y + e) - f(0.05, y - e)) / (2 * h), rtol=1e-5, atol=1e-10)


def test_bad_bounds_are_refused():
    X, y = _data()
    p = X.shape[1]
    with pytest.raises(ValueError, match="must hold 0"):
        jaxl1.fit(X, y, jaxl1.L1(0.1), bounds=(0.5, None))
    with pytest.raises(ValueError, match="pair"):
        jaxl1.fit(X, y, jaxl1.L1(0.1), bounds=0.5)
    with pytest.raises(ValueError, match=f"shape \\({p},\\)"):
        jaxl1.fit(X, y, jaxl1.L1(0.1), bounds=(np.zeros(3), None))
    with pytest.raises(ValueError, match="NaN"):
        jaxl1.fit_path(X, y, bounds=(None, np.full(p, np.nan)))
    with pytest.raises(ValueError, match="positive=True"):
        jaxl1.fit_path(X, y, bounds=(0, None), positive=True)
    with pytest.raises(ValueError, match="Bounded needs"):
        jaxl1.fit(X, y, jaxl1.GroupL1(0.1, groups=np.arange(p) // 3), bounds=(0, None))


def test_a_bounded_penalty_of_the_wrong_size_is_refused():
    X, y = _data()
    with pytest.raises(ValueError, match="lower bounds must be a number or have shape"):
        jaxl1.fit(X, y, jaxl1.Bounded(jaxl1.L1(0.1), lower=-np.ones(3)))
    with pytest.raises(ValueError, match="weights must have shape"):
        jaxl1.fit(X, y, jaxl1.Bounded(jaxl1.L1(0.1, np.ones(3)), lower=-1.0))


def test_coefficients_at_a_bound_are_exactly_on_it_and_their_gradient_is_zero():
    # a column on another scale: the solver's scaled coordinates hold d * hi, whose ratio by d can round
    # to one unit inside hi; the coefficient must still be on the bound and held fixed by the gradient
    rng = np.random.default_rng(3)
    n, p = 30, 6
    X0 = rng.standard_normal((n, p)) * np.array([0.1, 1, 10, 1, 2, 0.5])
    y0 = X0 @ np.array([3, -1, 0.05, 0.5, 0, 1.0]) + 0.1 * rng.standard_normal(n)
    lo = np.array([-0.3, -np.inf, -0.01, 0.0, -0.5, -np.inf])
    hi = np.array([1.0, 0.5, np.inf, 0.4, 0.0, 0.3])
    for k in (1, 5, 11, 23):
        X = X0.copy()
        X[:, 3] *= 1 + k / 7
        y = y0 + X0[:, 3] * 3
        f = lambda lam: jaxl1.fit(X, y, jaxl1.L1(lam), bounds=(lo, hi), tol=1e-14).coef
        w = np.asarray(f(0.02))
        assert w[3] == 0.4
        J = np.asarray(jax.jacfwd(f)(0.02))
        h = 1e-6
        fd = (np.asarray(f(0.02 + h)) - np.asarray(f(0.02 - h))) / (2 * h)
        np.testing.assert_allclose(J, fd, rtol=1e-5, atol=1e-8)


def test_standardized_coefficients_stay_inside_the_users_box():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((40, 8)) * np.logspace(-1, 1, 8)
    y = X @ (rng.standard_normal(8) / np.logspace(-1, 1, 8) * 2) + 0.3 + 0.5 * rng.standard_normal(40)
    res = jaxl1.fit(X, y, jaxl1.L1(0.02), standardize=True, bounds=(None, 0.2), tol=1e-12)
    w = np.asarray(res.coef)
    assert np.all(w <= 0.2) and np.any(w == 0.2)


def test_public_lambda_max_takes_bounds_and_standardize():
    X, y = _data(3)
    for kw in ({"bounds": (LO, HI)}, {"standardize": True}, {"standardize": True, "bounds": (LO, HI)}):
        path = jaxl1.fit_path(X, y, n_lambdas=3, **kw)
        np.testing.assert_allclose(jaxl1.lambda_max(X, y, **kw), path.lambdas[0], rtol=1e-12)
    np.testing.assert_allclose(jaxl1.lambda_max(X, y, bounds=(0, None)), jaxl1.lambda_max(X, y, positive=True),
                               rtol=1e-12)
    np.testing.assert_allclose(jaxl1.lambda_max(X, y, bounds=(None, 0)), jaxl1.lambda_max(X, -y, positive=True),
                               rtol=1e-12)

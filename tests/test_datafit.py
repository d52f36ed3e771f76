"""The datafit protocol: losses defined outside the package, certified by their optimality conditions.

References are independent of jaxl1's solver: scipy's L-BFGS-B on the split variables
``w = w+ - w-`` (a smooth bound-constrained problem with the same optimum) and the optimality
conditions computed in numpy.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

import jaxl1
from jaxl1.losses import get_loss, optimal_intercept

jax.config.update("jax_enable_x64", True)

DELTA = 1.0


@dataclasses.dataclass(frozen=True)
class Huber(jaxl1.Loss):
    """Huber's loss on the residual, defined here as a user would (no conjugate: optimality certificate)."""

    delta: float = DELTA
    name = "huber"
    curvature = 1.0

    def per_sample(self, y, z):
        r = jnp.abs(y - z)
        return jnp.where(r <= self.delta, 0.5 * r * r, self.delta * (r - 0.5 * self.delta))


class PlainSquared:
    """The squared loss written as a plain class with a conjugate, but not marked quadratic (data form, gap)."""

    name = "plain-squared"
    curvature = 1.0

    @staticmethod
    def value(y, z, s):
        return 0.5 * jnp.sum(s * (y - z) ** 2)

    @staticmethod
    def grad(y, z, s):
        return s * (z - y)

    @staticmethod
    def hess(y, z, s):
        return s * jnp.ones_like(z)

    @staticmethod
    def conjugate(y, u, s):
        pos = s > 0
        return jnp.sum(u * y + jnp.where(pos, u * u / (2 * jnp.where(pos, s, 1.0)), 0.0))

    @staticmethod
    def project_dual(y, u, s):
        return jnp.where(s > 0, u, 0.0)


def _huber_np(r, delta=DELTA):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * a * a, delta * (a - 0.5 * delta))


def _huber_psi(r, delta=DELTA):
    return np.clip(r, -delta, delta)


def _problem(seed=0, n=120, p=15, outliers=12):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.logspace(-1, 1, p)  # columns on different scales
    w = np.zeros(p)
    w[:4] = [2.0, -1.5, 0.8, 1.2] / np.logspace(-1, 1, p)[:4]
    y = X @ w + 0.5 + 0.3 * rng.standard_normal(n)
    y[:outliers] += 15 * rng.standard_normal(outliers)  # heavy outliers: the linear part of Huber matters
    return X, y


def _reference(X, y, lam):
    """L1-Huber by L-BFGS-B on (w+, w-, b), to tight tolerance."""
    n, p = X.shape

    def f(theta):
        wp, wm, b = theta[:p], theta[p:2 * p], theta[-1]
        r = y - X @ (wp - wm) - b
        psi = _huber_psi(r)
        gw = -(psi @ X) / n
        val = np.mean(_huber_np(r)) + lam * np.sum(wp + wm)
        return val, np.concatenate([gw + lam, -gw + lam, [-np.mean(psi)]])

    bounds = [(0, None)] * (2 * p) + [(None, None)]
    out = minimize(f, np.zeros(2 * p + 1), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": 20000, "ftol": 1e-15, "gtol": 1e-12, "maxcor": 50})
    th = out.x
    return th[:p] - th[p:2 * p], th[-1], out.fun


def _objective(X, y, w, b, lam):
    return np.mean(_huber_np(y - X @ w - b)) + lam * np.abs(w).sum()


@pytest.mark.parametrize("ws_size", [None, 0])
def test_huber_fit_matches_an_independent_reference_and_its_optimality_conditions(ws_size):
    X, y = _problem()
    lam = 0.05
    res = jaxl1.fit(X, y, jaxl1.L1(lam), loss=Huber(), tol=1e-12, ws_size=ws_size, max_iter=100_000)
    assert res.certificate == "optimality" and bool(res.converged)
    w, b = np.asarray(res.coef), float(res.intercept)
    w_ref, b_ref, f_ref = _reference(X, y, lam)
    f = _objective(X, y, w, b, lam)
    assert f <= f_ref + 1e-10 * abs(f_ref)
    # optimality conditions in numpy: the subgradient condition on every coordinate and the intercept
    # (the certificate is quadratic in the violation: tol=1e-12 bounds it near sqrt(1e-12) relative)
    psi = _huber_psi(y - X @ w - b)
    g = -(psi @ X) / len(y)
    on = w != 0
    assert on.sum() >= 3 and (~on).sum() >= 3
    np.testing.assert_allclose(g[on], -lam * np.sign(w[on]), atol=1e-4 * lam)
    assert np.all(np.abs(g[~on]) <= lam * (1 + 1e-4))
    assert abs(np.mean(psi)) <= 1e-5
    np.testing.assert_allclose(w, w_ref, atol=1e-4 * np.abs(w_ref).max())
    # the outliers matter: the squared loss gives another answer
    sq = jaxl1.fit(X, y, jaxl1.L1(lam), tol=1e-12)
    assert np.abs(np.asarray(sq.coef) - w).max() > 1e-2 * np.abs(w).max()


def test_huber_path_and_cross_validation_use_the_protocol():
    X, y = _problem(1)
    lambdas = np.geomspace(0.3, 0.01, 6)
    path = jaxl1.fit_path(X, y, loss=Huber(), lambdas=lambdas, tol=1e-12, max_iter=100_000)
    assert path.certificate == "optimality" and bool(path.converged.all())
    for k in (0, 3, 5):
        res = jaxl1.fit(X, y, jaxl1.L1(lambdas[k]), loss=Huber(), tol=1e-12, max_iter=100_000)
        np.testing.assert_allclose(path.coef[k], res.coef, atol=1e-6 * float(np.abs(res.coef).max() + 1e-300))
    folds = np.arange(len(y)) % 3
    cv = jaxl1.cross_validate(X, y, folds=folds, loss=Huber(), lambdas=lambdas, tol=1e-12, max_iter=100_000)
    # the held-out score is the Huber loss of the held-out samples (per_sample), recomputed here by hand
    for k in range(3):
        tr, te = folds != k, folds == k
        pk = jaxl1.fit_path(X[tr], y[tr], loss=Huber(), lambdas=lambdas, tol=1e-12, max_iter=100_000)
        Z = X[te] @ np.asarray(pk.coef).T + np.asarray(pk.intercept)
        want = _huber_np(y[te][:, None] - Z).mean(axis=0)
        np.testing.assert_allclose(cv.fold_scores[k], want, rtol=1e-6)


def test_gradient_through_a_huber_solve_matches_finite_differences():
    X, y = _problem(2)
    Xv, yv = X[:40], y[:40]

    def val_loss(log_lam, y):
        res = jaxl1.fit(X, y, jaxl1.L1(jnp.exp(log_lam)), loss=Huber(), tol=1e-13, max_iter=100_000)
        return jnp.mean((yv - Xv @ res.coef - res.intercept) ** 2)

    t0 = jnp.log(0.05)
    g_lam, g_y = jax.grad(val_loss, argnums=(0, 1))(t0, jnp.asarray(y))
    h = 1e-5
    fd = (val_loss(t0 + h, y) - val_loss(t0 - h, y)) / (2 * h)
    np.testing.assert_allclose(g_lam, fd, rtol=1e-4)
    e = np.zeros_like(y)
    for i in (15, 70):  # an inlier sample and another one
        e[:] = 0
        e[i] = h
        fd_i = (val_loss(t0, y + e) - val_loss(t0, y - e)) / (2 * h)
        np.testing.assert_allclose(g_y[i], fd_i, rtol=1e-4, atol=1e-9)


def test_a_user_loss_with_a_conjugate_is_certified_by_the_duality_gap():
    X, y = _problem(3, outliers=0)
    res = jaxl1.fit(X, y, jaxl1.L1(0.05), loss=PlainSquared, tol=1e-12)
    ref = jaxl1.fit(X, y, jaxl1.L1(0.05), loss="squared", tol=1e-12)
    assert res.certificate == "duality_gap" and ref.certificate == "duality_gap"
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-8)
    np.testing.assert_allclose(res.intercept, ref.intercept, atol=1e-8)
    # the reported gap is a true duality gap: it bounds the excess over the optimum
    f = lambda r: 0.5 * np.mean((y - X @ np.asarray(r.coef) - float(r.intercept)) ** 2) + 0.05 * np.abs(r.coef).sum()
    assert f(res) - f(ref) <= float(res.gap) + 1e-12
    with pytest.raises(ValueError, match="quadratic"):
        jaxl1.fit(X, y, jaxl1.L1(0.05), loss=PlainSquared, form="gram")


def test_equal_losses_share_one_compiled_program():
    X, y = _problem(4)
    jaxl1.fit(X, y, jaxl1.L1(0.1), loss=Huber(1.0))
    from jaxl1.solver import _fit_jit

    before = _fit_jit._cache_size()
    jaxl1.fit(X, y, jaxl1.L1(0.2), loss=Huber(1.0))
    assert _fit_jit._cache_size() == before
    jaxl1.fit(X, y, jaxl1.L1(0.2), loss=Huber(2.0))  # another parameter: another program
    assert _fit_jit._cache_size() == before + 1


def test_bad_loss_objects_are_refused_naming_loss():
    @dataclasses.dataclass  # not frozen: unhashable
    class Mutable(jaxl1.Loss):
        delta: float = 1.0

        def per_sample(self, y, z):
            return 0.5 * (y - z) ** 2

    with pytest.raises(ValueError, match="loss must be hashable"):
        get_loss(Mutable())

    class NoGrad:
        curvature = 1.0

        @staticmethod
        def value(y, z, s):
            return jnp.sum(s * (y - z) ** 2)

    with pytest.raises(ValueError, match="lacks grad, hess"):
        jaxl1.fit(np.eye(3), np.ones(3), jaxl1.L1(0.1), loss=NoGrad)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_generic_intercept_is_the_minimizer(seed):
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(50) * 10
    z = rng.standard_normal(50)
    s = np.full(50, 1 / 50)
    b = float(optimal_intercept(Huber(), jnp.asarray(y), jnp.asarray(z), jnp.asarray(s)))
    grid = np.linspace(b - 1, b + 1, 2001)
    vals = [np.mean(_huber_np(y - z - g)) for g in grid]
    assert abs(grid[int(np.argmin(vals))] - b) <= 1e-3
    assert abs(np.mean(_huber_psi(y - z - b))) <= 1e-10
    # the logistic loss's own intercept and the generic one agree
    lab = (rng.random(50) < 0.3).astype(float)
    b1 = jaxl1.Logistic.intercept(jnp.asarray(lab), jnp.asarray(z), jnp.asarray(s))
    b2 = optimal_intercept(jaxl1.Logistic, jnp.asarray(lab), jnp.asarray(z), jnp.asarray(s))
    np.testing.assert_allclose(b1, b2, atol=1e-10)


def test_gap_does_not_depend_on_an_intercept_off_by_rounding():
    """The certificate refines the intercept (Newton steps) before it builds the dual point. Near the optimum
    the loss changes by about (db)^2, below rounding, and the steps must still be taken: an intercept left
    off by db moves the centred dual point, and the gap, by about db (first order). Off by 1e-11 .. 1e-9,
    the gap equals the one at the optimal intercept to 1e-15 P0."""
    from jaxl1.solvers import prepare
    from jaxl1.solvers._gap import gap_info

    rng = np.random.default_rng(5)
    X = rng.standard_normal((60, 8))
    y = (X[:, 0] - X[:, 1] + 0.5 * rng.standard_normal(60) > 0).astype(float)
    pen = jaxl1.L1(0.02)
    res = jaxl1.fit(X, y, pen, loss="logistic", tol=1e-14)
    s = np.full(60, 1 / 60)
    logistic = get_loss("logistic")
    prob = prepare(jnp.asarray(X), jnp.asarray(y), jnp.asarray(s), loss="logistic", fit_intercept=True, form="data",
                   scale=False)
    w = jnp.asarray(res.coef)
    b_opt = float(res.intercept) + float(prob.x_mean @ w)  # the solver's intercept, for the centred columns
    gap = jax.jit(lambda b: gap_info(prob, pen, w, b, loss=logistic, form="data", fit_b=True).gap)
    at_opt = float(gap(b_opt))
    for db in np.geomspace(1e-11, 1e-9, 15):
        assert abs(float(gap(b_opt + db)) - at_opt) <= 1e-15 * float(prob.P0)

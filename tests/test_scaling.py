"""Column scale does not change how the solver converges; a penalty defined here is solved like a built-in one.

The badly scaled problems are one standardized Gaussian design ``Z`` (300 x 20) whose columns are
multiplied by scales log-spaced over four or six decades; the reference is scikit-learn at a tight
tolerance (squared loss) or the optimality conditions computed in numpy (logistic loss).  Iteration
counts are compared with the same fit on ``Z`` itself.
"""

import warnings
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso, lasso_path

import jaxl1
from jaxl1.penalties import soft_threshold

N, P = 300, 20
LAM = 0.01
SCALES = {"1e-2..1e2": (-2, 2), "1e-3..1e3": (-3, 3)}


@pytest.fixture(scope="module")
def design():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((N, P))
    Z = (Z - Z.mean(0)) / Z.std(0)
    beta = np.zeros(P)
    beta[:5] = [1.0, -2.0, 1.5, 0.5, -1.0]
    y = Z @ beta + 0.5 * rng.standard_normal(N) + 3.0
    labels = (Z @ beta + rng.standard_normal(N) > 0).astype(float)
    return Z, y, labels


def _scaled(Z, decades):
    lo, hi = SCALES[decades]
    return Z * np.logspace(lo, hi, P)[np.random.default_rng(1).permutation(P)]


def _lasso_objective(X, y, w, b, lam):
    return 0.5 * np.mean((y - X @ w - b) ** 2) + lam * np.abs(w).sum()


def _sk_lasso(X, y, lam):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Lasso(alpha=lam, tol=1e-14, max_iter=1_000_000).fit(X, y)


@pytest.mark.parametrize("decades", SCALES)
@pytest.mark.parametrize("form", ["gram", "data"])
def test_squared_loss_ignores_column_scale(design, decades, form):
    Z, y, _ = design
    X = _scaled(Z, decades)
    res = jaxl1.fit(X, y, jaxl1.L1(LAM), tol=1e-10, max_iter=100_000, form=form)
    base = jaxl1.fit(Z, y, jaxl1.L1(LAM), tol=1e-10, max_iter=100_000, form=form)
    assert bool(res.converged) and bool(base.converged)
    assert int(res.n_iter) <= 5 * int(base.n_iter)
    sk = _sk_lasso(X, y, LAM)
    ours = _lasso_objective(X, y, np.asarray(res.coef), float(res.intercept), LAM)
    theirs = _lasso_objective(X, y, sk.coef_, sk.intercept_, LAM)
    assert ours <= theirs + 1e-10 * _lasso_objective(X, y, 0 * sk.coef_, y.mean(), LAM)
    # the solution itself, on the user's scale (each coefficient relative to its column's scale)
    col = X.std(0)
    np.testing.assert_allclose(np.asarray(res.coef) * col, sk.coef_ * col, atol=1e-6)
    assert (np.asarray(res.coef) != 0).sum() == (sk.coef_ != 0).sum()


def _logistic_kkt(X, t, w, b, lam):
    """Largest violation of the optimality conditions of the mean logistic loss + lam * ||w||_1 (numpy)."""
    z = X @ w + b
    u = -t / (1 + np.exp(t * z)) / len(t)  # derivative of mean log(1 + exp(-t z)) in z
    g = X.T @ u
    lam = np.broadcast_to(lam, g.shape)
    viol = np.where(w != 0, np.abs(g + lam * np.sign(w)), np.maximum(np.abs(g) - lam, 0.0))
    return max(viol.max(), abs(u.sum()))


@pytest.mark.parametrize("decades", SCALES)
def test_logistic_loss_ignores_column_scale(design, decades):
    Z, _, labels = design
    X = _scaled(Z, decades)
    res = jaxl1.fit(X, labels, jaxl1.L1(LAM), loss="logistic", tol=1e-10, max_iter=100_000)
    base = jaxl1.fit(Z, labels, jaxl1.L1(LAM), loss="logistic", tol=1e-10, max_iter=100_000)
    assert bool(res.converged) and bool(base.converged)
    assert int(res.n_iter) <= 5 * int(base.n_iter)
    t = 2 * labels - 1
    # the violation of the gradient conditions, per unit of each column's scale
    w = np.asarray(res.coef)
    col = X.std(0)
    # the conditions in each column's own units: |g_j / d_j + (lam / d_j) sign(w_j)|, |g_j / d_j| <= lam / d_j
    viol = _logistic_kkt(X / col, t, w * col, float(res.intercept), LAM / col)
    assert viol <= 1e-5
    assert np.count_nonzero(w) > 0


@pytest.mark.parametrize("decades", SCALES)
def test_path_ignores_column_scale(design, decades):
    Z, y, _ = design
    X = _scaled(Z, decades)
    Xc, yc = X - X.mean(0), y - y.mean()
    path = jaxl1.fit_path(X, y, n_lambdas=20, tol=1e-10, max_iter=100_000)
    base = jaxl1.fit_path(Z, y, n_lambdas=20, tol=1e-10, max_iter=100_000)
    assert bool(np.all(path.converged))
    assert int(np.sum(path.n_iter)) <= 5 * int(np.sum(base.n_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, sk_coef, _ = lasso_path(Xc, yc, alphas=np.asarray(path.lambdas), tol=1e-14, max_iter=1_000_000)
    col = X.std(0)
    np.testing.assert_allclose(np.asarray(path.coef) * col, sk_coef.T * col, atol=1e-6)


def test_explicit_small_strength_path_with_one_column_in_other_units(design):
    # one feature in other units (a timestamp-like column, 1.7e9 +- 3e7) beside unit-scale ones
    Z, y, _ = design
    X = Z.copy()
    X[:, 3] = 1.7e9 + 3e7 * Z[:, 3]
    lambdas = np.array([0.1, 0.01, 1e-3])
    # at the default tolerance (float64: 1e-6); for this column a gap below about 1e-8 P0 is under the
    # rounding of the dual point, so a tighter tol would not be certified although the objective is right
    path = jaxl1.fit_path(X, y, lambdas=lambdas)
    assert bool(np.all(path.converged))
    for k, lam in enumerate(lambdas):
        sk = _sk_lasso(X, y, lam)
        ours = _lasso_objective(X, y, np.asarray(path.coef[k]), float(path.intercept[k]), lam)
        theirs = _lasso_objective(X, y, sk.coef_, sk.intercept_, lam)
        null = _lasso_objective(X, y, 0 * sk.coef_, y.mean(), lam)
        assert ours <= theirs + 1e-12 * null
        assert int(path.n_iter[k]) <= 100


@pytest.mark.parametrize("dtype, size", [(np.float64, 1e150), (np.float32, 1e12)])
def test_huge_feature_values_give_finite_answers(design, dtype, size):
    # columns of size 1e150 in float64 and 1e12 in float32 (their squares overflow a float32): the scales
    # are computed without overflow; the strength scaled with them makes it the problem on Z
    Z, y, _ = design
    Z, y = Z.astype(dtype), y.astype(dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    res = jaxl1.fit(Z * dtype(size), y, jaxl1.L1(LAM * size), tol=tol)
    ref = jaxl1.fit(Z, y, jaxl1.L1(LAM), tol=tol)
    assert res.coef.dtype == dtype
    assert bool(res.converged) and np.all(np.isfinite(np.asarray(res.coef)))
    rtol = 1e-8 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(np.asarray(res.coef, np.float64) * size, np.asarray(ref.coef), rtol=rtol,
                               atol=rtol)
    np.testing.assert_allclose(float(res.intercept), float(ref.intercept), rtol=rtol)


# --------------------------------------------------------------------------- #
# a penalty defined outside the package
# --------------------------------------------------------------------------- #
@partial(jax.tree_util.register_dataclass, data_fields=["alpha", "l1_ratio", "factors"], meta_fields=[])
@dataclass(frozen=True)
class FactorElasticNet:
    """glmnet's elastic net with penalty factors: sum_j c_j (alpha rho |w_j| + alpha (1 - rho) w_j^2 / 2)."""

    alpha: jax.Array
    l1_ratio: jax.Array
    factors: jax.Array

    sparse = True

    def _parts(self):
        return self.alpha * self.l1_ratio * self.factors, self.alpha * (1 - self.l1_ratio) * self.factors

    def value(self, w):
        tau, mu = self._parts()
        return jnp.sum(tau * jnp.abs(w) + 0.5 * mu * w * w)

    def prox(self, w, step):
        tau, mu = self._parts()
        return soft_threshold(w, step * tau) / (1 + step * mu)

    def dual_norm(self, v):
        tau, mu = self._parts()
        ratio = jnp.where(tau > 0, jnp.abs(v) / jnp.where(tau > 0, tau, 1.0), 0.0)
        return jnp.max(jnp.where(mu > 0, 0.0, ratio))

    def conjugate(self, v):
        tau, mu = self._parts()
        excess = jnp.maximum(jnp.abs(v) - tau, 0.0) ** 2
        return jnp.sum(jnp.where(mu > 0, excess / (2 * jnp.where(mu > 0, mu, 1.0)), 0.0))

    def free(self, w):
        return jnp.broadcast_to(self.alpha * self.factors <= 0, w.shape)

    def dual_free(self, w, v):
        return self.free(w)

    def coordinate_parts(self, p, dtype):
        tau, mu = self._parts()
        return jnp.broadcast_to(tau, (p,)).astype(dtype), jnp.broadcast_to(mu, (p,)).astype(dtype)

    def screen(self, w, v):
        tau, _ = self._parts()
        ratio = jnp.where(tau > 0, jnp.abs(v) / jnp.where(tau > 0, tau, 1.0), 0.0)
        return jnp.where((w != 0) | (tau <= 0), jnp.inf, ratio)

    def restrict(self, idx):
        return FactorElasticNet(self.alpha, self.l1_ratio, self.factors[idx])

    def scaled(self, d):
        return jaxl1.ColumnScaled(self, d)


def _enet_kkt(X, y, w, b, alpha, rho, c):
    r = y - X @ w - b
    g = -X.T @ r / len(y) + alpha * (1 - rho) * c * w
    tau = alpha * rho * c
    viol = np.where(w != 0, np.abs(g + tau * np.sign(w)), np.maximum(np.abs(g) - tau, 0.0))
    return max(viol.max(), abs(r.mean()))


@pytest.mark.parametrize("form", ["gram", "data"])
def test_a_penalty_defined_here(design, form):
    Z, y, _ = design
    X = _scaled(Z, "1e-2..1e2")
    c = np.linspace(0.5, 2.0, P)
    c[0] = 0.0  # one unpenalized coordinate
    pen = FactorElasticNet(jnp.asarray(0.05), jnp.asarray(0.7), jnp.asarray(c))
    res = jaxl1.fit(X, y, pen, tol=1e-12, max_iter=100_000, form=form)
    assert bool(res.converged)
    w = np.asarray(res.coef)
    assert _enet_kkt(X, y, w, float(res.intercept), 0.05, 0.7, c) <= 1e-7
    assert 0 < np.count_nonzero(w) < P
    # with every factor one it is scikit-learn's ElasticNet
    ones = FactorElasticNet(jnp.asarray(0.05), jnp.asarray(0.7), jnp.ones(P))
    res1 = jaxl1.fit(X, y, ones, tol=1e-12, max_iter=100_000, form=form)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = ElasticNet(alpha=0.05, l1_ratio=0.7, tol=1e-14, max_iter=1_000_000).fit(X, y)
    col = X.std(0)
    np.testing.assert_allclose(np.asarray(res1.coef) * col, sk.coef_ * col, atol=1e-7)
    # and its gradient through the solve, against finite differences in alpha
    f = lambda a: jnp.sum(jaxl1.fit(X, y, FactorElasticNet(a, jnp.asarray(0.7), jnp.asarray(c)), tol=1e-13,
                                    max_iter=100_000, form=form).coef ** 2 * col ** 2)
    h = 1e-6
    fd = (f(jnp.asarray(0.05 + h)) - f(jnp.asarray(0.05 - h))) / (2 * h)
    np.testing.assert_allclose(float(jax.grad(f)(jnp.asarray(0.05))), float(fd), rtol=1e-4)


def test_column_scaled_is_the_penalty_in_scaled_coordinates():
    rng = np.random.default_rng(3)
    d = jnp.asarray(np.exp(rng.normal(size=6)))
    u = jnp.asarray(rng.normal(size=6))
    for pen in [jaxl1.L1(0.3), jaxl1.L1(0.3, jnp.asarray(rng.uniform(0, 2, 6))), jaxl1.ElasticNet(0.4, 0.6),
                jaxl1.NonNegativeL1(0.2), jaxl1.L2(0.5)]:
        sp = jaxl1.ColumnScaled(pen, d)
        np.testing.assert_allclose(sp.value(jnp.abs(u)), pen.value(jnp.abs(u) / d), rtol=1e-12)
        # the prox is the minimizer of 0.5 ||z - u||^2 + t P(z / d): compare with a fine grid, per coordinate
        z = sp.prox(u, 0.7)
        grid = jnp.linspace(-4, 4, 400_001)
        for j in range(6):
            dj = float(d[j])
            one = jax.vmap(lambda g, j=j, dj=dj: pen.restrict(jnp.array([j])).value(jnp.array([g / dj])))(grid)
            obj = 0.5 * (grid - u[j]) ** 2 + 0.7 * one
            assert abs(float(z[j]) - float(grid[jnp.argmin(obj)])) <= 2e-5


# --------------------------------------------------------------------------- #
# one feature in other units beside unit-scale ones (issue 19)
# --------------------------------------------------------------------------- #
OTHER_UNITS = ["std 1e4", "std 1e5", "std 1e6", "timestamp"]


def _one_column_in_other_units(Z, which):
    X = Z.copy()
    X[:, 3] = 1.7e9 + 3e7 * Z[:, 3] if which == "timestamp" else float(which.split()[1]) * Z[:, 3]
    return X


@pytest.mark.parametrize("which", OTHER_UNITS)
def test_fit_with_one_column_in_other_units(design, which):
    # before the scale-invariant steps the default solver ran to max_iter here, 40-95% of P0 above the optimum
    Z, y, _ = design
    X = _one_column_in_other_units(Z, which)
    col = X.std(0)
    for lam in (0.1, 0.01, 1e-3):
        sk = _sk_lasso(X, y, lam)
        theirs = _lasso_objective(X, y, sk.coef_, sk.intercept_, lam)
        null = _lasso_objective(X, y, 0 * sk.coef_, y.mean(), lam)
        for form in ("gram", "data"):
            res = jaxl1.fit(X, y, jaxl1.L1(lam), form=form)  # the defaults: tol, max_iter, ws_size
            assert bool(res.converged) and int(res.n_iter) <= 100
            ours = _lasso_objective(X, y, np.asarray(res.coef), float(res.intercept), lam)
            assert ours <= theirs + 1e-12 * null
            np.testing.assert_allclose(np.asarray(res.coef) * col, sk.coef_ * col, atol=1e-8)
        path = jaxl1.fit_path(X, y, lambdas=[10 * lam, lam])
        assert bool(np.all(path.converged))
        ours = _lasso_objective(X, y, np.asarray(path.coef[1]), float(path.intercept[1]), lam)
        assert ours <= theirs + 1e-12 * null


@pytest.mark.parametrize("which", ["std 1e6", "timestamp"])
def test_estimators_with_one_column_in_other_units(design, which):
    # jaxl1.sklearn's Lasso and ElasticNet return scikit-learn's coefficients (they were ~10x off)
    from jaxl1.sklearn import ElasticNet as JElasticNet
    from jaxl1.sklearn import Lasso as JLasso

    Z, y, _ = design
    X = _one_column_in_other_units(Z, which)
    col = X.std(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning either
        ours = [JLasso(alpha=0.01).fit(X, y), JElasticNet(alpha=0.01, l1_ratio=0.5).fit(X, y)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [Lasso(alpha=0.01, tol=1e-14, max_iter=1_000_000).fit(X, y),
                  ElasticNet(alpha=0.01, l1_ratio=0.5, tol=1e-14, max_iter=1_000_000).fit(X, y)]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.coef_ * col, b.coef_ * col, atol=1e-8)
        np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-8)

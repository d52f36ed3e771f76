"""standardize=True: the same answer as standardizing by hand, fitting and mapping back (glmnet's standardize)."""

import warnings

import jax
import numpy as np
import pytest
from sklearn.linear_model import Lasso

import jaxl1

jax.config.update("jax_enable_x64", True)


def _data(seed=0, n=120, p=8, offset=5.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * np.logspace(-2, 3, p) + rng.uniform(-offset, offset, p)
    X[:, 3] = 7.0  # a constant column keeps a zero coefficient
    y = X[:, 0] * 50 + X[:, 5] * 0.002 + rng.standard_normal(n)
    return X, y


def _by_hand(X, s, fit_intercept):
    """Weighted sd (ddof=0); a constant column (sd at the rounding level of its values) is left as it is."""
    mean = s @ X if fit_intercept else np.zeros(X.shape[1])
    sd = np.sqrt(s @ (X - mean) ** 2)
    return np.where(sd > 1e-12 * np.abs(X).max(axis=0), sd, 1.0), mean


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_matches_standardizing_by_hand_with_scikit_learn(fit_intercept):
    X, y = _data(offset=5.0 if fit_intercept else 0.0)
    n = len(y)
    sd, mean = _by_hand(X, np.full(n, 1 / n), fit_intercept)
    alpha = 0.3
    Z = X / sd  # scikit-learn centres itself with fit_intercept
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the reference must converge
        ref = Lasso(alpha=alpha, fit_intercept=fit_intercept, tol=1e-12, max_iter=100_000).fit(Z, y)
    res = jaxl1.fit(X, y, jaxl1.L1(alpha), standardize=True, fit_intercept=fit_intercept, tol=1e-13)
    np.testing.assert_allclose(res.coef, ref.coef_ / sd, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(res.intercept, ref.intercept_, rtol=1e-7, atol=1e-8)
    assert float(res.coef[3]) == 0.0


def test_weighted_logistic_and_elastic_net_match_by_hand():
    rng = np.random.default_rng(1)
    X, _ = _data(1)
    X = np.delete(X, 3, axis=1)
    y = ((X[:, 0] - X[:, 0].mean()) / X[:, 0].std() + rng.standard_normal(len(X)) > 0).astype(float)
    sw = rng.uniform(0.2, 2.0, len(y))
    s = sw / sw.sum()
    sd, _ = _by_hand(X, s, True)
    lam = 0.02
    # by hand: jaxl1's unstandardized fit on X / sd, mapped back (the squared-loss test checks against scikit-learn)
    res = jaxl1.fit(X, y, jaxl1.L1(lam), loss="logistic", sample_weight=sw, standardize=True, tol=1e-12)
    ref = jaxl1.fit(X / sd, y, jaxl1.L1(lam), loss="logistic", sample_weight=sw, tol=1e-12)
    np.testing.assert_allclose(res.coef, np.asarray(ref.coef) / sd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.intercept, ref.intercept, rtol=1e-6, atol=1e-9)
    assert int((np.asarray(res.coef) != 0).sum()) >= 2
    # the elastic net: P(sd * w) by hand through jaxl1's own unstandardized fit on X / sd
    pen = jaxl1.ElasticNet(0.05, 0.5)
    a = jaxl1.fit(X, y * 1.0, pen, standardize=True, sample_weight=sw, tol=1e-13)
    b = jaxl1.fit(X / sd, y * 1.0, pen, sample_weight=sw, tol=1e-13)
    np.testing.assert_allclose(a.coef, np.asarray(b.coef) / sd, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(a.intercept, b.intercept, rtol=1e-8)


def test_path_and_cross_validation_standardize():
    X, y = _data(2)
    n = len(y)
    sd, _ = _by_hand(X, np.full(n, 1 / n), True)
    path = jaxl1.fit_path(X, y, standardize=True, n_lambdas=10, tol=1e-12)
    ref = jaxl1.fit_path(X / sd, y, n_lambdas=10, tol=1e-12)
    np.testing.assert_allclose(path.lambdas, ref.lambdas, rtol=1e-10)  # lambda_max on the standardized scale
    np.testing.assert_allclose(path.coef, np.asarray(ref.coef) / sd, rtol=1e-7, atol=1e-10)
    folds = np.arange(n) % 3
    cv = jaxl1.cross_validate(X, y, folds=folds, standardize=True, lambdas=path.lambdas, tol=1e-12)
    # each fold standardizes by its own training samples
    tr = folds != 0
    sd0, _ = _by_hand(X[tr], np.full(tr.sum(), 1 / tr.sum()), True)
    p0 = jaxl1.fit_path(X[tr] / sd0, y[tr], lambdas=path.lambdas, tol=1e-12)
    Z = X[~tr] / sd0 @ np.asarray(p0.coef).T + np.asarray(p0.intercept)
    np.testing.assert_allclose(cv.fold_scores[0], ((y[~tr, None] - Z) ** 2).mean(axis=0), rtol=1e-7)


def test_gradient_through_a_standardized_fit_includes_the_scale():
    X, y = _data(3)
    X = np.delete(X, 3, axis=1)

    def f(X):
        return jax.numpy.sum(jaxl1.fit(X, y, jaxl1.L1(0.2), standardize=True, tol=1e-13).coef ** 2)

    g = np.asarray(jax.grad(f)(jax.numpy.asarray(X)))
    h = 1e-6
    for i, j in [(0, 0), (5, 4), (17, 2)]:
        E = np.zeros_like(X)
        E[i, j] = h * max(1.0, abs(X[i, j]))
        np.testing.assert_allclose(g[i, j], (f(X + E) - f(X - E)) / (2 * E[i, j]), rtol=2e-4, atol=1e-10)


def test_standardize_is_checked():
    X, y = _data()
    with pytest.raises(ValueError, match="standardize must be True or False"):
        jaxl1.fit(X, y, jaxl1.L1(0.1), standardize="yes")
    with pytest.raises(ValueError, match="separable penalty"):
        jaxl1.fit(X, y, jaxl1.GroupL1(0.1, groups=np.arange(8) // 2), standardize=True)


def test_sparse_x_standardizes_and_bounds_like_dense_x():
    import scipy.sparse as sp

    rng = np.random.default_rng(5)
    X = rng.standard_normal((90, 10)) * np.logspace(-1, 2, 10) * (rng.uniform(size=(90, 10)) < 0.3)
    y = X[:, 1] / 10 + X[:, 4] + rng.standard_normal(90)
    box = (np.full(10, -0.05), np.full(10, 0.05))
    for kw in ({"standardize": True}, {"bounds": box}, {"standardize": True, "bounds": box}):
        dense = jaxl1.fit(X, y, jaxl1.L1(0.05), tol=1e-12, **kw)
        sparse = jaxl1.fit(sp.csr_matrix(X), y, jaxl1.L1(0.05), tol=1e-12, **kw)
        np.testing.assert_allclose(sparse.coef, dense.coef, atol=1e-9)
        np.testing.assert_allclose(sparse.intercept, dense.intercept, atol=1e-9)
    path_d = jaxl1.fit_path(X, y, standardize=True, bounds=box, n_lambdas=6, tol=1e-12)
    path_s = jaxl1.fit_path(sp.csc_matrix(X), y, standardize=True, bounds=box, n_lambdas=6, tol=1e-12)
    np.testing.assert_allclose(path_s.lambdas, path_d.lambdas, rtol=1e-10)
    np.testing.assert_allclose(path_s.coef, path_d.coef, atol=1e-9)


def test_estimators_take_standardize():
    from jaxl1.sklearn import Lasso as JLasso, LassoCV as JLassoCV, LogisticRegressionL1

    X, y = _data(6)
    n = len(y)
    sd, _ = _by_hand(X, np.full(n, 1 / n), True)
    ref = Lasso(alpha=0.2, tol=1e-12, max_iter=100_000).fit(X / sd, y)
    est = JLasso(alpha=0.2, tol=1e-12, standardize=True).fit(X, y)
    np.testing.assert_allclose(est.coef_, ref.coef_ / sd, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-8)
    assert JLasso(standardize=True).get_params()["standardize"] is True
    cv_std = JLassoCV(cv=3, standardize=True, tol=1e-10).fit(X, y)
    cv_hand = JLassoCV(cv=3, tol=1e-10).fit(X / sd, y)  # differs only in that folds standardize by their own sd
    assert cv_std.alphas_[0] == pytest.approx(cv_hand.alphas_[0], rel=1e-10)
    yl = (y > np.median(y)).astype(int)
    clf = LogisticRegressionL1(alpha=0.01, tol=1e-10, standardize=True).fit(X, yl)
    res = jaxl1.fit(X, yl.astype(float), jaxl1.L1(0.01), loss="logistic", standardize=True, tol=1e-10)
    np.testing.assert_allclose(clf.coef_[0], res.coef, rtol=1e-5, atol=1e-8)


def test_sparse_standardize_leaves_a_constant_column_at_zero():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((37, 5))
    X[:, 2] = 0.3  # constant, stored in every row
    sw = rng.uniform(0.1, 3, 37)
    yl = (X @ np.array([1, -1, 0, 0.5, 2.0]) + 0.1 * rng.standard_normal(37) > 0).astype(float)
    dense = jaxl1.fit(X, yl, jaxl1.L1(1e-5), loss="logistic", standardize=True, tol=1e-12, sample_weight=sw)
    sparse = jaxl1.fit(sp.csr_matrix(X), yl, jaxl1.L1(1e-5), loss="logistic", standardize=True, tol=1e-12,
                       sample_weight=sw)
    assert bool(sparse.converged) and float(sparse.coef[2]) == 0.0
    np.testing.assert_allclose(sparse.coef, dense.coef, rtol=1e-7, atol=1e-9)

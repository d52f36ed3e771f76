"""The relaxed lasso (``jaxl1.relax``, ``jaxl1.cross_validate_relaxed``): the refits against least squares on
each support in numpy, the logistic refits against their optimality conditions in numpy and scikit-learn's
unpenalized ``LogisticRegression``, the cross-validated scores against a loop over the folds in numpy, and
the refusals."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression

import jaxl1

KW = dict(tol=1e-12, max_iter=100_000)


def _lstsq_on_support(X, y, w, support, fit_intercept=True):
    """Weighted least squares on the columns ``support`` (numpy): ``(coef (p,), intercept)``."""
    p = X.shape[1]
    coef = np.zeros(p)
    sw = w / w.sum()
    xm = sw @ X if fit_intercept else np.zeros(p)
    ym = sw @ y if fit_intercept else 0.0
    if support.size:
        r = np.sqrt(w)
        coef[support] = np.linalg.lstsq((X[:, support] - xm[support]) * r[:, None], (y - ym) * r, rcond=None)[0]
    return coef, ym - xm @ coef


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


@pytest.mark.parametrize("weighted", [False, True])
def test_squared_refits_are_least_squares_on_the_support(diabetes, weighted):
    X, y = diabetes
    w = np.random.default_rng(0).uniform(0.2, 2.0, X.shape[0]) if weighted else np.ones(X.shape[0])
    path = jaxl1.fit_path(X, y, n_lambdas=15, sample_weight=w if weighted else None, **KW)
    rel = jaxl1.relax(path, X, y, sample_weight=w if weighted else None, **KW)
    assert bool(rel.converged.all())
    for k in range(15):
        S = np.flatnonzero(np.asarray(path.coef[k]))
        coef, b = _lstsq_on_support(X, y, w, S)
        np.testing.assert_allclose(rel.coef_relaxed[k], coef, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(coef).max()))
        np.testing.assert_allclose(rel.intercept_relaxed[k], b, rtol=1e-10)
    # the blend and its predictions
    c, b = rel.blend(0.25)
    np.testing.assert_allclose(c, 0.25 * np.asarray(path.coef) + 0.75 * np.asarray(rel.coef_relaxed), rtol=1e-14)
    np.testing.assert_allclose(b, 0.25 * np.asarray(path.intercept) + 0.75 * np.asarray(rel.intercept_relaxed))
    np.testing.assert_allclose(rel.predict(X, 0.25), X @ np.asarray(c).T + np.asarray(b), rtol=1e-12)
    np.testing.assert_array_equal(rel.blend(1.0)[0], path.coef)


def test_equal_supports_share_one_refit(diabetes):
    """Strengths with the previous strength's support take its refit over (no iteration): equal supports give
    identical refits, so cross-validation's ties between them are exact and fall to the first strength."""
    X, y = diabetes
    path = jaxl1.fit_path(X, y, n_lambdas=40, **KW)
    rel = jaxl1.relax(path, X, y, **KW)
    on = np.asarray(path.coef) != 0
    repeated = np.r_[False, np.all(on[1:] == on[:-1], axis=1)]
    assert repeated.sum() >= 5
    n_iter = np.asarray(rel.n_iter)
    assert np.all(n_iter[repeated] == 0) and np.all(n_iter[~repeated][1:] > 0)  # (the first: intercept only)
    for k in np.flatnonzero(repeated):
        np.testing.assert_array_equal(rel.coef_relaxed[k], rel.coef_relaxed[k - 1])
        np.testing.assert_array_equal(rel.intercept_relaxed[k], rel.intercept_relaxed[k - 1])
        coef, b = _lstsq_on_support(X, y, np.ones(X.shape[0]), np.flatnonzero(on[k]))
        np.testing.assert_allclose(rel.coef_relaxed[k], coef, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(coef).max()))
    cv = jaxl1.cross_validate_relaxed(X, y, gammas=(0.0,), n_lambdas=40, **KW)
    best = np.asarray(cv.mean_score[0])
    assert int(cv.index[1]) == int(np.flatnonzero(best == best.min())[0])


def test_no_intercept_and_offset(diabetes):
    X, y = diabetes
    off = 0.1 * y
    path = jaxl1.fit_path(X, y, n_lambdas=8, fit_intercept=False, offset=off, **KW)
    rel = jaxl1.relax(path, X, y, fit_intercept=False, offset=off, **KW)
    for k in range(8):
        S = np.flatnonzero(np.asarray(path.coef[k]))
        coef, b = _lstsq_on_support(X, y - off, np.ones(X.shape[0]), S, fit_intercept=False)
        np.testing.assert_allclose(rel.coef_relaxed[k], coef, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(coef).max()))
        assert float(rel.intercept_relaxed[k]) == 0.0


def test_wide_sparse_and_group_paths():
    """p > n with a sparse X (the data form and working sets), and a group-lasso path: least squares on the
    support in numpy."""
    rng = np.random.default_rng(3)
    n, p = 60, 150
    X = rng.standard_normal((n, p)) * (rng.uniform(size=(n, p)) < 0.3)
    y = X[:, :6] @ rng.uniform(1, 2, 6) + 0.3 * rng.standard_normal(n)
    path = jaxl1.fit_path(sp.csr_matrix(X), y, n_lambdas=12, eps=0.05, **KW)
    rel = jaxl1.relax(path, sp.csr_matrix(X), y, **KW)
    dense = jaxl1.relax(path, X, y, **KW)
    groups = np.repeat(np.arange(p // 3), 3)
    gpath = jaxl1.fit_path(X, y, n_lambdas=12, eps=0.05, groups=groups, **KW)
    grel = jaxl1.relax(gpath, X, y, **KW)
    for pth, r in ((path, rel), (path, dense), (gpath, grel)):
        assert bool(r.converged.all())
        for k in range(12):
            S = np.flatnonzero(np.asarray(pth.coef[k]))
            assert S.size < n - 1
            coef, b = _lstsq_on_support(X, y, np.ones(n), S)
            np.testing.assert_allclose(r.coef_relaxed[k], coef, atol=1e-7 * max(1.0, np.abs(coef).max()))
            np.testing.assert_allclose(r.intercept_relaxed[k], b, atol=1e-7 * max(1.0, abs(b)))


def test_logistic_refits():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = y.astype(float)
    path = jaxl1.fit_path(X, y, loss="logistic", n_lambdas=20, eps=0.05, **KW)
    rel = jaxl1.relax(path, X, y, loss="logistic", **KW)
    assert bool(rel.converged.all())
    for k in range(1, 20, 3):
        S = np.flatnonzero(np.asarray(path.coef[k]))
        c = np.asarray(rel.coef_relaxed[k])
        assert set(np.flatnonzero(c)) <= set(S)
        z = X @ c + float(rel.intercept_relaxed[k])
        r = 1 / (1 + np.exp(-z)) - y
        # stationarity on the support and in the intercept, in numpy (the loss is the mean log-loss; a relative
        # duality gap of 1e-12 leaves a gradient of order sqrt(1e-12))
        assert np.abs(X[:, S].T @ r).max() / len(y) < 1e-5 and abs(r.sum()) / len(y) < 1e-5
        loss = lambda zz: np.logaddexp(0, -(2 * y - 1) * zz).mean()
        ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=100_000).fit(X[:, S], y)
        np.testing.assert_allclose(c[S], ref.coef_[0], rtol=1e-4, atol=1e-4 * np.abs(ref.coef_).max())
        # (the certificate of free coordinates, v^2 / L, underestimates the suboptimality of an ill-conditioned
        # refit: it reads ~1e-15 here at ~1e-10 off, 1.4e-9 relative)
        assert loss(z) <= loss(X[:, S] @ ref.coef_[0] + ref.intercept_[0]) * (1 + 1e-8)


def test_cross_validate_relaxed_against_a_loop(diabetes):
    X, y = diabetes
    gammas = (0.0, 0.5, 1.0)
    kw = dict(n_lambdas=12, **KW)
    folds = np.random.default_rng(5).permutation(np.arange(X.shape[0]) % 4)
    cv = jaxl1.cross_validate_relaxed(X, y, gammas=gammas, folds=folds, **kw)
    want = np.zeros((4, len(gammas), 12))
    for f in range(4):
        tr, te = folds != f, folds == f
        path = jaxl1.fit_path(X[tr], y[tr], lambdas=cv.lambdas, **KW)
        for k in range(12):
            S = np.flatnonzero(np.asarray(path.coef[k]))
            coef, b = _lstsq_on_support(X[tr], y[tr], np.ones(tr.sum()), S)
            for i, g in enumerate(gammas):
                c = g * np.asarray(path.coef[k]) + (1 - g) * coef
                bb = g * float(path.intercept[k]) + (1 - g) * b
                want[f, i, k] = np.mean((y[te] - X[te] @ c - bb) ** 2)
    np.testing.assert_allclose(cv.fold_scores, want, rtol=1e-8)
    np.testing.assert_allclose(cv.mean_score, want.mean(0), rtol=1e-8)
    i, k = np.unravel_index(np.argmin(want.mean(0)), want.shape[1:])
    assert (int(cv.index[0]), int(cv.index[1])) == (i, k)
    assert float(cv.gamma_best) == gammas[i] and float(cv.lambda_best) == float(cv.lambdas[k])
    # gamma = 1 is the plain path: cross_validate's scores
    plain = jaxl1.cross_validate(X, y, folds=folds, **kw)
    np.testing.assert_allclose(cv.mean_score[2], plain.mean_score, rtol=1e-8)
    coef, b = cv.model()
    full = jaxl1.relax(jaxl1.fit_path(X, y, lambdas=cv.lambdas, **KW), X, y, **KW)
    fc, fb = full.blend(gammas[i])
    np.testing.assert_allclose(coef, fc[k], rtol=1e-8, atol=1e-8 * np.abs(fc).max())
    np.testing.assert_allclose(cv.predict(X), X @ np.asarray(coef) + float(b), rtol=1e-10)


def test_refusals(diabetes):
    X, y = diabetes
    path = jaxl1.fit_path(X, y, n_lambdas=5)
    rel = jaxl1.relax(path, X, y)
    for bad in (-0.1, 1.5, "a", True):
        with pytest.raises(ValueError, match="gamma"):
            rel.blend(bad)
    with pytest.raises(ValueError, match="path"):
        jaxl1.relax(path, X[:, :5], y)
    Y = np.stack([y, -y], 1)
    with pytest.raises(ValueError, match="^y: .*1-D y"):
        jaxl1.relax(jaxl1.fit_path(X, Y, n_lambdas=5), X, Y)
    for bad in (None, np.zeros((5, 10))):
        with pytest.raises(ValueError, match="^path must be"):
            jaxl1.relax(bad, X, y)
    for bad in ((), (0.5, 2.0), [[0.5]], "x"):
        with pytest.raises(ValueError, match="gammas"):
            jaxl1.cross_validate_relaxed(X, y, gammas=bad, n_lambdas=5)
    with pytest.raises(ValueError, match="1-D y"):
        jaxl1.cross_validate_relaxed(X, Y, n_lambdas=5)

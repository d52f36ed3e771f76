"""Sparse X (``scipy.sparse`` CSR/CSC, ``jax.experimental.sparse.BCOO``): the same answers as dense X,
and as scikit-learn on sparse input, without ever forming the dense matrix (float64)."""

import os
import subprocess
import sys
import textwrap
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from jax.experimental import sparse as jsparse
from sklearn import linear_model as sk

import jaxl1
from jaxl1 import _design
from jaxl1.solvers import _problem
from jaxl1.solvers._problem import sparse_gram_choice, sparse_moments
from jaxl1.solvers._sparse import Columns, SparseDesign, sparse_design

TIGHT = 1e-12


def _sparse_problem(n, p, density, seed, shift=0.0):
    """A random sparse design (values far from zero when ``shift``), a sparse truth and noisy targets."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=seed, data_rvs=rng.standard_normal)
    if shift:
        X.data += shift * np.sign(X.data)
    w = np.zeros(p)
    w[: p // 10] = rng.choice([-1.0, 1.0], p // 10) * (1 + rng.random(p // 10))
    y = X @ w + 0.3 * rng.standard_normal(n) + 1.5
    return X, y


@pytest.fixture(scope="module")
def tall():
    return _sparse_problem(300, 60, 0.1, seed=0, shift=2.0)


@pytest.fixture(scope="module")
def wide():
    return _sparse_problem(120, 400, 0.05, seed=1)


@pytest.fixture(scope="module")
def labels(tall):
    X, y = tall
    return X, (y > np.median(y)).astype(float)


@pytest.fixture(scope="module")
def wide_labels(wide):
    X, y = wide
    return X, (y > np.median(y)).astype(float)


def _formats(X):
    """The same matrix as CSR, CSC and BCOO."""
    return {"csr": X.tocsr(), "csc": X.tocsc(), "bcoo": jsparse.BCOO.from_scipy_sparse(X)}


# --------------------------------------------------------------------------- #
# the design: products against the dense centred, scaled matrix
# --------------------------------------------------------------------------- #
def test_design_products_match_the_dense_matrix(tall):
    X, _ = tall
    X = X.tolil()
    X[3, 5] = 0.0
    X = X.tocsr()
    X.data[X.indices == 7] = 0.0  # explicit zeros change nothing (column 7 is now zero: scale 1)
    n, p = X.shape
    rng = np.random.default_rng(3)
    s = rng.random(n)
    s[:10] = 0.0
    s /= s.sum()
    B = _design.as_bcoo(X)  # padded with explicit zeros at the last position
    assert B.nse > X.nnz
    A, x_mean, d = sparse_design(B, jnp.asarray(s), fit_intercept=True, scale=True)
    Xd = X.toarray()
    m = s @ Xd
    dd = np.sqrt(s @ (Xd - m) ** 2)
    dd[7] = 1.0
    Ad = (Xd - m) / dd
    np.testing.assert_allclose(x_mean, m, rtol=1e-13)
    np.testing.assert_allclose(d, dd, rtol=1e-12)
    v, u, h = rng.standard_normal(p), rng.standard_normal(n), rng.random(n)
    np.testing.assert_allclose(A @ jnp.asarray(v), Ad @ v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jnp.asarray(u) @ A, u @ Ad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(A.sq_norms(jnp.asarray(h)), h @ Ad**2, rtol=1e-12)
    W = jnp.asarray([7, 0, 59, 12])
    np.testing.assert_allclose(A.columns(W), Ad[:, [7, 0, 59, 12]], rtol=1e-12, atol=1e-14)
    C = Columns(A, W, intercept=True)
    Cd = np.column_stack([Ad[:, [7, 0, 59, 12]], np.ones(n)])
    vw = rng.standard_normal(5)
    np.testing.assert_allclose(C @ jnp.asarray(vw), Cd @ vw, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(jnp.asarray(u) @ C, u @ Cd, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(C.sq_norms(jnp.asarray(h)), h @ Cd**2, rtol=1e-12)
    assert isinstance(jax.jit(lambda A: A)(A), SparseDesign)  # a pytree


def test_boundary_conversion():
    X = sp.coo_matrix((np.array([1.0, 2.0, 3.0]), (np.array([0, 0, 2]), np.array([1, 1, 0]))), shape=(3, 2))
    B = _design.as_bcoo(X)  # any scipy format; duplicates summed
    np.testing.assert_array_equal(B.todense(), [[0.0, 3.0], [0.0, 0.0], [3.0, 0.0]])
    assert B.dtype == jnp.float64 and B.nse == _design.NSE_MIN
    assert _design.as_bcoo(sp.csr_matrix(np.eye(3, dtype=np.int64))).dtype == jnp.float64
    for fmt in ("lil", "dok", "dia", "bsr"):
        np.testing.assert_array_equal(_design.as_bcoo(X.asformat(fmt)).todense(), B.todense())
    bad = sp.lil_matrix((2, 2))
    bad[0, 1] = np.inf
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        _design.as_bcoo(bad)
    assert _design.as_bcoo(sp.csr_matrix(np.eye(3, dtype=np.float32))).dtype == jnp.float32
    # a BCOO with repeated positions is summed; one with a batch dimension laid out flat
    R = jsparse.BCOO((jnp.array([1.0, 1.0]), jnp.array([[0, 0], [0, 0]])), shape=(2, 2))
    np.testing.assert_array_equal(_design.as_bcoo(R).todense(), [[2.0, 0.0], [0.0, 0.0]])
    Bb = jsparse.BCOO.fromdense(jnp.eye(3), n_batch=1)
    np.testing.assert_array_equal(_design.as_bcoo(Bb).todense(), np.eye(3))
    # BCOO's own padding (out-of-range positions) is taken as it is, and changes no product
    D = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [4.0, 5.0, 0.0], [0.0, 6.0, 0.0]])
    Bp = jsparse.BCOO.fromdense(jnp.asarray(D), nse=9)
    assert Bp.unique_indices and _design.as_bcoo(Bp) is Bp
    s = jnp.full(4, 0.25)
    A, _, _ = sparse_design(Bp, s, fit_intercept=True, scale=True)
    Ad = (D - D.mean(0)) / D.std(0)
    np.testing.assert_allclose(A.columns(), Ad, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(A @ jnp.ones(3), Ad @ np.ones(3), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(jnp.ones(4) @ A, np.ones(4) @ Ad, atol=1e-14)
    np.testing.assert_allclose(A.sq_norms(s), np.ones(3), rtol=1e-13)
    with jax.enable_x64(False):
        assert _design.as_bcoo(sp.csr_matrix(np.eye(3))).dtype == jnp.float32
    sizes = [_design.padded_size(m) for m in (1, 1024, 1025, 5000, 10**6)]
    assert sizes[:2] == [1024, 1024] and all(m <= s <= 1.25 * m for m, s in zip((1025, 5000, 10**6), sizes[2:]))


def test_products_by_scipy_and_by_xla_agree():
    D = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [4.0, 5.0, 0.0], [0.0, 6.0, 0.0]])
    W = np.arange(12.0).reshape(3, 4) / 7
    Bp = jsparse.BCOO.fromdense(jnp.asarray(D), nse=9)  # padded
    dup = sp.coo_matrix((np.array([1.0, 1.0, 5.0]), (np.array([0, 0, 2]), np.array([0, 0, 1]))), shape=(4, 3))
    for X, dense in ((sp.csr_matrix(D), D), (sp.csc_array(D), D), (Bp, D), (dup, dup.toarray())):
        out = _design.matmul(X, W)  # concrete, on a CPU: scipy's product
        assert isinstance(out, jax.Array) and out.dtype == jnp.float64
        np.testing.assert_allclose(out, dense @ W, rtol=1e-15)
        np.testing.assert_allclose(_design.matmul(X, W[:, 0]), dense @ W[:, 0], rtol=1e-15)
        traced = jax.jit(lambda W: _design.matmul(_design.as_bcoo(X), W))(W)  # under jit: XLA's
        np.testing.assert_allclose(traced, dense @ W, rtol=1e-15)
    with jax.enable_x64(False):
        assert _design.matmul(sp.csr_matrix(D), W).dtype == jnp.float32
    bad = sp.csr_matrix(D)
    bad.data[0] = np.nan
    for X in (bad, jsparse.BCOO.from_scipy_sparse(bad)):  # a BCOO made by the user is checked here too
        with pytest.raises(ValueError, match="X contains NaN"):
            _design.matmul(X, W)
    with pytest.raises(ValueError, match="X has 3 features, the coefficients 2"):
        _design.matmul(sp.csr_matrix(D), W[:2])


def test_bad_sparse_input(tall):
    X, y = tall
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        jaxl1.fit(bad, y, jaxl1.L1(0.1))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        jaxl1.fit(X, y[:-1], jaxl1.L1(0.1))
    B = jsparse.BCOO.from_scipy_sparse(X)  # traced, its Gram matrix cannot be computed before the program
    with pytest.raises(ValueError, match="form='gram' needs a dense X, or a sparse X given by value"):
        jax.jit(lambda d: jaxl1.fit(jsparse.BCOO((d, B.indices), shape=B.shape), y, jaxl1.L1(0.1), form="gram").coef)(B.data)
    big = X.copy()
    big.data[0] = 1e200
    with pytest.raises(ValueError, match="X has values of magnitude"):
        jaxl1.fit(big, y, jaxl1.L1(0.1))
    with pytest.raises(ValueError, match="X must be numeric"):
        jaxl1.fit(sp.csr_matrix(np.eye(3, dtype=complex)), np.ones(3), jaxl1.L1(0.1))


# --------------------------------------------------------------------------- #
# fit: sparse = dense, and = scikit-learn on sparse input
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("fmt", ["csr", "csc", "bcoo"])
@pytest.mark.parametrize("data", ["tall", "wide"])
def test_fit_squared_matches_dense_and_sklearn(fmt, data, request):
    X, y = request.getfixturevalue(data)
    lam = 0.05 * float(jaxl1.lambda_max(X.toarray(), y))
    res = jaxl1.fit(_formats(X)[fmt], y, jaxl1.L1(lam), tol=TIGHT)
    dense = jaxl1.fit(X.toarray(), y, jaxl1.L1(lam), tol=TIGHT)
    ref = sk.Lasso(alpha=lam, tol=1e-14, max_iter=1_000_000).fit(X, y)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, dense.coef, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(res.intercept, ref.intercept_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(res.predict(_formats(X)[fmt]), X @ ref.coef_ + ref.intercept_, atol=1e-7)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_weighted_elastic_net_and_nonneg_match_dense(tall, fit_intercept):
    X, y = tall
    rng = np.random.default_rng(5)
    sw = rng.random(X.shape[0]) * 2
    sw[:7] = 0.0
    lam = 0.01 * float(jaxl1.lambda_max(X.toarray(), y, fit_intercept=fit_intercept, sample_weight=sw))
    for pen in (jaxl1.L1(lam), jaxl1.ElasticNet(lam, 0.6), jaxl1.NonNegativeL1(lam),
                jaxl1.L1(lam, weights=np.linspace(0.0, 2.0, X.shape[1])), jaxl1.GroupL1(lam, axis=None)):
        kw = dict(fit_intercept=fit_intercept, sample_weight=sw, tol=TIGHT, max_iter=200_000)
        res = jaxl1.fit(X, y, pen, **kw)
        dense = jaxl1.fit(X.toarray(), y, pen, **kw)
        assert bool(res.converged), type(pen).__name__
        np.testing.assert_allclose(res.coef, dense.coef, rtol=0, atol=1e-8, err_msg=type(pen).__name__)
        np.testing.assert_allclose(res.intercept, dense.intercept, rtol=0, atol=1e-8)


@pytest.mark.parametrize("fmt", ["csr", "bcoo"])
def test_fit_logistic_matches_dense_and_sklearn(labels, fmt):
    X, y = labels
    n = X.shape[0]
    lam = 0.05 * float(jaxl1.lambda_max(X.toarray(), y, loss="logistic"))
    res = jaxl1.fit(_formats(X)[fmt], y, jaxl1.L1(lam), loss="logistic", tol=TIGHT)
    dense = jaxl1.fit(X.toarray(), y, jaxl1.L1(lam), loss="logistic", tol=TIGHT)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, dense.coef, rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.intercept, dense.intercept, rtol=0, atol=1e-9)
    ref = sk.LogisticRegression(l1_ratio=1.0, solver="saga", C=1 / (n * lam), tol=1e-13, max_iter=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    np.testing.assert_allclose(res.coef, ref.coef_[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(res.intercept, ref.intercept_[0], rtol=0, atol=1e-6)


def test_float32_and_sparse_arrays(wide):
    X, y = wide
    with jax.enable_x64(False):
        lam = 0.1 * float(jaxl1.lambda_max(X.toarray(), y))
        res = jaxl1.fit(sp.csr_array(X), y, jaxl1.L1(lam))  # a scipy sparse array, not a matrix
        dense = jaxl1.fit(X.toarray(), y, jaxl1.L1(lam))
    assert res.coef.dtype == jnp.float32 and bool(res.converged)
    np.testing.assert_allclose(res.coef, dense.coef, rtol=0, atol=2e-3)
    zero = jaxl1.fit(sp.csr_matrix(X.shape), y, jaxl1.L1(lam))  # no stored entry at all
    assert not np.any(zero.coef) and float(zero.intercept) == pytest.approx(y.mean())
    with pytest.raises(ValueError, match="at least one sample and one feature"):
        jaxl1.fit(sp.csr_matrix((3, 0)), np.ones(3), jaxl1.L1(lam))


def test_fit_under_jit_with_a_traced_bcoo(wide):
    X, y = wide
    B = jsparse.BCOO.from_scipy_sparse(X)
    lam = 0.1 * float(jaxl1.lambda_max(X, y))

    @jax.jit
    def coef(data, y):
        return jaxl1.fit(jsparse.BCOO((data, B.indices), shape=B.shape), y, jaxl1.L1(lam), tol=TIGHT).coef

    np.testing.assert_allclose(coef(B.data, y), jaxl1.fit(X.toarray(), y, jaxl1.L1(lam), tol=TIGHT).coef,
                               rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- #
# lambda_max, fit_path, cross_validate, tune
# --------------------------------------------------------------------------- #
def test_lambda_max_matches_dense(tall, labels):
    X, y = tall
    w = np.ones(X.shape[1])
    w[:3] = 0.0
    for kw in (dict(), dict(fit_intercept=False), dict(weights=w), dict(positive=True), dict(l1_ratio=0.5)):
        np.testing.assert_allclose(jaxl1.lambda_max(X, y, **kw), jaxl1.lambda_max(X.toarray(), y, **kw),
                                   rtol=1e-10, err_msg=str(kw))
    Xl, yl = labels
    np.testing.assert_allclose(jaxl1.lambda_max(Xl, yl, loss="logistic"),
                               jaxl1.lambda_max(Xl.toarray(), yl, loss="logistic"), rtol=1e-12)


@pytest.mark.parametrize("data,loss,extra", [
    ("tall", "squared", {}), ("wide", "squared", {}), ("labels", "logistic", {}), ("wide_labels", "logistic", {}),
    ("wide", "squared", dict(chunk_size=4)),  # vmapped lanes
    ("wide_labels", "logistic", dict(ws_size=40)),  # dense blocks of the sparse columns, with the intercept
    ("wide", "squared", dict(ws_size=0)),  # plain FISTA
])
def test_fit_path_matches_dense(data, loss, extra, request):
    X, y = request.getfixturevalue(data)
    kw = dict(loss=loss, n_lambdas=12, eps=1e-2, tol=TIGHT, max_iter=100_000, **extra)
    path = jaxl1.fit_path(X, y, **kw)
    dense = jaxl1.fit_path(X.toarray(), y, **kw)
    assert bool(path.converged.all())
    np.testing.assert_allclose(path.lambdas, dense.lambdas, rtol=1e-12)
    np.testing.assert_allclose(path.coef, dense.coef, rtol=0, atol=1e-8)
    np.testing.assert_allclose(path.intercept, dense.intercept, rtol=0, atol=1e-8)
    np.testing.assert_allclose(path.predict(X), dense.predict(X.toarray()), rtol=0, atol=1e-7)


def test_fit_path_matches_sklearn_lasso_path(wide):
    X, y = wide  # lasso_path fits no intercept
    path = jaxl1.fit_path(X, y, n_lambdas=10, eps=1e-2, fit_intercept=False, tol=TIGHT)
    _, coefs, _ = sk.lasso_path(X, y, alphas=np.asarray(path.lambdas), tol=1e-14, max_iter=1_000_000)
    np.testing.assert_allclose(path.coef, coefs.T, rtol=0, atol=1e-8)


def test_cross_validate_matches_dense(wide):
    X, y = wide
    rng = np.random.default_rng(2)
    sw = rng.random(X.shape[0]) + 0.5
    kw = dict(n_folds=4, n_lambdas=8, eps=1e-2, sample_weight=sw, tol=TIGHT)
    cv = jaxl1.cross_validate(X, y, **kw)
    dense = jaxl1.cross_validate(X.toarray(), y, **kw)
    np.testing.assert_allclose(cv.fold_scores, dense.fold_scores, rtol=1e-8)
    np.testing.assert_allclose(cv.path.coef, dense.path.coef, rtol=0, atol=1e-8)
    assert float(cv.lambda_best) == pytest.approx(float(dense.lambda_best), rel=1e-12)
    np.testing.assert_allclose(cv.predict(X), dense.predict(X.toarray()), rtol=0, atol=1e-7)


def test_tune_matches_dense(tall):
    X, y = tall
    kw = dict(n_steps=4)
    ours = jaxl1.tune(X[:200], y[:200], X[200:].tocsc(), y[200:], **kw)
    dense = jaxl1.tune(X[:200].toarray(), y[:200], X[200:].toarray(), y[200:], **kw)
    np.testing.assert_allclose(ours.lambdas, dense.lambdas, rtol=1e-8)
    np.testing.assert_allclose(ours.scores, dense.scores, rtol=1e-8)


# --------------------------------------------------------------------------- #
# the Gram form of a sparse X: its moments by scipy before the program
# --------------------------------------------------------------------------- #
def _awkward_columns(X):
    """``X`` with a zero column (5), a column stored as the constant 2 (7) and a column stored on every row near
    1e4 with a spread of 0.1 (9), whose centred moments cancel 1e8-fold in ``X'SX - u u'``."""
    rng = np.random.default_rng(11)
    X = X.tolil()
    X[:, 5] = 0.0
    X[:, 7] = 2.0
    X[:, 9] = 1e4 + 0.1 * rng.standard_normal((X.shape[0], 1))
    return X.tocsr()


def test_sparse_moments_match_the_centred_gram(tall):
    X = _awkward_columns(tall[0])
    Xd = X.toarray()
    n, p = X.shape
    rng = np.random.default_rng(4)
    s = rng.random(n)
    s[:9] = 0.0
    s /= s.sum()
    B = _design.as_bcoo(X)
    for fit_intercept in (True, False):
        R, u, mag, top = sparse_moments(B, jnp.asarray(s), fit_intercept)
        m = s @ Xd if fit_intercept else np.zeros(p)
        Xc = Xd - m  # (numpy centres the dense copy first: no cancellation)
        ref = Xc.T @ (Xc * s[:, None])
        if fit_intercept:  # the constant column's centred values are rounding noise: it reads as a zero column
            ref[7, :] = ref[:, 7] = 0.0
        scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref))) + 1e-300
        assert np.max(np.abs(R - ref) / scale) < 1e-10, fit_intercept
        np.testing.assert_allclose(u, m, rtol=1e-13, atol=0)
        np.testing.assert_allclose(mag, np.einsum("ij,ij,i->j", Xd, Xd, s), rtol=1e-12)
        np.testing.assert_allclose(top, np.max(np.abs(Xd[s > 0]), axis=0), rtol=0)  # the weighted rows only
        assert not np.any(R[5]) and not np.any(R[:, 5])
    # a column near 1e6 with a spread of 0.1: X'SX - u u' would lose about 1e14 eps of its products, 3e-9 of
    # their scale beside a column near zero; recomputed from its centred values they keep 1e-12 or better
    X2 = X.tolil()
    X2[:, 9] = 1e6 + 0.1 * rng.standard_normal((n, 1))
    Xd2 = X2.toarray()
    R = sparse_moments(_design.as_bcoo(X2.tocsr()), jnp.asarray(s), True)[0]
    Xc = Xd2 - s @ Xd2
    ref = Xc.T @ (Xc * s[:, None])
    ref[7, :] = ref[:, 7] = 0.0
    scale = np.sqrt(np.outer(np.diag(ref), np.diag(ref))) + 1e-300
    assert np.max(np.abs(R - ref) / scale) < 1e-11
    with jax.enable_x64(False):  # float32 stored values: float32 moments
        R32 = sparse_moments(_design.as_bcoo(tall[0].astype(np.float32)), jnp.full(n, 1 / n, jnp.float32), True)[0]
    assert R32.dtype == np.float32


def test_fold_moments_equal_each_runs_own(tall):
    X = _awkward_columns(tall[0])
    n = X.shape[0]
    rng = np.random.default_rng(8)
    s = rng.random(n)
    s[:4] = 0.0
    s /= s.sum()
    folds = rng.integers(0, 4, n)
    weights = [np.where(folds == i, 0.0, s) / np.where(folds == i, 0.0, s).sum() for i in range(4)] + [s]
    B = _design.as_bcoo(X)
    for fit_intercept in (True, False):
        runs = _problem.sparse_fold_moments(B, folds, weights, fit_intercept)
        assert len(runs) == 5
        for w, run in zip(weights, runs):
            own = sparse_moments(B, jnp.asarray(w), fit_intercept)
            scale = np.sqrt(np.outer(np.diag(own[0]), np.diag(own[0]))) + 1e-300
            assert np.max(np.abs(run[0] - own[0]) / scale) < 1e-12
            for a, b in zip(run[1:], own[1:]):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300)
    # a column near 1e8 on fold 0's rows only: (sum P - P_0) would keep eps * 1e16 of run 0's entries of order 1
    Xb = X.tolil()
    Xb[np.flatnonzero(folds == 0), 0] = 1e8
    Bb = _design.as_bcoo(Xb.tocsr())
    for fit_intercept in (True, False):
        run0 = _problem.sparse_fold_moments(Bb, folds, weights, fit_intercept)[0]
        own = sparse_moments(Bb, jnp.asarray(weights[0]), fit_intercept)
        np.testing.assert_allclose(run0[0], own[0], rtol=1e-12, atol=1e-12 * np.max(np.abs(own[0])))


def test_a_large_value_on_a_row_weighted_zero_leaves_a_column_varying():
    # column 0 spreads 1e-3 about 1 on the weighted rows and holds 1e4 on row 0, weighted 0: in float32 its centred
    # second moment (1e-6) is below the rounding of 1e4, but that row does not count, so it is no constant column
    rng = np.random.default_rng(0)
    n, p = 200, 10
    Xd = rng.standard_normal((n, p)) * (rng.random((n, p)) < 0.3)
    z = rng.standard_normal(n)
    Xd[:, 0] = 1.0 + 1e-3 * z
    Xd[0, 0] = 1e4
    y = (z + 0.1 * rng.standard_normal(n) + Xd[:, 1]).astype(np.float32)
    Xd = Xd.astype(np.float32)
    sw = np.ones(n, np.float32)
    sw[0] = 0.0
    on = sw > 0
    objectives = []
    with jax.enable_x64(False), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for A in (sp.csr_matrix(Xd), Xd):
            r = jaxl1.fit_path(A, y, sample_weight=sw, n_lambdas=5)
            w, b, lam = np.asarray(r.coef[-1], np.float64), float(r.intercept[-1]), float(r.lambdas[-1])
            objectives.append(0.5 * np.mean((y[on] - Xd[on].astype(np.float64) @ w - b) ** 2) + lam * np.abs(w).sum())
    assert objectives[0] == pytest.approx(objectives[1], rel=1e-3)


def test_sparse_gram_choice(tall, wide):
    n = tall[0].shape[0]
    s = jnp.full(n, 1.0 / n)
    assert sparse_gram_choice(_design.as_bcoo(tall[0]), s) is True  # 300x60 with 1800 entries
    assert sparse_gram_choice(_design.as_bcoo(wide[0]), jnp.full(wide[0].shape[0], 0.01)) is False  # n < p
    assert sparse_gram_choice(_design.as_bcoo(sp.random(2000, 1000, density=5e-4, random_state=0)), s) is False
    assert sparse_gram_choice(tall[0].toarray(), s) is None
    seen = []
    jax.jit(lambda d: seen.append(sparse_gram_choice(jsparse.BCOO((d, _design.as_bcoo(tall[0]).indices),
                                                                 shape=tall[0].shape), s)) or d)(
        _design.as_bcoo(tall[0]).data)
    assert seen == [None]


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_gram_form_matches_dense_and_the_data_form(tall, fit_intercept, monkeypatch):
    X, y = tall
    X = _awkward_columns(X)
    rng = np.random.default_rng(6)
    sw = rng.random(X.shape[0]) + 0.5
    sw[:5] = 0.0
    calls = []
    moments = _problem.sparse_moments
    monkeypatch.setattr(_problem, "sparse_moments", lambda *a: calls.append(1) or moments(*a))
    kw = dict(n_lambdas=12, eps=1e-2, tol=TIGHT, max_iter=100_000, fit_intercept=fit_intercept, sample_weight=sw)
    for extra in (dict(), dict(l1_ratio=0.7), dict(positive=True), dict(weights=np.linspace(0.5, 2.0, X.shape[1]))):
        calls.clear()
        gram = jaxl1.fit_path(X, y, **kw, **extra)
        assert calls, "the sparse X took the data form"
        data = jaxl1.fit_path(X, y, form="data", **kw, **extra)
        dense = jaxl1.fit_path(X.toarray(), y, **kw, **extra)
        assert bool(gram.converged.all()) and bool(data.converged.all())
        for other in (data, dense):
            np.testing.assert_allclose(gram.coef, other.coef, rtol=0, atol=1e-7, err_msg=str(extra))
            np.testing.assert_allclose(gram.intercept, other.intercept, rtol=0, atol=1e-4, err_msg=str(extra))
        np.testing.assert_allclose(gram.predict(X), dense.predict(X.toarray()), rtol=0, atol=1e-6)
    lam = float(gram.lambdas[-1])
    one = jaxl1.fit(X, y, jaxl1.L1(lam), fit_intercept=fit_intercept, sample_weight=sw, tol=TIGHT)
    np.testing.assert_allclose(one.coef, jaxl1.fit(X.toarray(), y, jaxl1.L1(lam), fit_intercept=fit_intercept,
                                                   sample_weight=sw, tol=TIGHT).coef, rtol=0, atol=1e-7)
    # the optimality conditions, in numpy, on the centred weighted data (the awkward columns' coefficients are 0
    # or tiny: their products carry the cancelling column's rounding)
    Xd, w = X.toarray(), np.asarray(one.coef)
    sn = sw / sw.sum()
    m = sn @ Xd if fit_intercept else np.zeros(X.shape[1])
    r = (y - (sn @ y if fit_intercept else 0.0)) - (Xd - m) @ w
    g = (Xd - m).T @ (sn * r)
    on = w != 0
    assert np.all(np.abs(g[~on]) <= lam * (1 + 1e-6))
    np.testing.assert_allclose(g[on], lam * np.sign(w[on]), rtol=1e-5)


def test_sparse_gram_form_in_cross_validation(tall, monkeypatch):
    X, y = tall
    kw = dict(n_folds=4, n_lambdas=8, eps=1e-2, tol=TIGHT)
    cv = jaxl1.cross_validate(X, y, **kw)  # the runs in threads, each from its own moments
    dense = jaxl1.cross_validate(X.toarray(), y, **kw)
    calls = []
    fold_moments = jaxl1.path.sparse_fold_moments
    monkeypatch.setattr(jaxl1.path, "sparse_fold_moments", lambda *a: calls.append(1) or fold_moments(*a))
    monkeypatch.setattr(jaxl1.path.os, "cpu_count", lambda: 1)  # one core: the runs as calls, one after the other
    one_core = jaxl1.cross_validate(X, y, **kw)
    assert calls == [1]
    monkeypatch.setenv("JAXL1_CV_THREADS", "1")  # one program: the data form
    single = jaxl1.cross_validate(X, y, **kw)
    assert calls == [1]
    for other in (dense, one_core, single):
        np.testing.assert_allclose(cv.fold_scores, other.fold_scores, rtol=1e-8)
        np.testing.assert_allclose(cv.path.coef, other.path.coef, rtol=0, atol=1e-8)


def test_sparse_gram_form_in_stability_selection(tall, monkeypatch):
    import jaxl1.stability as stability

    X, y = tall
    rng = np.random.default_rng(9)
    sw = rng.random(X.shape[0]) + 0.5
    calls = []
    moments = stability.sparse_moments
    monkeypatch.setattr(stability, "sparse_moments", lambda *a: calls.append(1) or moments(*a))
    monkeypatch.setattr(jaxl1.path.os, "cpu_count", lambda: 2)  # (the runs in threads even on one core)
    kw = dict(n_subsamples=12, n_lambdas=10, eps=1e-2, random_state=0, tol=TIGHT, sample_weight=sw)
    for extra in (dict(), dict(weakness=0.5, fit_intercept=False)):
        calls.clear()
        ours = jaxl1.stability_selection(X, y, **kw, **extra)
        assert len(calls) == 12  # one subsample's moments per run, in the Gram form
        dense = jaxl1.stability_selection(X.toarray(), y, **kw, **extra)
        np.testing.assert_array_equal(ours.probabilities, dense.probabilities)
        np.testing.assert_array_equal(ours.average_selected, dense.average_selected)
    calls.clear()
    asked = jaxl1.stability_selection(X, y, form="gram", **kw)  # on request too
    assert len(calls) == 12
    monkeypatch.setenv("JAXL1_CV_THREADS", "1")  # the runs in one program: the data form
    single = jaxl1.stability_selection(X, y, form="gram", **kw)
    assert len(calls) == 12
    np.testing.assert_allclose(single.probabilities, asked.probabilities, rtol=0, atol=1e-12)


def test_sparse_gram_form_in_the_relaxed_refits(tall, monkeypatch):
    import jaxl1.relaxed as relaxed

    X, y = tall
    calls = []
    moments = relaxed.sparse_moments
    monkeypatch.setattr(relaxed, "sparse_moments", lambda *a: calls.append(1) or moments(*a))
    for fit_intercept in (True, False):
        path = jaxl1.fit_path(X, y, n_lambdas=8, eps=1e-2, fit_intercept=fit_intercept, tol=TIGHT)
        calls.clear()
        ours = jaxl1.relax(path, X, y, fit_intercept=fit_intercept, tol=TIGHT)
        assert calls == [1]
        dense = jaxl1.relax(path, X.toarray(), y, fit_intercept=fit_intercept, tol=TIGHT)
        np.testing.assert_allclose(ours.coef_relaxed, dense.coef_relaxed, rtol=0, atol=1e-8)
        np.testing.assert_allclose(ours.intercept_relaxed, dense.intercept_relaxed, rtol=0, atol=1e-8)


def test_sparse_gram_form_in_relaxed_cross_validation(tall, monkeypatch):
    import jaxl1.relaxed as relaxed

    X, y = tall
    sw = np.random.default_rng(3).random(X.shape[0]) + 0.5
    calls = []
    runs = relaxed._sparse_runs
    monkeypatch.setattr(relaxed, "_sparse_runs", lambda *a: calls.append(1) or runs(*a))
    kw = dict(n_folds=4, n_lambdas=8, eps=1e-2, tol=TIGHT, sample_weight=sw)
    for fit_intercept in (True, False):
        calls.clear()
        ours = jaxl1.cross_validate_relaxed(X, y, fit_intercept=fit_intercept, **kw)  # every run from its moments
        assert calls == [1]
        dense = jaxl1.cross_validate_relaxed(X.toarray(), y, fit_intercept=fit_intercept, **kw)
        np.testing.assert_allclose(ours.fold_scores, dense.fold_scores, rtol=1e-8)
        np.testing.assert_allclose(ours.relaxed.coef_relaxed, dense.relaxed.coef_relaxed, rtol=0, atol=1e-8)
        np.testing.assert_array_equal(ours.index, dense.index)
        assert ours.fold_converged.shape == (4, 8) and bool(ours.fold_converged.all())
    calls.clear()
    monkeypatch.setenv("JAXL1_CV_THREADS", "1")  # the runs in one program: the data form
    single = jaxl1.cross_validate_relaxed(X, y, fit_intercept=False, **kw)
    assert calls == []
    np.testing.assert_allclose(single.fold_scores, dense.fold_scores, rtol=1e-8)


def test_explicit_gram_form_of_a_wide_sparse_x(wide):
    X, y = wide  # n < p: form="auto" keeps the data form, form="gram" is taken on request
    lam = 0.2 * float(jaxl1.lambda_max(X, y))
    res = jaxl1.fit(X, y, jaxl1.L1(lam), form="gram", tol=TIGHT)
    dense = jaxl1.fit(X.toarray(), y, jaxl1.L1(lam), tol=TIGHT)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, dense.coef, rtol=0, atol=1e-8)


# --------------------------------------------------------------------------- #
# implicit differentiation
# --------------------------------------------------------------------------- #
def test_gradients_match_dense(wide):
    X, y = wide
    B = jsparse.BCOO.from_scipy_sparse(X)
    Xd = jnp.asarray(X.toarray())
    lam = 0.05 * float(jaxl1.lambda_max(Xd, y))
    sw = jnp.ones(X.shape[0])

    def loss(lam, X, y, sw):
        res = jaxl1.fit(X, y, jaxl1.L1(lam), sample_weight=sw, tol=TIGHT)
        return jnp.sum(res.coef**2) + res.intercept

    # the strength, the targets and the sample weights at once (one program per design)
    ref = jax.grad(loss, argnums=(0, 2, 3))(lam, Xd, jnp.asarray(y), sw)
    for ours in (X, B):
        g = jax.grad(loss, argnums=(0, 2, 3))(lam, ours, jnp.asarray(y), sw)
        for a, b in zip(g, ref):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9)
    # with respect to the penalty factors
    factors = jnp.linspace(0.5, 1.5, X.shape[1])
    by_factor = lambda v, X: jnp.sum(jaxl1.fit(X, y, jaxl1.L1(lam, v), tol=TIGHT).coef ** 2)
    np.testing.assert_allclose(jax.grad(by_factor)(factors, X), jax.grad(by_factor)(factors, Xd), rtol=1e-7,
                               atol=1e-9)
    # with respect to the stored values of a BCOO: the entries of the dense gradient at those positions
    g_data = jax.grad(lambda data: loss(lam, jsparse.BCOO((data, B.indices), shape=B.shape), y, sw))(B.data)
    g_dense = jax.grad(lambda Xd: loss(lam, Xd, y, sw))(Xd)
    rows, cols = np.asarray(B.indices).T
    np.testing.assert_allclose(g_data, g_dense[rows, cols], rtol=1e-7, atol=1e-9)
    # a path, logistic
    yl = (y > np.median(y)).astype(float)
    lams = jnp.asarray([0.3, 0.1]) * jaxl1.lambda_max(Xd, yl, loss="logistic")

    def path_loss(lams, X):
        return jnp.sum(jaxl1.fit_path(X, yl, loss="logistic", lambdas=lams, tol=TIGHT).coef ** 2)

    np.testing.assert_allclose(jax.grad(path_loss)(lams, X), jax.grad(path_loss)(lams, Xd), rtol=1e-6)


# --------------------------------------------------------------------------- #
# estimators
# --------------------------------------------------------------------------- #
def test_estimators_take_sparse_input(tall, wide, labels):
    from jaxl1.sklearn import ElasticNet, ElasticNetCV, Lasso, LassoCV, LogisticRegressionL1

    X, y = wide
    for ours, ref in ((Lasso(alpha=0.02, tol=1e-12), sk.Lasso(alpha=0.02, tol=1e-14, max_iter=1_000_000)),
                      (ElasticNet(alpha=0.02, l1_ratio=0.5, tol=1e-12),
                       sk.ElasticNet(alpha=0.02, l1_ratio=0.5, tol=1e-14, max_iter=1_000_000))):
        ours.fit(X.tocsc(), y)
        ref.fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-8)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-8)
        np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=0, atol=1e-7)
    X, y = tall
    for cls, kw in ((LassoCV, {}), (ElasticNetCV, dict(l1_ratio=[0.5, 1.0]))):
        a = cls(cv=3, tol=1e-10, **kw).fit(X, y)
        b = cls(cv=3, tol=1e-10, **kw).fit(X.toarray(), y)
        assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
        np.testing.assert_allclose(a.mse_path_, b.mse_path_, rtol=1e-7)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-8)
    X, y = labels
    a = LogisticRegressionL1(C=0.5, tol=1e-12).fit(X, y)
    b = LogisticRegressionL1(C=0.5, tol=1e-12).fit(X.toarray(), y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X.toarray()), rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- #
# memory: 40000 x 30000 at 0.04% (dense: 9.6 GB) in well under 3 GB
# --------------------------------------------------------------------------- #
# Linux carries the peak RSS of a process across exec, so a child of the (large) test process would report
# the test process's peak: the work runs in a grandchild forked while the child is still small.
_LARGE = textwrap.dedent("""
    import os, resource, sys
    pid = os.fork()
    if pid:
        sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    import numpy as np, scipy.sparse as sp, jax
    jax.config.update("jax_enable_x64", True)
    import jaxl1
    n, p, m = 40_000, 30_000, 480_000  # 0.04% of n * p
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.standard_normal(m), (rng.integers(0, n, m), rng.integers(0, p, m))), shape=(n, p))
    w = np.zeros(p)
    w[:50] = rng.standard_normal(50)
    y = X @ w + 0.1 * rng.standard_normal(n)
    lam = 0.05 * float(jaxl1.lambda_max(X, y))
    res = jaxl1.fit(X, y, jaxl1.L1(lam))
    cv = jaxl1.cross_validate(X, y, n_folds=2, n_lambdas=3, eps=0.1)
    clf = jaxl1.fit(X, (y > 0).astype(float), jaxl1.L1(0.2 * lam), loss="logistic")
    from jaxl1.sklearn import Lasso
    est = Lasso(alpha=lam).fit(X, y)
    print(bool(res.converged), bool(cv.path.converged.all()), bool(clf.converged), int((res.coef != 0).sum()),
          int((est.coef_ != 0).sum()), flush=True)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)
    os._exit(0)
""")


def test_large_sparse_fits_in_little_memory():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    cache = jax.config.jax_compilation_cache_dir
    if cache:
        env["JAX_COMPILATION_CACHE_DIR"] = cache
    out = subprocess.run([sys.executable, "-c", _LARGE], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    flags, peak = out.stdout.split("\n")[:2]
    assert flags.split()[:3] == ["True", "True", "True"] and int(flags.split()[3]) > 0 and int(flags.split()[4]) > 0
    assert int(peak) < 1.2e9, f"peak RSS {int(peak) / 1e9:.2f} GB"  # dense X alone: 9.6 GB

"""``jaxl1.fit`` against scikit-learn, closed forms and an independent duality gap (float64)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression

import jaxl1

TIGHT = 1e-13


@pytest.fixture(scope="module")
def seeds_data():
    # the seeds' example: Lasso(alpha=0.1) on this problem
    return make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)


@pytest.fixture(scope="module")
def wide_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 60))
    w = np.zeros(60)
    w[:5] = [3.0, -2.0, 1.5, 0.0, 1.0]
    y = X @ w + 0.1 * rng.standard_normal(30) + 2.0
    return X, y


@pytest.fixture(scope="module")
def logistic_data():
    X, y = make_classification(n_samples=200, n_features=8, n_informative=4, random_state=0)
    return X, y.astype(float)


def sk_lasso(X, y, alpha, fit_intercept=True, sample_weight=None):
    m = Lasso(alpha=alpha, fit_intercept=fit_intercept, tol=1e-14, max_iter=1_000_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, y, sample_weight=sample_weight)
    return m


def lasso_gap(X, y, w, b, lam, s):
    """Independent duality gap of the weighted lasso (numpy), with a rescaled residual."""
    r = y - X @ w - b
    primal = 0.5 * np.sum(s * r**2) + lam * np.abs(w).sum()
    u = s * r
    u = u - s * u.sum()  # intercept: dual point orthogonal to ones
    scale = max(1.0, np.abs(X.T @ u).max() / lam)
    theta = u / scale
    pos = s > 0
    dual = np.sum(theta * y) - 0.5 * np.sum(theta[pos] ** 2 / s[pos])
    return primal - dual


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_seeds_example_matches_sklearn(seeds_data, fit_intercept):
    X, y = seeds_data
    res = jaxl1.fit(X, y, jaxl1.L1(0.1), fit_intercept=fit_intercept, tol=TIGHT, max_iter=100_000)
    ref = sk_lasso(X, y, 0.1, fit_intercept)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.intercept, ref.intercept_, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(np.asarray(res.coef) == 0, ref.coef_ == 0)


def test_wide_problem_and_zero_pattern(wide_data):
    X, y = wide_data
    lam = 0.05
    res = jaxl1.fit(X, y, jaxl1.L1(lam), tol=TIGHT, max_iter=200_000)
    ref = sk_lasso(X, y, lam)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, ref.coef_, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(res.coef) == 0, ref.coef_ == 0)
    assert (np.asarray(res.coef) == 0).sum() > 20  # exact zeros


def test_sample_weight_matches_sklearn(seeds_data):
    X, y = seeds_data
    sw = np.random.default_rng(1).uniform(0, 2, len(y))
    sw[:5] = 0
    res = jaxl1.fit(X, y, jaxl1.L1(0.5), sample_weight=sw, tol=TIGHT, max_iter=100_000)
    ref = sk_lasso(X, y, 0.5, sample_weight=sw)
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.intercept, ref.intercept_, rtol=1e-6, atol=1e-8)
    # zero weights are the same as dropping the rows
    drop = jaxl1.fit(X[5:], y[5:], jaxl1.L1(0.5), sample_weight=sw[5:], tol=TIGHT, max_iter=100_000)
    np.testing.assert_allclose(res.coef, drop.coef, atol=1e-8)


@pytest.mark.parametrize("form", ["gram", "data"])
def test_elastic_net_matches_sklearn(seeds_data, form):
    X, y = seeds_data
    for fit_intercept in (True, False):
        res = jaxl1.fit(X, y, jaxl1.ElasticNet(1.0, 0.3), fit_intercept=fit_intercept, tol=TIGHT,
                        max_iter=100_000, form=form)
        ref = ElasticNet(alpha=1.0, l1_ratio=0.3, fit_intercept=fit_intercept, tol=1e-14, max_iter=10**6).fit(X, y)
        np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(res.intercept, ref.intercept_, rtol=1e-6, atol=1e-8)


def test_positive_matches_sklearn(wide_data):
    X, y = wide_data
    res = jaxl1.fit(X, y, jaxl1.NonNegativeL1(0.05), tol=TIGHT, max_iter=200_000)
    ref = Lasso(alpha=0.05, positive=True, tol=1e-14, max_iter=10**6).fit(X, y)
    assert np.all(np.asarray(res.coef) >= 0)
    np.testing.assert_allclose(res.coef, ref.coef_, atol=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_logistic_matches_sklearn(logistic_data, fit_intercept):
    X, y = logistic_data
    n = len(y)
    lam = 0.02
    res = jaxl1.fit(X, y, jaxl1.L1(lam), loss="logistic", fit_intercept=fit_intercept, tol=1e-12,
                    max_iter=200_000)
    ref = LogisticRegression(l1_ratio=1.0, C=1 / (n * lam), solver="saga", tol=1e-12, max_iter=200_000,
                             fit_intercept=fit_intercept)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, ref.coef_[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.intercept, ref.intercept_[0] if fit_intercept else 0.0, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(res.coef) == 0, ref.coef_[0] == 0)


def test_reported_gap_is_a_true_gap(seeds_data):
    X, y = seeds_data
    sw = np.random.default_rng(2).uniform(0.5, 1.5, len(y))
    s = sw / sw.sum()
    for lam in (5.0, 0.5):
        res = jaxl1.fit(X, y, jaxl1.L1(lam), sample_weight=sw, tol=1e-4, form="data")
        gap = lasso_gap(X, y, np.asarray(res.coef), float(res.intercept), lam, s)
        p0 = 0.5 * np.sum(s * (y - s @ y) ** 2)
        # the same gap up to rounding in P - D (both of the order of p0)
        np.testing.assert_allclose(float(res.gap), gap, rtol=1e-6, atol=1e-13 * p0)
        assert gap <= 1e-4 * p0


@pytest.mark.parametrize("form", ["gram", "data"])
def test_nonnegative_least_squares_at_strength_zero(seeds_data, form):
    # NonNegativeL1(0) is the constraint w >= 0 alone: non-negative least squares, with a finite gap
    from scipy.optimize import nnls

    X, _ = seeds_data
    w = np.array([3.0, -2.0, 1.5, -1.0, 0.5, 2.0, -0.5, 1.0, -3.0, 0.2])  # negative parts: active constraints
    y = X @ w + 0.5 * np.random.default_rng(5).standard_normal(X.shape[0])
    res = jaxl1.fit(X, y, jaxl1.NonNegativeL1(0.0), fit_intercept=False, form=form, tol=1e-12)
    ref, _ = nnls(X, y)
    assert bool(res.converged) and float(res.gap) <= 1e-12 * 0.5 * np.mean(y**2)
    assert 0 < np.count_nonzero(ref) < X.shape[1]
    np.testing.assert_allclose(res.coef, ref, rtol=1e-8, atol=1e-8)
    # working sets of 4 of the 10 coordinates: the zero ones with v_j >= 0 are satisfied and rank last
    small = jaxl1.fit(X, y, jaxl1.NonNegativeL1(0.0), fit_intercept=False, form=form, tol=1e-12, ws_size=4)
    assert bool(small.converged)
    np.testing.assert_allclose(small.coef, ref, rtol=0, atol=1e-5)  # a gap of 1e-12 bounds the objective


def test_weighted_l1_penalty_factors(seeds_data):
    X, y = seeds_data
    c = np.linspace(0.5, 2.0, X.shape[1])
    res = jaxl1.fit(X, y, jaxl1.L1(2.0, c), tol=TIGHT, max_iter=100_000)
    # a weighted lasso is a lasso on rescaled columns X_j / c_j
    ref = sk_lasso(X / c, y, 2.0)
    np.testing.assert_allclose(np.asarray(res.coef) * c, ref.coef_, rtol=1e-6, atol=1e-8)


def test_zero_penalty_factor_leaves_coordinate_free(seeds_data):
    X, y = seeds_data
    c = np.ones(X.shape[1])
    c[0] = 0.0
    lam = 1e4  # so large that every penalized coordinate is zero
    res = jaxl1.fit(X, y, jaxl1.L1(lam, c), tol=1e-12, max_iter=100_000)
    assert np.all(np.asarray(res.coef)[1:] == 0)
    xc = X[:, 0] - X[:, 0].mean()
    slope = xc @ (y - y.mean()) / (xc @ xc)  # least squares on the free column
    np.testing.assert_allclose(res.coef[0], slope, rtol=1e-6)
    assert bool(res.converged)


def test_max_iter_reports_not_converged(wide_data):
    X, y = wide_data
    res = jaxl1.fit(X, y, jaxl1.L1(0.01), tol=1e-14, max_iter=20)
    assert not bool(res.converged)
    assert int(res.n_iter) == 20
    assert float(res.gap) > 0 and np.isfinite(float(res.gap))


def test_max_iter_bounds_a_subproblem_solve_with_conjugate_gradients():
    # every coordinate nonzero (more than POLISH_MAX) and an unreachable tolerance: the signs hold, so the
    # conjugate-gradient steps run, and with the iterations of the pass they must stay within the budget
    from functools import partial

    from jaxl1 import solvers as solver

    rng = np.random.default_rng(11)
    m = solver.POLISH_MAX + 24
    A = rng.standard_normal((2 * m, m))
    H = jnp.asarray(A.T @ A / (2 * m))
    x0 = jnp.asarray(rng.uniform(1.0, 2.0, m))
    q = H @ x0 + 1e-3
    for max_iter in (23, 25, 31):
        run = jax.jit(partial(solver.quad_solve, fit_b=False, check_every=10))
        _, it = run(H, q, x0, jaxl1.L1(1e-3), 0.0, max_iter)
        assert 0 < int(it) <= max_iter


@pytest.mark.parametrize("chunk_size", [1, 4])
def test_max_iter_is_a_hard_bound(large_support_data, chunk_size):
    # budgets that are not multiples of check_every, single and batched lanes, exact and conjugate-gradient
    # solves on the support (the support here grows past 96 coordinates)
    X, y, _ = large_support_data
    for max_iter in (7, 23, 61):
        res = jaxl1.fit_path(X, y, n_lambdas=8, eps=0.01, tol=1e-14, max_iter=max_iter, chunk_size=chunk_size)
        assert int(np.max(res.n_iter)) <= max_iter
        assert not bool(res.converged.all())


def test_float32_in_float32_out(seeds_data):
    X, y = seeds_data
    res = jaxl1.fit(X.astype(np.float32), y.astype(np.float32), jaxl1.L1(0.1))
    assert res.coef.dtype == jnp.float32 and res.intercept.dtype == jnp.float32
    assert bool(res.converged)
    ref = sk_lasso(X, y, 0.1)
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-3, atol=1e-3)


def test_user_vmap_over_strengths_equals_loop(seeds_data):
    X, y = seeds_data
    lams = jnp.array([2.0, 0.5, 0.1])
    batched = jax.jit(jax.vmap(lambda lam: jaxl1.fit(X, y, jaxl1.L1(lam), tol=1e-10).coef))(lams)
    for lam, row in zip(lams, batched):
        np.testing.assert_allclose(row, jaxl1.fit(X, y, jaxl1.L1(lam), tol=1e-10).coef, atol=1e-6)


def test_warm_start_init(seeds_data):
    X, y = seeds_data
    first = jaxl1.fit(X, y, jaxl1.L1(0.1), tol=1e-12)
    again = jaxl1.fit(X, y, jaxl1.L1(0.1), tol=1e-12, init=first)
    assert int(again.n_iter) <= 10
    np.testing.assert_allclose(again.coef, first.coef, atol=1e-8)


def test_new_strength_does_not_retrace(seeds_data):
    from jaxl1.solver import _fit_jit

    X, y = seeds_data
    jaxl1.fit(X, y, jaxl1.L1(0.3))
    before = _fit_jit._cache_size()
    jaxl1.fit(X, y, jaxl1.L1(0.7))
    jaxl1.fit(X * 2, y, jaxl1.L1(1.7), tol=1e-5)
    assert _fit_jit._cache_size() == before


def test_degenerate_data_is_finite():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 6))
    X[:, 2] = 1.0  # constant column
    X[:, 4] = X[:, 3]  # duplicated column
    y = X[:, 0] + 0.1 * rng.standard_normal(40)
    res = jaxl1.fit(X, y, jaxl1.L1(0.05), tol=1e-10)
    coef = np.asarray(res.coef)
    assert np.all(np.isfinite(coef)) and coef[2] == 0 and bool(res.converged)
    const = jaxl1.fit(X, np.full(40, 3.0), jaxl1.L1(0.05))
    assert np.all(np.asarray(const.coef) == 0) and float(const.intercept) == pytest.approx(3.0)
    assert bool(const.converged)


def test_caller_arrays_not_modified(seeds_data):
    X, y = seeds_data
    X0, y0 = X.copy(), y.copy()
    jaxl1.fit(X, y, jaxl1.L1(0.1), sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(X=np.ones(5)), "X must be a 2-D"),
        (dict(y=np.ones(7)), "inconsistent numbers of samples"),
        (dict(X=np.full((10, 3), np.nan)), "X contains NaN"),
        (dict(y=np.r_[np.inf, np.ones(9)]), "y contains NaN"),
        (dict(sample_weight=np.ones(4)), "sample_weight must have shape"),
        (dict(sample_weight=-np.ones(10)), "sample_weight must be non-negative"),
        (dict(loss="hinge"), "loss must be one of"),
        (dict(loss="logistic", y=np.arange(10.0)), "labels in"),
        (dict(tol=-1.0), "tol must be"),
        (dict(max_iter=-3), "max_iter must be"),
        (dict(max_iter=10**10), "max_iter must be at most"),
    ],
)
def test_validation_errors(kwargs, match):
    args = dict(X=np.ones((10, 3)), y=np.ones(10), penalty=jaxl1.L1(0.1))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        jaxl1.fit(**args)


def test_negative_strength_rejected():
    with pytest.raises(ValueError, match="strength"):
        jaxl1.L1(-1.0)


def test_support_solve_gathers_a_small_support_of_a_large_problem():
    # 150 coefficients, a solution with a support of about 20: the exact solve on the support is
    # gathered into a POLISH_MAX system and must land on scikit-learn's solution from a perturbed point
    from jaxl1 import solvers as solver

    rng = np.random.default_rng(5)
    X = rng.standard_normal((120, 150))
    y = X[:, :8] @ rng.standard_normal(8) + 0.1 * rng.standard_normal(120)
    alpha = 0.1
    ref = sk_lasso(X, y, alpha, fit_intercept=False).coef_
    support = ref != 0
    assert 5 < support.sum() < solver.POLISH_MAX < X.shape[1]
    G, c = X.T @ X / len(y), X.T @ y / len(y)
    x = np.where(support, ref * (1 + 0.1 * rng.uniform(-1, 1, ref.shape)), 0.0)  # same signs, wrong values
    out = solver.support_solve(jnp.asarray(G), jnp.asarray(c), jnp.asarray(x), jaxl1.L1(alpha), False)
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-8, atol=1e-10)
    # a support larger than POLISH_MAX is left alone
    big = np.where(np.arange(150) < solver.POLISH_MAX + 1, 1.0, 0.0)
    out = solver.support_solve(jnp.asarray(G), jnp.asarray(c), jnp.asarray(big), jaxl1.L1(alpha), False)
    np.testing.assert_array_equal(np.asarray(out), big)


def test_support_solve_at_the_size_of_the_support():
    """Under ``sizes`` the support is gathered into the smallest system that holds it (16, 32 or the whole 50)
    and lands on scikit-learn's solution from a perturbed point with the same signs, for supports in each size;
    a sign that the solve would flip leaves the point alone."""
    from jaxl1 import solvers as solver
    from jaxl1.solvers._quadratic import solve_sizes

    rng = np.random.default_rng(12)
    X = rng.standard_normal((200, 50))
    y = X[:, :40] @ rng.standard_normal(40) + 0.5 * rng.standard_normal(200)
    G, c = X.T @ X / len(y), X.T @ y / len(y)
    assert solve_sizes(50) == [16, 32, 50] and solve_sizes(50, False) == [50] and solve_sizes(200) == [16, 32, 64, 96]
    solve = jax.jit(lambda x, a: solver.support_solve(jnp.asarray(G), jnp.asarray(c), x, jaxl1.L1(a), False,
                                                      sizes=[16, 32, 50]))
    counts = []
    for alpha in (1.5, 0.6, 0.05):
        ref = sk_lasso(X, y, alpha, fit_intercept=False).coef_
        x = np.where(ref != 0, ref * (1 + 0.1 * rng.uniform(-1, 1, ref.shape)), 0.0)
        np.testing.assert_allclose(np.asarray(solve(jnp.asarray(x), alpha)), ref, rtol=1e-8, atol=1e-10)
        counts.append(int(np.sum(ref != 0)))
        flipped = x.copy()
        flipped[np.flatnonzero(ref)[0]] *= -1
        np.testing.assert_array_equal(np.asarray(solve(jnp.asarray(flipped), alpha)), flipped)
    assert counts[0] <= 16 < counts[1] <= 32 < counts[2] <= 50, counts


def test_a_gram_matrix_beside_other_solves_takes_one_blas_thread():
    """numpy's Gram matrix keeps the BLAS's threads on the main thread and takes one from a thread pool's
    workers or inside ``side_by_side`` (solves running beside it), for as long as any is inside, then the
    threads come back (also after many calls from two workers at once); the product is the same either way."""
    import concurrent.futures
    import contextlib
    import threading

    threadpoolctl = pytest.importorskip("threadpoolctl")
    from jaxl1.solvers import _problem

    def blas_threads():
        return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]

    before = blas_threads()
    if max(before, default=1) <= 1:
        pytest.skip("no BLAS with several threads to limit")
    one = [1] * len(before)
    rng = np.random.default_rng(3)
    x, s = rng.standard_normal((300, 40)), rng.uniform(0.5, 2.0, 300)
    ref = (x * s[:, None]).T @ x
    seen, both_inside, release = [], threading.Barrier(3), threading.Event()
    real = _problem.one_blas_thread

    @contextlib.contextmanager
    def spy(apply=True):
        with real(apply):
            main = threading.current_thread() is threading.main_thread()
            seen.append((main, apply, blas_threads()))
            if not main:  # both workers inside at once, until the main thread has looked
                both_inside.wait()
                release.wait()
            yield

    _problem.one_blas_thread = spy
    try:
        np.testing.assert_allclose(_problem.numpy_gram(x, s), ref, rtol=1e-12)
        with _problem.side_by_side():
            np.testing.assert_allclose(_problem.numpy_gram(x, s), ref, rtol=1e-12)
        assert blas_threads() == before
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(_problem.numpy_gram, x, s) for _ in range(2)]
            both_inside.wait(timeout=120)
            assert blas_threads() == one  # while the workers are inside, for every thread
            release.set()
            outs = [f.result(timeout=120) for f in futures]
    finally:
        _problem.one_blas_thread = real
        release.set()
        both_inside.abort()
    for out in outs:
        np.testing.assert_allclose(out, ref, rtol=1e-12)
    assert seen[0] == (True, False, before) and seen[1] == (True, True, one)
    assert all(not main and apply and threads == one for main, apply, threads in seen[2:])
    assert blas_threads() == before  # back after the last one left
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for out in pool.map(lambda _: _problem.numpy_gram(x, s), range(20), timeout=120):
            np.testing.assert_allclose(out, ref, rtol=1e-12)
    assert blas_threads() == before


def test_a_large_gram_matrix_in_blocks_of_rows_equals_the_product(monkeypatch):
    """Above ``GRAM_SPLIT_MIN`` numpy's Gram matrix is summed from blocks of rows computed on threads of their own
    (one per core): the same matrix, weighted or not, for any number of rows (fewer than the cores too)."""
    from jaxl1.solvers import _problem

    monkeypatch.setattr(_problem, "GRAM_SPLIT_MIN", 0)
    monkeypatch.setattr(_problem.os, "cpu_count", lambda: 3)
    rng = np.random.default_rng(4)
    for n in (301, 2, 1):
        x = rng.standard_normal((n, 7))
        for s in (np.full(n, 1.0 / n), rng.uniform(0.0, 2.0, n)):
            np.testing.assert_allclose(_problem.numpy_gram(x, s), (x * s[:, None]).T @ x, rtol=1e-12, atol=1e-14)


def test_gram_matrix_blocks_equal_the_full_product():
    from jaxl1 import solvers as solver

    rng = np.random.default_rng(6)
    X = rng.standard_normal((40, solver.GRAM_BLOCK_MIN + 3))
    s = rng.uniform(0.5, 1.5, 40)
    G = np.asarray(solver.gram(jnp.asarray(X), jnp.asarray(X * s[:, None])))
    np.testing.assert_allclose(G, X.T @ (X * s[:, None]), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(G, G.T)


def test_host_gram_matrix_equals_the_product(monkeypatch):
    # a large product is numpy's on a CPU host: here every product is, by lowering the threshold
    from jaxl1 import solvers as solver
    from jaxl1.solvers import _problem

    monkeypatch.setattr(_problem, "GRAM_HOST_MIN", 0)
    rng = np.random.default_rng(9)
    X = rng.standard_normal((40, 7))
    S = rng.uniform(0.0, 1.5, (3, 40))
    expected = np.stack([X.T @ (X * s[:, None]) for s in S])
    one = np.asarray(jax.jit(solver.weighted_gram)(jnp.asarray(X), jnp.asarray(S[0])))
    np.testing.assert_allclose(one, expected[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(one, one.T)
    batched = jax.jit(jax.vmap(solver.weighted_gram, in_axes=(None, 0)))(jnp.asarray(X), jnp.asarray(S))
    np.testing.assert_allclose(batched, expected, rtol=1e-12, atol=1e-12)
    text = jax.jit(solver.weighted_gram).lower(jnp.asarray(X), jnp.asarray(S[0])).as_text()
    assert ("callback" in text) == (jax.default_backend() == "cpu")


def test_host_moments_give_the_rows_results(monkeypatch):
    """A large concrete X on a CPU takes its Gram matrix from numpy before the program (host_moments): fit,
    fit_path and cross_validate then give what the program's own Gram matrix gives (features far from zero,
    sample weights, with and without an intercept, two responses), and a constant column falls back to
    the rows' product."""
    from jaxl1.solvers import _problem

    rng = np.random.default_rng(12)
    n, p = 80, 6
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + np.array([1e3, -5.0, 0.0, 2e2, 1.0, -3e3])
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.standard_normal(n)
    Y = np.stack([y, X[:, 3] - X[:, 4] + rng.standard_normal(n)], axis=1)
    sw = rng.uniform(0.2, 2.0, n)
    X_const = X.copy()
    X_const[:, 2] = 0.4
    kw = dict(tol=1e-12, max_iter=100_000, form="gram")
    runs = {
        "fit": lambda X, y, fi, w: jaxl1.fit(X, y, jaxl1.L1(0.05), fit_intercept=fi, sample_weight=w, **kw).coef,
        "path": lambda X, y, fi, w: jaxl1.fit_path(X, y, n_lambdas=6, fit_intercept=fi, sample_weight=w, **kw).coef,
        "cv": lambda X, y, fi, w: jaxl1.cross_validate(X, y, n_folds=3, n_lambdas=6, fit_intercept=fi,
                                                       sample_weight=w, **kw).fold_scores,
    }
    cases = [(X, y, True, sw), (X, y, False, None), (X_const, y, True, None), (X, Y, True, sw)]
    expected = [[np.asarray(f(*case)) for f in runs.values()] for case in cases]
    calls = []
    real = _problem.host_moments
    monkeypatch.setattr(_problem, "GRAM_HOST_MIN", 0)
    for module in (jaxl1.solver, jaxl1.path):
        monkeypatch.setattr(module, "host_moments", lambda *a: calls.append(1) or real(*a))
    folds = jaxl1.path.fold_moments
    monkeypatch.setattr(jaxl1.path, "fold_moments", lambda *a, **k: calls.append(k.get("xp")) or folds(*a, **k))
    for case, want in zip(cases, expected):
        for (name, f), ref in zip(runs.items(), want):
            got = np.asarray(f(*case))
            np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10 * np.abs(ref).max(), err_msg=name)
    assert calls == [1, 1, np] * len(cases)  # fit, fit_path, and cross_validate's fold moments by numpy
    # the problem from the host's moments is the rows' problem
    s = sw / sw.sum()
    ref = _problem.prepare(jnp.asarray(X), jnp.asarray(y), jnp.asarray(s), loss="squared", fit_intercept=True,
                           form="gram")
    got = _problem.prepare(jnp.asarray(X), jnp.asarray(y), jnp.asarray(s), loss="squared", fit_intercept=True,
                           form="gram", moments=real(X, s, True))
    for a, b in zip((got.A, got.c, got.d, got.x_mean), (ref.A, ref.c, ref.d, ref.x_mean)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-11, atol=1e-12)


def test_programs_on_host_moments_hold_no_host_callback(monkeypatch, fresh_programs):
    # with the moments from numpy, fit's, fit_path's and the cross-validation runs' programs read X in XLA
    # only (the moments' fallback, the rows' product, included): a program holding a host callback is not
    # kept in JAX's persistent compilation cache, which the jaxl1 command and users rely on
    from jaxl1.solvers import _problem

    def refused(*args):
        raise AssertionError("a host callback in a program that has its moments")

    monkeypatch.setattr(_problem, "GRAM_HOST_MIN", 0)
    monkeypatch.setattr(_problem, "host_gram", refused)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((47, 6)) + 30.0
    X[:, 4] = np.where(np.arange(47) < 10, 1.0, 2.0)  # constant on some folds' training rows: the fallback
    y = X[:, :2] @ np.array([1.0, -1.0]) + rng.standard_normal(47)
    kw = dict(form="gram", tol=1e-10, max_iter=100_000)
    fit = jaxl1.fit(X, y, jaxl1.L1(0.05), **kw)
    sk = sk_lasso(X, y, 0.05)
    np.testing.assert_allclose(np.asarray(fit.coef), sk.coef_, rtol=1e-6, atol=1e-8)
    path = jaxl1.fit_path(X, y, n_lambdas=5, **kw)
    assert bool(np.all(path.converged))
    for threads in (2, 1):
        monkeypatch.setattr(jaxl1.path, "_run_threads", lambda arrays, devices, t=threads: t)
        cv = jaxl1.cross_validate(X, y, n_folds=3, n_lambdas=5, **kw)
        assert np.all(np.isfinite(np.asarray(cv.fold_scores)))


def test_one_pass_over_x_for_its_checks_and_host_moments(monkeypatch):
    # a call's finiteness check, magnitude check and host moments read the columns' peaks of one pass over X
    # (each call its own: a new X of the same shape, with a NaN or too large an entry, is refused)
    from jaxl1.solvers import _problem

    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 5))
    y = X[:, 0] + 0.1 * rng.standard_normal(60)
    passes = []
    real = _problem._peaks_of
    monkeypatch.setattr(_problem, "_peaks_of", lambda a: passes.append(a.shape) or real(a))
    monkeypatch.setattr(_problem, "GRAM_HOST_MIN", 0)
    moments = []
    host = jaxl1.path.host_moments
    monkeypatch.setattr(jaxl1.path, "host_moments", lambda *a: moments.append(1) or host(*a))
    Xj = jnp.asarray(X)
    path = jaxl1.fit_path(Xj, y, n_lambdas=4, form="gram")
    assert passes == [(60, 5)] and moments == [1]
    jaxl1.fit_path(Xj, y, n_lambdas=4, form="gram")  # the same array again: checked again
    assert passes == [(60, 5)] * 2
    np.testing.assert_allclose(host(Xj, jnp.full(60, 1 / 60), True)[3], np.abs(X).max(axis=0), rtol=0)
    for bad, match in ((np.nan, "NaN or infinity"), (-np.inf, "NaN or infinity"), (-1e300, "magnitude")):
        Xb = X.copy()
        Xb[7, 3] = bad
        with pytest.raises(ValueError, match=match):
            jaxl1.fit_path(Xb, y, n_lambdas=4, form="gram")
    assert bool(path.converged.all())


@pytest.fixture(scope="module")
def large_support_data():
    # a support of more than POLISH_MAX coordinates, where the solve on the support is conjugate gradients
    rng = np.random.default_rng(7)
    X = rng.standard_normal((400, 150))
    w = rng.standard_normal(150) * (rng.uniform(size=150) < 0.8)
    y = X @ w + 0.5 * rng.standard_normal(400)
    return X, y, w


@pytest.mark.parametrize("form", ["gram", "data"])
def test_large_support_matches_sklearn(large_support_data, form):
    from jaxl1 import solvers as solver

    X, y, _ = large_support_data
    alpha = 0.02
    res = jaxl1.fit(X, y, jaxl1.L1(alpha), form=form, tol=1e-12, max_iter=100_000)
    ref = sk_lasso(X, y, alpha)
    assert bool(res.converged)
    assert (ref.coef_ != 0).sum() > solver.POLISH_MAX
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(np.asarray(res.coef) == 0, ref.coef_ == 0)


def test_large_support_logistic_meets_optimality_conditions(large_support_data):
    # the data form's prox-Newton subproblem is matrix-free here (n > 2 p): Newton-CG on the support.
    # Reference: the optimality conditions themselves (liblinear takes minutes at this accuracy)
    from jaxl1 import solvers as solver

    X, _, w = large_support_data
    z = X @ w
    y = (np.random.default_rng(8).uniform(size=len(z)) < 1 / (1 + np.exp(-z / z.std()))).astype(float)
    n, lam = len(y), 0.002
    res = jaxl1.fit(X, y, jaxl1.L1(lam), loss="logistic", fit_intercept=False, tol=1e-12, max_iter=200_000)
    coef = np.asarray(res.coef)
    assert bool(res.converged)
    assert (coef != 0).sum() > solver.POLISH_MAX
    g = X.T @ (1 / (1 + np.exp(-(X @ coef))) - y) / n  # gradient of the mean logistic loss
    on = coef != 0
    np.testing.assert_allclose(g[on], -lam * np.sign(coef[on]), rtol=0, atol=1e-7 * lam)
    assert np.all(np.abs(g[~on]) <= lam * (1 + 1e-7))


def test_batched_path_lanes_with_a_large_support(large_support_data):
    # chunks of vmapped lanes (the accelerator default) take the batched branch of the solver: the same
    # path as one lane at a time, and lanes that have stopped do not run on
    X, y, _ = large_support_data
    kw = dict(n_lambdas=8, eps=0.01, tol=1e-10, max_iter=50_000)
    one = jaxl1.fit_path(X, y, chunk_size=1, **kw)
    lanes = jaxl1.fit_path(X, y, chunk_size=4, **kw)
    assert bool(one.converged.all()) and bool(lanes.converged.all())
    assert int((np.asarray(lanes.coef[-1]) != 0).sum()) > 96
    np.testing.assert_allclose(lanes.coef, one.coef, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("form", ["gram", "data"])
def test_working_set_smaller_than_the_support_converges(large_support_data, form):
    # a support of over 100 coordinates and rounds on 32 of them: every round must include the worst
    # violations of the optimality conditions (else the nonzero coordinates fill the working set for good)
    X, y, _ = large_support_data
    alpha = 0.02
    res = jaxl1.fit(X, y, jaxl1.L1(alpha), form=form, ws_size=32, tol=1e-12, max_iter=200_000)
    ref = sk_lasso(X, y, alpha)
    assert bool(res.converged)
    assert (ref.coef_ != 0).sum() > 3 * 32
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------- #
# stopping short is visible
# --------------------------------------------------------------------------- #
def test_stopping_at_max_iter_warns_and_says_why(seeds_data):
    X, y = seeds_data
    with pytest.warns(jaxl1.ConvergenceWarning, match="max_iter=2"):
        res = jaxl1.fit(X, y, jaxl1.L1(0.1), max_iter=2, ws_size=0)
    assert not bool(res.converged) and jaxl1.STATUS[int(res.status)] == "max_iter"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = jaxl1.fit(X, y, jaxl1.L1(0.1))
        # under a trace nothing is emitted: converged and status tell
        traced = jax.jit(lambda lam: jaxl1.fit(X, y, jaxl1.L1(lam), max_iter=2, ws_size=0))(0.1)
    assert jaxl1.STATUS[int(ok.status)] == "converged"
    assert int(traced.status) == 1
    with pytest.warns(jaxl1.ConvergenceWarning, match=r"jaxl1.fit_path: \d+ of 100 solves"):
        path = jaxl1.fit_path(X, y, max_iter=2, ws_size=0)
    np.testing.assert_array_equal(np.asarray(path.status), np.where(np.asarray(path.converged), 0, 1))
    with pytest.warns(jaxl1.ConvergenceWarning, match="fold fits"):
        jaxl1.cross_validate(X, y, n_lambdas=10, max_iter=2, ws_size=0)


def test_status_names_non_finite_values():
    res = jaxl1.FitResult(jnp.array([1.0, jnp.nan]), jnp.array(0.0), jnp.array(jnp.nan), jnp.array(5),
                          jnp.array(False))
    assert jaxl1.STATUS[int(res.status)] == "nonfinite"
    with pytest.warns(jaxl1.ConvergenceWarning, match="non-finite"):
        jaxl1.solver.warn_if_stopped("test", res.status, 5)


@pytest.fixture
def fresh_programs():
    # a module constant read when tracing: the programs compiled before (and those compiled here) are dropped
    jax.clear_caches()
    yield
    jax.clear_caches()


def _numpy_path_gaps(X, y, path):
    """Each strength's duality gap relative to P0, by :func:`lasso_gap` (uniform weights, with an intercept)."""
    s = np.full(len(y), 1.0 / len(y))
    P0 = 0.5 * np.sum(s * (y - y.mean()) ** 2)
    return np.array([lasso_gap(X, y, np.asarray(w), float(b), float(lam), s) / P0
                     for w, b, lam in zip(path.coef, path.intercept, path.lambdas)])


def test_gram_rounds_take_float32_products_and_keep_the_float64_certificate(large_support_data, monkeypatch,
                                                                            fresh_programs):
    # a float64 solve in the Gram form takes a round's inner products with a float32 copy of the Gram matrix,
    # on the increment from the round's start (whose gradient is float64): the result is scikit-learn's, and
    # an independent gap certifies it
    from jaxl1.solvers import _problem, _working_set

    monkeypatch.setattr(_problem, "LOW_GRAM_MIN", 0)  # (150 columns: by default float64 products throughout)
    seen = []
    quad_solve = _working_set.quad_solve

    def spy(*args, low=None, **kw):
        seen.append(None if low is None else low[0].dtype)
        return quad_solve(*args, low=low, **kw)

    monkeypatch.setattr(_working_set, "quad_solve", spy)
    X, y, _ = large_support_data
    alpha, n = 0.02, len(y)
    res = jaxl1.fit(X, y, jaxl1.L1(alpha), form="gram", tol=1e-12, max_iter=100_000)
    assert jnp.float32 in seen
    assert bool(res.converged) and int((np.asarray(res.coef) != 0).sum()) > 96  # conjugate gradients too
    ref = sk_lasso(X, y, alpha)
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-6, atol=1e-8)
    s = np.full(n, 1.0 / n)
    P0 = 0.5 * np.sum(s * (y - y.mean()) ** 2)
    assert lasso_gap(X, y, np.asarray(res.coef), float(res.intercept), alpha, s) <= 1e-11 * P0
    # the float32 products ran (not only compiled): float64 throughout reaches the same point by other roundings
    monkeypatch.setattr(_problem, "LOW_PRECISION", False)
    jax.clear_caches()
    full = jaxl1.fit(X, y, jaxl1.L1(alpha), form="gram", tol=1e-12, max_iter=100_000)
    np.testing.assert_allclose(res.coef, full.coef, rtol=1e-8, atol=1e-10)
    assert not np.array_equal(np.asarray(res.coef), np.asarray(full.coef))


@pytest.mark.parametrize("case", ["enet_weighted", "positive"])
def test_float32_products_with_the_l2_part_sample_weights_and_a_box(large_support_data, monkeypatch, fresh_programs,
                                                                    case):
    # the float32 products under the elastic net's L2 part (in the conjugate gradients' operator), sample weights
    # and a box (whose solve on the support stays float64): scikit-learn's results
    from jaxl1.solvers import _problem, _working_set

    monkeypatch.setattr(_problem, "LOW_GRAM_MIN", 0)
    seen = []
    quad_solve = _working_set.quad_solve
    monkeypatch.setattr(_working_set, "quad_solve",
                        lambda *a, low=None, **k: seen.append(low is not None) or quad_solve(*a, low=low, **k))
    X, y, _ = large_support_data
    kw = dict(form="gram", tol=1e-12, max_iter=100_000)
    if case == "enet_weighted":
        sw = np.random.default_rng(4).uniform(0.2, 2.0, len(y))
        run = lambda: jaxl1.fit(X, y, jaxl1.ElasticNet(0.02, 0.5), sample_weight=sw, **kw)
        ref = ElasticNet(alpha=0.02, l1_ratio=0.5, tol=1e-14, max_iter=1_000_000).fit(X, y, sample_weight=sw)
    else:
        run = lambda: jaxl1.fit(X, y, jaxl1.L1(0.02), bounds=(0, None), **kw)
        ref = Lasso(alpha=0.02, positive=True, tol=1e-14, max_iter=1_000_000).fit(X, y)
    res = run()
    assert any(seen) and bool(res.converged)
    np.testing.assert_allclose(res.coef, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(float(res.intercept), ref.intercept_, rtol=1e-8, atol=1e-8)
    # the rounds' conjugate gradients on the increment are the float64 ones' (a wrong residual would be rejected
    # by the float64 KKT test, and show as more iterations: 190 against 80 without the L2 part in it)
    monkeypatch.setattr(_problem, "LOW_PRECISION", False)
    jax.clear_caches()
    assert int(res.n_iter) <= 1.25 * int(run().n_iter) + 10


def test_a_non_finite_float32_round_is_undone(large_support_data, monkeypatch, fresh_programs):
    # a float32 copy that overflows (forced here: an infinite entry, marked usable) makes a round non-finite;
    # the round is undone and float64 products finish the solve: scikit-learn's result, not NaN
    from jaxl1.solvers import _problem

    monkeypatch.setattr(_problem, "low_gram", lambda A, c: (A.astype(jnp.float32).at[0, 0].set(jnp.inf),
                                                            jnp.asarray(True)))
    X, y, _ = large_support_data
    res = jaxl1.fit(X, y, jaxl1.L1(0.02), form="gram", tol=1e-12, max_iter=100_000)
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, sk_lasso(X, y, 0.02).coef_, rtol=1e-6, atol=1e-8)


def test_float32_products_give_way_to_float64_on_an_ill_conditioned_problem(monkeypatch, fresh_programs):
    # pairs of columns 1e-3 apart: a float32 Gram matrix cannot resolve their difference, so a round in
    # float32 stalls; the solve's later rounds then take float64 products and meet tol=1e-10 (without that,
    # a strength stopped at max_iter)
    from jaxl1.solvers import _problem

    monkeypatch.setattr(_problem, "LOW_GRAM_MIN", 0)
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((200, 60))
    X = np.concatenate([Z, Z + 1e-3 * rng.standard_normal(Z.shape)], axis=1)
    w = np.zeros(120)
    w[:10], w[60:70] = rng.standard_normal(10), rng.standard_normal(10)
    y = X @ w + 0.1 * rng.standard_normal(200)
    path = jaxl1.fit_path(X, y, n_lambdas=20, tol=1e-10)
    assert bool(path.converged.all())
    assert np.all(_numpy_path_gaps(X, y, path) <= 1e-9)
    # float32 was tried (the iterations differ from float64's throughout), and given up where it stalled
    monkeypatch.setattr(_problem, "LOW_PRECISION", False)
    jax.clear_caches()
    full = jaxl1.fit_path(X, y, n_lambdas=20, tol=1e-10)
    assert bool(full.converged.all()) and not np.array_equal(np.asarray(path.n_iter), np.asarray(full.n_iter))


def test_a_rounds_inner_tolerance_follows_the_outer_gap():
    # the gap falls about as the square of the KKT residual: from a gap g far above the target t a round aims
    # 0.03 sqrt(t / g) below its starting residual (within [1e-4, the plain ratio]); a gap that is not finite
    # or a target of 0 leaves the plain ratio
    from jaxl1.solvers._working_set import gap_ratio

    t = 1e-6
    cases = {10 * t: 0.03 * np.sqrt(0.1), 1e3 * t: 0.03 * np.sqrt(1e-3), 1e7 * t: 1e-4, 0.5 * t: 0.01,
             np.inf: 0.01, np.nan: 0.01}
    for gap, want in cases.items():
        np.testing.assert_allclose(float(gap_ratio(0.01, jnp.asarray(gap), t)), want, rtol=1e-12, err_msg=str(gap))
    assert float(gap_ratio(0.01, jnp.asarray(1.0), 0.0)) == 0.01


def test_a_float32_round_stops_where_its_residual_stalls():
    # float32 200x5000 path: a round's inner tolerance (from the outer residual) can sit below the products'
    # rounding; the round then ran its whole budget, 20,000 iterations for one strength (now: at most 420)
    rng = np.random.default_rng(1)
    n, p = 200, 5000
    Z = rng.standard_normal((n, p))
    X = np.empty((n, p))
    X[:, 0] = Z[:, 0]
    for j in range(1, p):  # AR(1) columns, rho 0.5
        X[:, j] = 0.5 * X[:, j - 1] + np.sqrt(0.75) * Z[:, j]
    X = (X - X.mean(0)) / X.std(0)
    w = np.zeros(p)
    w[rng.choice(p, size=10, replace=False)] = rng.choice([-1.0, 1.0], 10) * (1 + rng.random(10))
    signal = X @ w
    noise = rng.standard_normal(n)
    y = signal + noise * (np.linalg.norm(signal) / (3 * np.linalg.norm(noise)))
    y = y - y.mean()
    path = jaxl1.fit_path(X.astype(np.float32), y.astype(np.float32), n_lambdas=100, eps=1e-2, fit_intercept=False)
    assert bool(path.converged.all()) and int(np.max(path.n_iter)) < 2000, np.asarray(path.n_iter)
    # the objectives within float32's reach of float64's (numpy)
    lam = np.asarray(path.lambdas, dtype=np.float64)
    ref = jaxl1.fit_path(X, y, lambdas=lam, fit_intercept=False, tol=1e-10)

    def objective(W):
        R = y[None, :] - np.asarray(W, dtype=np.float64) @ X.T
        return 0.5 * np.mean(R**2, axis=1) + lam * np.abs(np.asarray(W, dtype=np.float64)).sum(axis=1)

    P32, P64 = objective(path.coef), objective(ref.coef)
    assert np.all(P32 - P64 <= 2e-4 * objective(np.zeros((1, p)))), np.max((P32 - P64) / objective(np.zeros((1, p))))


def test_quad_solve_ends_a_stalled_float32_round_plain_and_batched():
    # a tolerance of 0 is out of reach: float32 stops once the residual stops falling, float64 runs its budget
    from jaxl1.solvers._quadratic import quad_solve

    rng = np.random.default_rng(3)
    A = rng.standard_normal((60, 40))
    H64, Q64 = A.T @ A / 60, rng.standard_normal((3, 40))
    pen = jaxl1.L1(0.05)

    def run(dtype, batched):
        H, Q = jnp.asarray(H64, dtype), jnp.asarray(Q64, dtype)
        solve = lambda q: quad_solve(H, q, jnp.zeros(40, dtype), pen, jnp.zeros([], dtype), 3000, fit_b=False,
                                     check_every=10, batched=batched)
        x, it = jax.jit(jax.vmap(solve))(Q) if batched else jax.jit(solve)(Q[0])
        return np.asarray(x), np.atleast_1d(np.asarray(it))

    for batched in (False, True):
        x32, it32 = run(jnp.float32, batched)
        x64, it64 = run(jnp.float64, batched)
        assert np.all(it32 < 500) and np.all(it64 == 3000), (batched, it32, it64)
        np.testing.assert_allclose(x32, x64, atol=1e-4)  # float32's solution, where it stopped

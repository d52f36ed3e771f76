"""``jaxl1.stability_selection``: selection probabilities against a plain loop of scikit-learn's ``lasso_path``
on the very same subsamples, the error bound from its formula, and the refusals."""

import numpy as np
import pytest
from sklearn.linear_model import lasso_path

import jaxl1

N, P, B, K = 200, 500, 20, 25
TRUE = np.arange(0, 500, 50)  # 10 true features among 500 correlated ones


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(3)
    # Toeplitz-like correlation 0.5^|i-j| through an AR(1) recursion over the columns
    Z = rng.standard_normal((N, P))
    X = np.empty_like(Z)
    X[:, 0] = Z[:, 0]
    for j in range(1, P):
        X[:, j] = 0.5 * X[:, j - 1] + np.sqrt(1 - 0.25) * Z[:, j]
    X = X * rng.uniform(0.5, 2.0, P)  # unequal column scales
    beta = np.zeros(P)
    beta[TRUE] = rng.choice([-1.0, 1.0], TRUE.size) * rng.uniform(1.0, 2.0, TRUE.size) / X[:, TRUE].std(0)
    y = X @ beta + 0.8 * rng.standard_normal(N) + 3.0
    return X, y


def _sklearn_probabilities(X, y, rows, factors, lambdas):
    """The loop a user would write: for each subsample, center its rows, scale the columns by the factors
    (a penalty factor f_j on |b_j| is the lasso on the column X_j / f_j) and call ``lasso_path``."""
    counts = np.zeros((lambdas.size, X.shape[1]))
    for r, f in zip(rows, factors):
        Xs, ys = X[r] / f, y[r]
        Xs, ys = Xs - Xs.mean(0), ys - ys.mean()
        _, coefs, _ = lasso_path(Xs, ys, alphas=lambdas, tol=1e-13, max_iter=200_000)
        counts += (coefs.T != 0)
    return counts / len(rows)


@pytest.mark.parametrize("weakness", [1.0, 0.5])
def test_probabilities_match_a_loop_of_sklearn_lasso_path(problem, weakness):
    X, y = problem
    res = jaxl1.stability_selection(X, y, n_subsamples=B, n_lambdas=K, eps=0.05, weakness=weakness, random_state=1,
                                    tol=1e-12, max_iter=100_000, max_selected=20)
    assert res.probabilities.shape == (K, P) and res.subsamples.shape == (B, N // 2)
    assert bool(res.converged.all())
    rows, factors, lambdas = np.asarray(res.subsamples), np.asarray(res.factors), np.asarray(res.lambdas)
    assert all(np.unique(r).size == N // 2 for r in rows)
    if weakness == 1.0:
        assert np.all(factors == 1.0)
    else:  # 1 / W with W uniform in [weakness, 1]
        assert factors.min() >= 1.0 and factors.max() <= 1.0 / weakness and factors.std() > 0.1
    # the grid is the full data's: lambda_max of all the rows
    Xc, yc = X - X.mean(0), y - y.mean()
    np.testing.assert_allclose(lambdas[0], np.abs(Xc.T @ yc).max() / N, rtol=1e-10)
    ref = _sklearn_probabilities(X, y, rows, factors, lambdas)
    probs = np.asarray(res.probabilities)
    np.testing.assert_allclose(probs[:, TRUE], ref[:, TRUE], atol=1e-6)
    np.testing.assert_allclose(probs, ref, atol=1e-6)  # the noise features' too
    assert 0 < probs[:, TRUE].max() and probs[-1, TRUE].min() > 0.5
    # what the result derives, recomputed from the probabilities and the reference's supports
    region = np.asarray(res.average_selected) <= 20
    assert region[0] and np.all(np.diff(np.asarray(res.average_selected)) >= 0)
    q = np.asarray(res.average_selected)[region].max()
    np.testing.assert_allclose(float(res.expected_false_selections), q**2 / ((2 * 0.9 - 1) * P), rtol=1e-12)
    stable = np.flatnonzero(probs[region].max(0) >= 0.9)
    np.testing.assert_array_equal(res.stable_set, stable)
    assert set(stable) <= set(TRUE) and len(stable) >= 5


def test_average_selected_is_the_mean_size_of_the_cumulative_union(problem):
    X, y = problem
    rows = np.random.default_rng(5).permuted(np.tile(np.arange(N), (4, 1)), axis=1)[:, :120]
    res = jaxl1.stability_selection(X, y, subsamples=rows, lambdas=np.geomspace(0.5, 0.05, 6), threshold=0.75)
    assert res.subsamples.shape == (4, 120)
    sizes = []
    for r in np.sort(rows, axis=1):
        path = jaxl1.fit_path(X[r], y[r], lambdas=res.lambdas)
        sizes.append((np.cumsum(np.asarray(path.coef) != 0, axis=0) > 0).sum(1))
        np.testing.assert_array_equal(np.asarray(path.converged), True)
    np.testing.assert_allclose(np.asarray(res.average_selected), np.mean(sizes, axis=0), atol=1e-12)
    assert res.region.all() and res.max_selected is None


@pytest.mark.parametrize("kwargs, match", [
    (dict(threshold=0.5), "threshold must be a number in \\(0.5, 1\\)"),
    (dict(threshold=1.0), "threshold must be a number in \\(0.5, 1\\)"),
    (dict(threshold=True), "threshold"),
    (dict(n_subsamples=3, threshold=0.6), "n_subsamples=3 is too few subsamples for the bound"),
    (dict(n_subsamples=0), "n_subsamples"),
    (dict(fraction=1.0), "fraction must be a number in \\(0, 1\\)"),
    (dict(fraction=0.001), "fraction=0.001 of n=200 rows leaves a subsample"),
    (dict(weakness=0.0), "weakness must be a number in \\(0, 1\\]"),
    (dict(weakness=1.5), "weakness"),
    (dict(weakness=0.5, positive=True), "weakness < 1 .* positive=True"),
    (dict(max_selected=0), "max_selected must be a positive number"),
    (dict(subsamples=np.zeros((3, 5))), "subsamples must hold integer row indices"),
    (dict(subsamples=np.array([[0, 1, 200]] * 20)), "subsamples must hold row indices in \\[0, 200\\)"),
    (dict(subsamples=np.array([[0, 1, 1]] * 20)), "subsamples must not repeat a row"),
    (dict(subsamples=np.arange(5)), "subsamples must be a \\(B, m\\) array"),
])
def test_bad_input_is_refused_naming_the_argument(problem, kwargs, match):
    X, y = problem
    with pytest.raises(ValueError, match=match):
        jaxl1.stability_selection(X, y, **kwargs)


def test_a_subsample_that_cannot_be_fitted_is_refused(problem):
    X, y = problem
    labels = (np.arange(N) >= 150).astype(float)  # the first 150 rows hold one class
    with pytest.raises(ValueError, match="y has a single class .* in subsample 1"):
        jaxl1.stability_selection(X, labels, loss="logistic", subsamples=np.array([[0, 160, 170], [0, 1, 2]] * 10))
    counts = np.zeros(N)
    counts[150:] = 2.0
    with pytest.raises(ValueError, match="y is all zero in subsample 1"):
        jaxl1.stability_selection(X, counts, loss="poisson", subsamples=np.array([[0, 160, 170], [0, 1, 2]] * 10))
    classes = np.zeros(N, int)
    classes[160:] = 1 + np.arange(40) % 2
    with pytest.raises(ValueError, match="single class in subsample 1.*multinomial"):
        jaxl1.stability_selection(X, classes, loss="multinomial",
                                  subsamples=np.array([[0, 160, 171], [0, 1, 2]] * 10))
    w = np.ones(N)
    w[:10] = 0
    with pytest.raises(ValueError, match="sample_weight: a subsample has only rows of zero weight"):
        jaxl1.stability_selection(X, y, sample_weight=w, subsamples=np.array([[0, 1, 2], [3, 60, 70]] * 10))


def test_inputs_are_not_mutated_and_the_draw_is_reproducible(problem):
    X, y = problem
    X0, y0 = X.copy(), y.copy()
    kw = dict(n_subsamples=5, lambdas=[0.3, 0.1], threshold=0.75, random_state=7, weakness=0.7)
    a, b = jaxl1.stability_selection(X, y, **kw), jaxl1.stability_selection(X, y, **kw)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(a.subsamples, b.subsamples)
    np.testing.assert_array_equal(a.factors, b.factors)
    np.testing.assert_array_equal(a.probabilities, b.probabilities)


@pytest.mark.parametrize("kw", [dict(groups=np.repeat(np.arange(5), 2)), dict(penalty="mcp", gamma=3.0)],
                         ids=["groups", "mcp"])
def test_group_and_mcp_selection_against_a_loop(kw):
    """The group lasso and MCP: the probabilities against a loop of fit_path on the same subsamples (whose
    group and MCP paths are tested against celer, skglm and numpy coordinate descent elsewhere)."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    res = jaxl1.stability_selection(X, y, n_subsamples=12, n_lambdas=15, threshold=0.8, random_state=3,
                                    tol=1e-11, **kw)
    counts = np.zeros((15, 10))
    for rows in np.asarray(res.subsamples):
        path = jaxl1.fit_path(X[rows], y[rows], lambdas=res.lambdas, tol=1e-11, **kw)
        counts += np.asarray(path.coef) != 0
    np.testing.assert_allclose(res.probabilities, counts / 12, atol=1e-12)
    if "groups" in kw:  # a group is selected whole
        P = np.asarray(res.probabilities)
        np.testing.assert_array_equal(P[:, ::2], P[:, 1::2])
    with pytest.raises(ValueError, match="weakness"):
        jaxl1.stability_selection(X, y, n_subsamples=12, weakness=0.5, groups=np.repeat(np.arange(5), 2))


def test_subsamples_in_threads_give_the_programs_result(problem, monkeypatch):
    """Concrete inputs on one CPU device: the subsamples' paths are calls of one compiled run from several
    threads; the probabilities, average sizes and convergence flags are those of the single program
    (``JAXL1_CV_THREADS=1``), randomized weights included."""
    from jaxl1 import path as path_module

    X, y = problem
    rows = np.random.default_rng(4).permuted(np.tile(np.arange(N), (6, 1)), axis=1)[:, : N // 2]
    kw = dict(subsamples=rows, lambdas=np.geomspace(0.5, 0.05, 6), weakness=0.5, random_state=2)
    monkeypatch.setattr(path_module.os, "cpu_count", lambda: 2)
    threaded = jaxl1.stability_selection(X[:, :60], y, **kw)
    monkeypatch.setenv("JAXL1_CV_THREADS", "1")
    one = jaxl1.stability_selection(X[:, :60], y, **kw)
    for name in ("probabilities", "average_selected", "converged"):
        np.testing.assert_array_equal(np.asarray(getattr(threaded, name)), np.asarray(getattr(one, name)), name)
    assert 0 < float(np.asarray(threaded.probabilities).mean()) < 1


def test_a_first_call_compiles_its_programs_only(monkeypatch, compiles):
    """A first call on a new shape compiles the grid's program and the subsamples' path program (and one small
    program of the data check), not one program per eager operation on the results (there were 7 more)."""
    import jax

    monkeypatch.setattr(jaxl1.stability, "_run_threads", lambda arrays, devices: 2)  # as on CI's 2 cores
    rng = np.random.default_rng(4)
    X = rng.standard_normal((43, 9))
    y = X[:, 1] - X[:, 4] + rng.standard_normal(43)
    compiles.clear()
    res = jaxl1.stability_selection(X, y, n_subsamples=20, n_lambdas=7)
    jax.block_until_ready(res.probabilities)
    assert len(compiles) <= 3
    assert res.probabilities.shape == (7, 9) and bool(np.all(np.asarray(res.converged)))

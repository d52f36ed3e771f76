"""``lambda_max``, ``fit_path`` and ``cross_validate`` against scikit-learn (float64)."""

import inspect
import os
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_classification
from sklearn.linear_model import Lasso, LassoCV, LogisticRegression, enet_path, lasso_path
from sklearn.model_selection import KFold

import jaxl1


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 120))
    w = np.zeros(120)
    w[:6] = [2.0, -1.5, 1.0, 0.8, -0.5, 0.3]
    return X, X @ w + 0.2 * rng.standard_normal(40)


def centred(X, y):
    return X - X.mean(0), y - y.mean()


def path_gaps(X, y, coef, intercept, lambdas, l1_ratio=1.0):
    """Independent elastic-net duality gaps (numpy, 1/(2n) scaling, rescaled residual)."""
    n = len(y)
    out = []
    for w, b, lam in zip(coef, intercept, lambdas):
        r = y - X @ w - b
        a, mu = lam * l1_ratio, lam * (1 - l1_ratio)
        primal = 0.5 * r @ r / n + a * np.abs(w).sum() + 0.5 * mu * w @ w
        u = (r - r.mean()) / n
        v = X.T @ u
        if mu > 0:
            scale, conj = 1.0, np.sum(np.maximum(np.abs(v) - a, 0) ** 2) / (2 * mu)
        else:
            scale, conj = max(1.0, np.abs(v).max() / a), 0.0
        theta = u / scale
        dual = theta @ y - 0.5 * n * theta @ theta - conj / scale**2
        out.append(primal - dual)
    return np.array(out)


def test_lambda_max_boundary(diabetes):
    X, y = diabetes
    lmax = float(jaxl1.lambda_max(X, y))
    Xc, yc = centred(X, y)
    assert lmax == pytest.approx(np.abs(Xc.T @ yc).max() / len(y), rel=1e-12)
    at = jaxl1.fit(X, y, jaxl1.L1(lmax), tol=1e-12)
    below = jaxl1.fit(X, y, jaxl1.L1(0.98 * lmax), tol=1e-12)
    assert np.all(np.asarray(at.coef) == 0)
    assert np.any(np.asarray(below.coef) != 0)


def test_lambda_max_logistic_and_elastic_net():
    X, y = make_classification(n_samples=120, n_features=6, random_state=1)
    lmax = float(jaxl1.lambda_max(X, y.astype(float), loss="logistic"))
    at = jaxl1.fit(X, y, jaxl1.L1(lmax), loss="logistic", tol=1e-10)
    below = jaxl1.fit(X, y, jaxl1.L1(0.98 * lmax), loss="logistic", tol=1e-10)
    assert np.all(np.asarray(at.coef) == 0) and np.any(np.asarray(below.coef) != 0)
    Xd, yd = load_diabetes(return_X_y=True)
    assert float(jaxl1.lambda_max(Xd, yd, l1_ratio=0.5)) == pytest.approx(2 * float(jaxl1.lambda_max(Xd, yd)))


def test_fit_path_matches_lasso_path(diabetes):
    X, y = diabetes
    path = jaxl1.fit_path(X, y, n_lambdas=30, tol=1e-12, max_iter=200_000)
    Xc, yc = centred(X, y)
    alphas, coefs, _ = lasso_path(Xc, yc, alphas=np.asarray(path.lambdas), tol=1e-14, max_iter=10**6)
    np.testing.assert_allclose(path.lambdas, alphas)
    np.testing.assert_allclose(path.coef, coefs.T, rtol=1e-6, atol=1e-6 * np.abs(coefs).max())
    np.testing.assert_array_equal(np.asarray(path.coef) == 0, coefs.T == 0)
    np.testing.assert_allclose(path.intercept, y.mean() - np.asarray(path.coef) @ X.mean(0), rtol=1e-10)
    assert bool(path.converged.all())
    pred = path.predict(X)
    assert pred.shape == (len(y), 30)
    np.testing.assert_allclose(pred[:, 7], X @ path.coef[7] + path.intercept[7])


@pytest.mark.parametrize("chunk_size", [1, 4])
def test_reported_gaps_are_true_gaps(diabetes, chunk_size):
    X, y = diabetes
    tol = 1e-6
    path = jaxl1.fit_path(X, y, n_lambdas=30, tol=tol, chunk_size=chunk_size)
    gaps = path_gaps(X, y, np.asarray(path.coef), np.asarray(path.intercept), np.asarray(path.lambdas))
    p0 = 0.5 * np.mean((y - y.mean()) ** 2)
    assert np.all(gaps <= tol * p0 * (1 + 1e-8))
    np.testing.assert_allclose(path.gap, gaps, rtol=1e-6, atol=1e-9 * p0)


def test_fit_path_matches_enet_path_wide(wide):
    X, y = wide
    path = jaxl1.fit_path(X, y, l1_ratio=0.7, n_lambdas=15, eps=1e-2, tol=1e-13, max_iter=500_000)
    Xc, yc = centred(X, y)
    alphas, coefs, _ = enet_path(Xc, yc, l1_ratio=0.7, alphas=np.asarray(path.lambdas), tol=1e-14, max_iter=10**6)
    # a gap of 1e-13 * P0 bounds the objective; the coefficients agree to a few 1e-6
    np.testing.assert_allclose(path.coef, coefs.T, atol=5e-6)
    gaps = path_gaps(X, y, np.asarray(path.coef), np.asarray(path.intercept), np.asarray(path.lambdas), 0.7)
    assert np.all(gaps <= 1e-13 * 0.5 * np.mean(yc**2) * 1.01)


def test_logistic_path_matches_sklearn():
    X, y = make_classification(n_samples=150, n_features=6, n_informative=3, random_state=2)
    y = y.astype(float)
    # below lambda_max: at lambda_max saga stops before its intercept is optimal
    lams = np.asarray(jaxl1.lambda_grid(0.9 * jaxl1.lambda_max(X, y, loss="logistic"), 5, 1e-2))
    path = jaxl1.fit_path(X, y, loss="logistic", lambdas=lams, tol=1e-12, max_iter=200_000)
    assert bool(path.converged.all())
    for lam, w, b in zip(lams, path.coef, path.intercept):
        ref = LogisticRegression(l1_ratio=1.0, C=1 / (len(y) * lam), solver="saga", tol=1e-12, max_iter=10**5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.fit(X, y)
        np.testing.assert_allclose(w, ref.coef_[0], atol=1e-5)
        np.testing.assert_allclose(b, ref.intercept_[0], atol=1e-5)


def test_new_lambdas_do_not_retrace(diabetes):
    from jaxl1.path import _path_jit

    X, y = diabetes
    jaxl1.fit_path(X, y, n_lambdas=12)
    before = _path_jit._cache_size()
    jaxl1.fit_path(X, y, lambdas=np.geomspace(3.0, 0.01, 12))
    jaxl1.fit_path(X + 1.0, y, n_lambdas=12, tol=1e-4, max_iter=500)
    assert _path_jit._cache_size() == before


def test_a_first_call_compiles_a_few_programs(monkeypatch, compiles):
    """On a shape no other test uses, the first fit compiles its solver program only, the first fit_path its
    grid's program and its solver program, and a cross_validate on the same data then only the program of
    its held-out scores: its runs are calls of fit_path's program.  Not one program per eager operation
    (each about 20 ms on a CPU: the data's conversion, the result checks and the cross-validation summary
    ran eagerly, 10 to 16 more per call)."""
    from jaxl1.path import _path_jit

    monkeypatch.setattr(jaxl1.path, "_run_threads", lambda arrays, devices: 2)  # as on CI's 2 cores
    runs = []
    monkeypatch.setattr(jaxl1.path, "_path_jit", lambda *a, **k: runs.append(1) or _path_jit(*a, **k))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((37, 7))
    y = X[:, 0] + rng.standard_normal(37)
    for call, count in ((lambda: jaxl1.fit(X, y, jaxl1.L1(0.1)), 1), (lambda: jaxl1.fit_path(X, y, n_lambdas=9), 2),
                        (lambda: jaxl1.cross_validate(X, y, n_folds=3, n_lambdas=9), 1)):
        compiles.clear()
        paths = _path_jit._cache_size()
        jax.block_until_ready(call())
        # (with the opt-in persistent cache, JAXL1_TEST_CACHE, a program found on disk compiles nothing)
        assert len(compiles) <= count if os.environ.get("JAXL1_TEST_CACHE") else len(compiles) == count
    assert _path_jit._cache_size() == paths  # cross_validate found fit_path's program
    assert len(runs) == 1 + 4  # fit_path's call, and cross_validate's three folds and full path


def test_float32_path(diabetes):
    X, y = diabetes
    path = jaxl1.fit_path(X.astype(np.float32), y.astype(np.float32), n_lambdas=10)
    assert path.coef.dtype == jnp.float32 and path.lambdas.dtype == jnp.float32
    assert bool(path.converged.all())


def test_cross_validate_matches_lassocv(diabetes):
    X, y = diabetes
    cv = jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=40, tol=1e-13, max_iter=100_000)
    ref = LassoCV(cv=KFold(5), alphas=np.asarray(cv.lambdas), tol=1e-12, max_iter=10**6).fit(X, y)
    np.testing.assert_allclose(cv.lambdas, ref.alphas_)
    np.testing.assert_allclose(cv.fold_scores, ref.mse_path_.T, rtol=1e-6)
    np.testing.assert_allclose(cv.mean_score, ref.mse_path_.mean(axis=1), rtol=1e-6)
    assert float(cv.lambda_best) == pytest.approx(ref.alpha_)
    se = ref.mse_path_.std(axis=1, ddof=1) / np.sqrt(5)
    np.testing.assert_allclose(cv.std_score, se, rtol=1e-5)
    mean = ref.mse_path_.mean(axis=1)
    i = np.argmin(mean)
    assert float(cv.lambda_1se) == pytest.approx(ref.alphas_[mean <= mean[i] + se[i]].max())
    refit = jaxl1.fit_path(X, y, lambdas=cv.lambdas, tol=1e-13, max_iter=100_000)
    np.testing.assert_allclose(cv.path.coef[-1], refit.coef[-1])
    assert cv.fold_converged.shape == (5, 40) and bool(cv.fold_converged.all())


def test_cross_validate_gram_from_fold_moments():
    """The runs' Gram matrices come from one pass over the rows (the whole minus the held-out fold's part):
    against numpy's Gram matrix of each run's training rows (features far from zero, sample weights,
    shuffled folds of unequal sizes), and the fold scores against a numpy loop of fit_path on those rows."""
    from jaxl1.path import _fold_rows
    from jaxl1.solvers._problem import fold_moments, prepare

    rng = np.random.default_rng(5)
    n, p = 97, 6
    X = rng.standard_normal((n, p)) * rng.uniform(0.5, 3.0, p) + np.array([1e3, -5.0, 0.0, 2e2, 1.0, -3e3])
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + rng.standard_normal(n)
    sw = rng.uniform(0.2, 2.0, n)
    folds = rng.permutation(np.arange(n) % 4)
    s = sw / sw.sum()
    for fit_intercept in (True, False):
        rows, mask = _fold_rows(folds, 4)
        moments, mags, centre = fold_moments(jnp.asarray(X), jnp.asarray(s), rows, mask, fit_intercept)
        for k in range(5):
            st = np.where(folds == k, 0.0, s)
            st = st / st.sum()
            m = st @ X if fit_intercept else np.zeros(p)
            Xc = X - m
            d = np.sqrt(st @ Xc**2)
            ref = (Xc / d).T @ (st[:, None] * Xc / d)
            prob = prepare(jnp.asarray(X), jnp.asarray(y), jnp.asarray(st), loss="squared",
                           fit_intercept=fit_intercept, form="gram", moments=(moments[k], centre, mags[k]))
            np.testing.assert_allclose(np.asarray(prob.A), ref, rtol=1e-11, atol=1e-13)
    cv = jaxl1.cross_validate(X, y, folds=folds, sample_weight=sw, n_lambdas=12, tol=1e-12, max_iter=100_000)
    for k in range(4):
        tr, te = folds != k, folds == k
        path = jaxl1.fit_path(X[tr], y[tr], lambdas=cv.lambdas, sample_weight=sw[tr], tol=1e-12, max_iter=100_000)
        pred = X[te] @ np.asarray(path.coef).T + np.asarray(path.intercept)
        mse = sw[te] @ (y[te][:, None] - pred) ** 2 / sw[te].sum()
        np.testing.assert_allclose(np.asarray(cv.fold_scores[k]), mse, rtol=1e-9)
    # a column constant on one run's training rows (a dummy whose rare level falls in one fold), and a
    # constant column: those runs take the Gram matrix from the rows, and the scores are the data form's
    X2 = X.copy()
    X2[:, 1] = np.where(folds == 2, 0.0, 0.7)
    X2[:, 4] = 0.3
    kw = dict(folds=folds, sample_weight=sw, n_lambdas=12, tol=1e-12, max_iter=100_000)
    gram = jaxl1.cross_validate(X2, y, form="gram", **kw)
    data = jaxl1.cross_validate(X2, y, form="data", **kw)
    assert bool(np.all(np.asarray(gram.fold_converged)))
    np.testing.assert_allclose(np.asarray(gram.fold_scores), np.asarray(data.fold_scores), rtol=1e-7)


@pytest.mark.parametrize("form", ["gram", "data"])
def test_cross_validate_runs_in_threads_give_the_programs_results(monkeypatch, form):
    """With concrete inputs on a CPU the runs are calls of fit_path's compiled program from several threads
    (``_cv_threaded``): the scores, selections and full path are those of the single program
    (``JAXL1_CV_THREADS=1``) to the solver's tolerance (that one builds every run's weights and moments
    inside), with sample weights, unequal folds and an intercept, and the full path is fit_path's own
    result."""
    from jaxl1 import path as path_module

    rng = np.random.default_rng(8)
    n, p = 70, 9
    X = rng.standard_normal((n, p)) + 3.0
    y = X[:, :2] @ np.array([1.5, -1.0]) + rng.standard_normal(n)
    sw = rng.uniform(0.2, 2.0, n)
    folds = rng.permutation(np.arange(n) % 4)
    kw = dict(folds=folds, sample_weight=sw, n_lambdas=7, tol=1e-12, max_iter=100_000, form=form)
    calls = []
    real = path_module._cv_threaded
    threads_of = lambda *a, **k: inspect.signature(real).bind(*a, **k).arguments["n_threads"]
    monkeypatch.setattr(path_module, "_cv_threaded", lambda *a, **k: calls.append(threads_of(*a, **k)) or real(*a, **k))
    monkeypatch.setattr(path_module.os, "cpu_count", lambda: 2)
    threaded = jaxl1.cross_validate(X, y, **kw)
    assert calls == [2]
    monkeypatch.setenv("JAXL1_CV_THREADS", "1")
    one = jaxl1.cross_validate(X, y, **kw)
    assert calls == [2]
    for name in ("fold_scores", "mean_score", "std_score", "lambda_best", "lambda_1se", "fold_converged"):
        np.testing.assert_allclose(np.asarray(getattr(threaded, name)), np.asarray(getattr(one, name)),
                                   rtol=1e-9, err_msg=name)
    np.testing.assert_allclose(np.asarray(threaded.path.coef), np.asarray(one.path.coef), rtol=1e-7, atol=1e-10)
    options = {k: v for k, v in kw.items() if k not in ("folds", "n_lambdas")}
    alone = jaxl1.fit_path(X, y, lambdas=threaded.lambdas, **options)
    np.testing.assert_array_equal(np.asarray(threaded.path.coef), np.asarray(alone.coef))


def test_cross_validate_with_host_moments_shares_fit_paths_program(monkeypatch):
    """A large X takes its moments from numpy (forced here on a small one): fit_path's and the
    cross-validation runs' moments have one structure, so the runs find fit_path's program, and the scores
    are the single program's (which builds every run's moments itself)."""
    from jaxl1.path import _path_jit
    from jaxl1.solvers import _problem

    monkeypatch.setattr(_problem, "GRAM_HOST_MIN", 0)
    monkeypatch.setattr(jaxl1.path, "_run_threads", lambda arrays, devices: 2)
    rng = np.random.default_rng(12)
    X = rng.standard_normal((61, 8)) + np.array([50.0, 0, 0, -20.0, 0, 0, 0, 3.0])
    y = X[:, :3] @ np.array([1.0, -0.5, 2.0]) + rng.standard_normal(61)
    kw = dict(n_lambdas=6, tol=1e-12, max_iter=100_000)
    path = jaxl1.fit_path(X, y, **kw)
    before = _path_jit._cache_size()
    cv = jaxl1.cross_validate(X, y, n_folds=3, **kw)
    assert _path_jit._cache_size() == before
    # (the full run's moments are the folds' parts summed: the same to rounding)
    np.testing.assert_allclose(np.asarray(cv.path.coef), np.asarray(path.coef), rtol=1e-10, atol=1e-13)
    monkeypatch.setattr(jaxl1.path, "_run_threads", lambda arrays, devices: 1)
    one = jaxl1.cross_validate(X, y, n_folds=3, **kw)
    np.testing.assert_allclose(np.asarray(cv.fold_scores), np.asarray(one.fold_scores), rtol=1e-9)


def test_runs_in_threads_keep_the_callers_float64_context(monkeypatch):
    """``jax.enable_x64(True)`` (as the estimators use) holds for the calling thread only: the runs' threads
    must compute under it too (else they trace float64 data as float32, with a warning per run)."""
    import warnings

    from jaxl1 import path as path_module

    monkeypatch.setattr(path_module.os, "cpu_count", lambda: 2)
    rng = np.random.default_rng(11)
    X = rng.standard_normal((50, 6))
    y = X[:, 0] - X[:, 1] + rng.standard_normal(50)
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with jax.enable_x64(True):
                cv = jaxl1.cross_validate(X, y, n_folds=3, n_lambdas=5)
                st = jaxl1.stability_selection(X, y, n_subsamples=3, n_lambdas=5)
                assert cv.fold_scores.dtype == jnp.float64 and cv.path.coef.dtype == jnp.float64
                assert st.probabilities.dtype == jnp.float64
    finally:
        jax.config.update("jax_enable_x64", previous)


def test_cross_validate_reports_folds_stopped_at_max_iter(diabetes):
    # the same shapes as above; a budget too small for the tight tolerance at the small strengths
    X, y = diabetes
    cv = jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=40, tol=1e-13, max_iter=3)
    conv = np.asarray(cv.fold_converged)
    assert not conv.all() and conv[:, 0].all()  # lambda_max: zero is the solution, met at once
    # each fold's flags are those of a path fitted on that fold's training samples alone
    from jaxl1._validation import check_folds

    train = check_folds(None, 5, len(y))[0] != 0
    alone = jaxl1.fit_path(X[train], y[train], lambdas=cv.lambdas, tol=1e-13, max_iter=3)
    np.testing.assert_array_equal(conv[0], np.asarray(alone.converged))


def test_cross_validate_explicit_folds_and_logistic():
    X, y = make_classification(n_samples=90, n_features=5, random_state=3)
    folds = np.arange(90) % 3
    cv = jaxl1.cross_validate(X, y.astype(float), folds=folds, loss="logistic", n_lambdas=8, eps=1e-2)
    assert cv.fold_scores.shape == (3, 8)
    assert np.all(np.isfinite(np.asarray(cv.mean_score)))
    # the deviance at lambda_max is that of the training-fold base rate
    k = 0
    p = y[folds != k].mean()
    held = y[folds == k]
    dev0 = -2 * np.mean(held * np.log(p) + (1 - held) * np.log(1 - p))
    assert float(cv.fold_scores[0, 0]) == pytest.approx(dev0, rel=1e-6)


def test_cv_result_gives_the_selected_models(diabetes):
    # the shapes of the tests above (one compiled program)
    X, y = diabetes
    cv = jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=40)
    lambdas, mean, se = (np.asarray(a) for a in (cv.lambdas, cv.mean_score, cv.std_score))
    coef, intercept = np.asarray(cv.path.coef), np.asarray(cv.path.intercept)
    i_best = int(np.argmin(mean))
    i_1se = int(np.flatnonzero(mean <= mean[i_best] + se[i_best])[0])
    assert i_1se < i_best  # two different models on diabetes
    assert int(cv.index()) == int(cv.index("best")) == i_best and int(cv.index("1se")) == i_1se
    assert lambdas[i_best] == float(cv.lambda_best) and lambdas[i_1se] == float(cv.lambda_1se)
    # exactly the rows of the refitted path
    np.testing.assert_array_equal(cv.coef_best, coef[i_best])
    np.testing.assert_array_equal(cv.coef_1se, coef[i_1se])
    assert float(cv.intercept_best) == intercept[i_best] and float(cv.intercept_1se) == intercept[i_1se]
    for which, i in (("best", i_best), ("1se", i_1se)):
        model = cv.model(which)
        assert isinstance(model, jaxl1.FitResult)
        np.testing.assert_array_equal(model.coef, coef[i])
        assert float(model.intercept) == intercept[i] and float(model.gap) == float(cv.path.gap[i])
        assert bool(model.converged) == bool(cv.path.converged[i]) and int(model.status) == 0
        expected = X[:50] @ coef[i] + intercept[i]  # numpy
        np.testing.assert_allclose(cv.predict(X[:50], which=which), expected, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(model.predict(X[:50]), expected, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(cv.predict(X[:50]), cv.predict(X[:50], which="best"))
    # a pytree: the same under jit
    jitted = jax.jit(lambda cv, X: (cv.predict(X, which="1se"), cv.coef_1se))(cv, X[:50])
    np.testing.assert_allclose(jitted[0], X[:50] @ coef[i_1se] + intercept[i_1se], rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(jitted[1], coef[i_1se])
    with pytest.raises(ValueError, match="which must be 'best' or '1se'"):
        cv.predict(X, which="min")


def test_cv_result_predict_logistic_is_the_log_odds():
    X, y = make_classification(n_samples=90, n_features=5, random_state=3)
    cv = jaxl1.cross_validate(X, y.astype(float), folds=np.arange(90) % 3, loss="logistic", n_lambdas=8, eps=1e-2)
    i = int(cv.index("best"))
    z = X @ np.asarray(cv.path.coef[i]) + float(cv.path.intercept[i])
    np.testing.assert_allclose(cv.predict(X), z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cv.predict(X), np.asarray(cv.path.predict(X))[:, i], rtol=1e-12, atol=1e-12)
    prob = np.asarray(jax.nn.sigmoid(cv.predict(X)))
    assert np.all((prob > 0) & (prob < 1)) and np.mean((prob > 0.5) == y) > 0.8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_lambdas=0), "n_lambdas"),
        (dict(lambdas=[1.0, -1.0]), "lambdas must be finite and non-negative"),
        (dict(lambdas=[1.0, np.nan]), "lambdas must be finite"),
        (dict(lambdas=[0.1, 1.0]), "decreasing"),
        (dict(l1_ratio=1.5), "l1_ratio"),
        (dict(loss="tweedie"), "loss must be one of"),
        (dict(eps=0.0), "eps"),
        (dict(weights=np.ones(3)), "weights must have shape"),
    ],
)
def test_path_validation(diabetes, kwargs, match):
    X, y = diabetes
    with pytest.raises(ValueError, match=match):
        jaxl1.fit_path(X, y, **kwargs)


def test_cv_validation(diabetes):
    X, y = diabetes
    with pytest.raises(ValueError, match="n_folds"):
        jaxl1.cross_validate(X, y, n_folds=1)
    with pytest.raises(ValueError, match="folds"):
        jaxl1.cross_validate(X, y, folds=np.zeros(3, int))
    with pytest.raises(ValueError, match="devices"):
        jaxl1.cross_validate(X, y, devices=[])
    with pytest.raises(ValueError, match="devices"):
        jaxl1.cross_validate(X, y, devices=["cpu"])


def test_lambda_max_takes_the_path_penalty_combinations_only():
    X, y = np.eye(4) + 0.1, np.arange(4.0)
    with pytest.raises(ValueError, match="weights are not supported with positive=True"):
        jaxl1.lambda_max(X, y, positive=True, weights=np.ones(4))
    with pytest.raises(ValueError, match="positive=True needs l1_ratio=1"):
        jaxl1.lambda_max(X, y, l1_ratio=0.5, positive=True)


def test_path_interpolates_in_log_lambda_like_numpy():
    X, y = load_diabetes(return_X_y=True)
    path = jaxl1.fit_path(X, y, n_lambdas=15, tol=1e-10)
    lams = np.asarray(path.lambdas)
    # strengths of the path, between them (geometric midpoints), and beyond both ends, in any order
    query = np.concatenate([lams[[4, 0, 14]], np.sqrt(lams[:-1] * lams[1:]), [2 * lams[0], lams[-1] / 3]])
    coef, b = path.interpolate(query)
    assert coef.shape == (len(query), 10) and b.shape == (len(query),)
    grid = -np.log(lams)  # increasing (the strengths decrease), as np.interp wants
    for j in range(10):
        ref = np.interp(-np.log(query), grid, np.asarray(path.coef)[:, j])
        np.testing.assert_allclose(coef[:, j], ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b, np.interp(-np.log(query), grid, np.asarray(path.intercept)), rtol=1e-12)
    assert np.array_equal(coef[:3], np.asarray(path.coef)[[4, 0, 14]])  # exactly the solutions there
    assert np.array_equal(coef[-2], path.coef[0]) and np.array_equal(coef[-1], path.coef[-1])  # no extrapolation
    one, b1 = path.interpolate(float(query[5]))
    assert one.shape == (10,) and b1.shape == () and np.array_equal(one, coef[5])
    jitted = jax.jit(lambda lam: path.interpolate(lam)[0])(jnp.asarray(query))
    np.testing.assert_allclose(jitted, coef, rtol=1e-14)
    for bad in (0.0, -1.0, [1.0, np.nan], np.ones((2, 2)), "a"):
        with pytest.raises(ValueError, match="lambdas"):
            path.interpolate(bad)


def test_vmapped_paths_equal_the_loop_and_differentiate():
    """vmap of fit_path and fit (solved one after the other on a CPU, the shared Gram matrix computed once)
    over responses, over sample weights (bootstrap counts) and under grad equals the loop over problems."""
    rng = np.random.default_rng(8)
    n, p = 60, 8
    X = rng.standard_normal((n, p)) + 3.0
    Y = X[:, :3] @ rng.standard_normal((3, 4)) + rng.standard_normal((n, 4))
    sw = rng.uniform(0.5, 2.0, n)
    lams = jnp.geomspace(1.0, 0.01, 6)
    kw = dict(lambdas=lams, tol=1e-12, max_iter=100_000)
    Yj = jnp.asarray(Y.T)
    mapped = jax.jit(jax.vmap(lambda y: jaxl1.fit_path(X, y, sample_weight=sw, **kw).coef))(Yj)
    loop = np.stack([np.asarray(jaxl1.fit_path(X, y, sample_weight=sw, **kw).coef) for y in Y.T])
    np.testing.assert_allclose(np.asarray(mapped), loop, rtol=1e-8, atol=1e-10)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=3).astype(float)
    boot = jax.vmap(lambda c: jaxl1.fit_path(X, Y[:, 0], sample_weight=c, **kw).coef)(jnp.asarray(counts))
    for c, got in zip(counts, boot):
        idx = np.repeat(np.arange(n), c.astype(int))
        ref = jaxl1.fit_path(X[idx], Y[idx, 0], **kw).coef
        np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-8, atol=1e-10)
    fits = jax.vmap(lambda y: jaxl1.fit(X, y, jaxl1.L1(0.1), tol=1e-12).coef)(Yj)
    for y, got in zip(Y.T, fits):
        ref = Lasso(alpha=0.1, tol=1e-14, max_iter=10**6).fit(X, y).coef_
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-7, atol=1e-9)
    f = lambda y: jnp.sum(jaxl1.fit_path(X, y, **kw).coef ** 2)
    g_loop = np.stack([np.asarray(jax.grad(f)(y)) for y in Yj])
    g_map = jax.grad(lambda Y: jnp.sum(jax.vmap(f)(Y)))(Yj)
    np.testing.assert_allclose(np.asarray(g_map), g_loop, rtol=1e-7, atol=1e-9)
    eps = 1e-6
    e = jnp.zeros(n).at[3].set(eps)
    fd = (f(Yj[0] + e) - f(Yj[0] - e)) / (2 * eps)
    assert float(g_loop[0, 3]) == pytest.approx(float(fd), rel=1e-5, abs=1e-8)


def test_vmapped_paths_of_forty_coordinates_equal_the_loop():
    """Mapped over responses (``many``), a path of 40 coordinates solves on the support at the support's size
    (systems of 16, 32 or 40): the same solutions as the paths one at a time."""
    rng = np.random.default_rng(21)
    n, p = 80, 40
    X = rng.standard_normal((n, p))
    Y = X[:, :30] @ rng.standard_normal((30, 3)) + 0.3 * rng.standard_normal((n, 3))
    kw = dict(n_lambdas=30, eps=1e-3, tol=1e-10, fit_intercept=False)
    mapped = jax.vmap(lambda y: jaxl1.fit_path(X, y, **kw))(jnp.asarray(Y.T))
    for j in range(3):
        one = jaxl1.fit_path(X, Y[:, j], **kw)
        np.testing.assert_allclose(np.asarray(mapped.coef[j]), np.asarray(one.coef), rtol=1e-8, atol=1e-10)
        assert np.all(np.asarray(mapped.converged[j]))
    support = np.sum(np.asarray(mapped.coef) != 0, axis=-1)
    assert support.min() <= 16 and np.any((support > 16) & (support <= 32)) and support.max() > 32


def test_grid_takes_eps_and_n_lambdas_of_any_numeric_kind():
    """``eps`` as a Python, numpy or JAX scalar gives the same grid (a static argument of the compiled grid
    is made a Python number first: a JAX scalar is not hashable)."""
    ref = np.geomspace(2.0, 2e-2, 3)
    for eps in (1e-2, np.float64(1e-2), jnp.float32(1e-2), np.array(1e-2)):
        np.testing.assert_allclose(jaxl1.lambda_grid(2.0, np.int64(3), eps), ref, rtol=1e-6)


def test_cv_result_accessors_compile_nothing(compiles):
    # the selected models of a concrete CVResult are found and taken by numpy: each eager argmin, comparison
    # and index compiled a program (10 of the 14 programs of a first `jaxl1 cv`)
    rng = np.random.default_rng(6)
    X = rng.standard_normal((41, 6))
    y = X[:, 2] + rng.standard_normal(41)
    cv = jaxl1.cross_validate(X, y, n_folds=3, n_lambdas=7)
    jax.block_until_ready(cv.path.coef)
    compiles.clear()
    m = cv.model("1se")
    got = [cv.index("best"), cv.index("1se"), cv.coef_best, cv.intercept_best, cv.coef_1se, cv.intercept_1se,
           m.coef, m.intercept, m.gap]
    assert compiles == []
    mean, std = np.asarray(cv.mean_score), np.asarray(cv.std_score)
    i_best = int(np.argmin(mean))
    i_1se = int(np.argmax(mean <= mean[i_best] + std[i_best]))
    assert int(got[0]) == i_best and int(got[1]) == i_1se
    np.testing.assert_array_equal(got[2], np.asarray(cv.path.coef)[i_best])
    np.testing.assert_array_equal(got[4], np.asarray(cv.path.coef)[i_1se])
    assert float(got[5]) == float(cv.path.intercept[i_1se]) and float(got[8]) == float(cv.path.gap[i_1se])


def test_interpolate_and_predict_are_one_program_each(compiles):
    # each was a chain of eager operations, a program apiece on a first call (interpolate: 33, 0.96 s)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((39, 5))
    y = X[:, 0] - X[:, 3] + rng.standard_normal(39)
    path = jaxl1.fit_path(X, y, n_lambdas=6)
    fit = jaxl1.fit(X, y, jaxl1.L1(0.1))
    jax.block_until_ready((path.coef, fit.coef))
    counts = {}
    lam = 0.5 * float(np.asarray(path.lambdas)[2])
    for name, call in (("interpolate", lambda: path.interpolate([lam, 0.3])),
                       ("path.predict", lambda: path.predict(X)), ("fit.predict", lambda: fit.predict(X))):
        compiles.clear()
        out = jax.block_until_ready(call())
        counts[name] = len(compiles)
    assert max(counts.values()) <= 1, counts
    np.testing.assert_allclose(np.asarray(path.predict(X)),
                               X @ np.asarray(path.coef).T + np.asarray(path.intercept), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(fit.predict(X)), X @ np.asarray(fit.coef) + float(fit.intercept),
                               rtol=1e-12, atol=1e-12)
    assert out.shape == (39,)


def test_predict_of_a_2d_y_path_and_a_relaxed_path_one_program_each(compiles):
    # a 3-D coefficient array (multi-output, multinomial): a transpose, reshape, product and sum, each compiled
    # on its own on a first call; the relaxed path's predictors: a product and a sum
    rng = np.random.default_rng(9)
    X = rng.standard_normal((37, 6))
    Y = X[:, :2] @ np.array([[1.0, -2.0], [0.5, 1.0]]) + 0.3 * rng.standard_normal((37, 2))
    path = jaxl1.fit_path(X, Y, n_lambdas=5)
    relaxed = jaxl1.relax(jaxl1.fit_path(X, Y[:, 0], n_lambdas=5), X, Y[:, 0])
    jax.block_until_ready((path.coef, relaxed.coef_relaxed))
    X_new = rng.standard_normal((11, 6))
    counts = {}
    cv = jaxl1.cross_validate_relaxed(X, Y[:, 0], n_lambdas=5, n_folds=3)
    jax.block_until_ready(cv.mean_score)
    for name, call in (("path.predict", lambda: path.predict(X_new)), ("relaxed.blend", lambda: relaxed.blend(0.25)),
                       ("relaxed.predict", lambda: relaxed.predict(X_new, gamma=0.0)),
                       ("cv.model", lambda: cv.model())):
        compiles.clear()
        jax.block_until_ready(call())
        counts[name] = len(compiles)
    assert counts["path.predict"] <= 1 and counts["relaxed.blend"] <= 1 and counts["relaxed.predict"] <= 1, counts
    assert counts["cv.model"] <= 1, counts
    coef, b = cv.model()
    k = int(np.asarray(cv.index)[1])
    g = float(cv.gamma_best)
    np.testing.assert_allclose(np.asarray(coef), g * np.asarray(cv.relaxed.coef)[k]
                               + (1 - g) * np.asarray(cv.relaxed.coef_relaxed)[k], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(float(b), g * float(cv.relaxed.intercept[k])
                               + (1 - g) * float(cv.relaxed.intercept_relaxed[k]), rtol=1e-12, atol=1e-14)
    W, B = np.asarray(path.coef), np.asarray(path.intercept)
    want = np.einsum("np,lpt->nlt", X_new, W) + B
    assert path.predict(X_new).shape == (11, 5, 2)
    np.testing.assert_allclose(np.asarray(path.predict(X_new)), want, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(relaxed.predict(X_new, gamma=0.0)),
                               X_new @ np.asarray(relaxed.coef_relaxed).T + np.asarray(relaxed.intercept_relaxed),
                               rtol=1e-12, atol=1e-12)

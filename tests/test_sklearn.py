"""The scikit-learn estimators: the full estimator checks and agreement with scikit-learn (float64)."""

import importlib
import inspect
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.datasets import load_diabetes, make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, ShuffleSplit, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from jaxl1.sklearn import (ElasticNet, ElasticNetCV, GroupLasso, Lasso, LassoCV, LogisticRegressionL1,
                           LogisticRegressionL1CV, MCPRegression, MultiTaskLasso, MultiTaskLassoCV, PoissonRegressorL1, SCADRegression)

TIGHT = dict(tol=1e-12, max_iter=200_000)


@pytest.fixture(scope="module")
def regression():
    return make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=100, n_features=5, n_informative=3, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def imbalanced():
    # no redundant features: without a penalty (C=np.inf) the solution is unique
    X, y = make_classification(n_samples=120, n_features=5, n_informative=3, n_redundant=0, weights=[0.75],
                               random_state=1)
    return StandardScaler().fit_transform(X), y


def _check_name(check):
    while hasattr(check, "func"):
        check = check.func
    return check.__name__


# --------------------------------------------------------------------------- #
# scikit-learn's estimator checks, all of them, no expected failures
# --------------------------------------------------------------------------- #
# the cross-validated estimators on short grids and 3 folds: the checks test the interface, and each
# fit is 4 paths rather than 6 (the multinomial ones are solved by FISTA, the bulk of this test's time)
@parametrize_with_checks([Lasso(), ElasticNet(), LassoCV(alphas=10, cv=3), ElasticNetCV(alphas=10, cv=3),
                          LogisticRegressionL1(), PoissonRegressorL1(alpha=0.1), MultiTaskLasso(alpha=0.1),
                          MultiTaskLassoCV(alphas=5, cv=3), LogisticRegressionL1CV(alphas=5, cv=3),
                          MCPRegression(alpha=0.1), SCADRegression(alpha=0.1), GroupLasso(alpha=0.1)])
def test_estimator_checks(estimator, check, monkeypatch):
    if _check_name(check) == "check_array_api_input":
        # scikit-learn skips this check unless SCIPY_ARRAY_API=1, which scipy reads only when
        # it is imported; the estimators never call scipy, so the variable is set for the check alone.
        monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


# --------------------------------------------------------------------------- #
# agreement with scikit-learn
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_cv_deviances_match_sklearn_saga_fold_fits(n_classes):
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    X, y = make_classification(n_samples=90, n_features=5, n_informative=3, n_redundant=0, n_classes=n_classes,
                               random_state=2)
    X = StandardScaler().fit_transform(X)
    cv = LogisticRegressionL1CV(alphas=6, eps=0.05, cv=3, **TIGHT).fit(X, y)
    assert cv.deviance_path_.shape == (6, 3) and cv.coef_.shape == ((1, 5) if n_classes == 2 else (3, 5))
    for k, (train, test) in enumerate(StratifiedKFold(3).split(X, y)):
        for i in (1, 4):
            ref = sk.LogisticRegression(l1_ratio=1, solver="saga", C=1 / (len(train) * cv.alphas_[i]), tol=1e-12,
                                        max_iter=200_000).fit(X[train], y[train])
            dev = 2 * log_loss(y[test], ref.predict_proba(X[test]), labels=ref.classes_)
            assert cv.deviance_path_[i, k] == pytest.approx(dev, rel=1e-5)
    i = int(np.argmin(cv.deviance_path_.mean(axis=1)))
    assert cv.alpha_ == cv.alphas_[i]
    alone = LogisticRegressionL1(alpha=cv.alpha_, **TIGHT).fit(X, y)
    np.testing.assert_allclose(cv.predict_proba(X), alone.predict_proba(X), atol=1e-7)


def test_multi_task_lasso_estimators_match_sklearn():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((70, 9)) * np.linspace(0.5, 2.0, 9) + 0.5
    W = np.zeros((9, 3))
    W[:3] = rng.standard_normal((3, 3))
    Y = X @ W + 0.5 * rng.standard_normal((70, 3)) + 1.0
    ref = sk.MultiTaskLasso(alpha=0.2, tol=1e-12, max_iter=100_000).fit(X, Y)
    ours = MultiTaskLasso(alpha=0.2, **TIGHT).fit(X, Y)
    assert ours.coef_.shape == (3, 9) and ours.intercept_.shape == (3,)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-8)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), atol=1e-8)
    assert np.array_equal(np.abs(ours.coef_).sum(axis=0) == 0, np.abs(ref.coef_).sum(axis=0) == 0)
    cv_ref = sk.MultiTaskLassoCV(cv=4, alphas=15, tol=1e-12, max_iter=100_000).fit(X, Y)
    cv = MultiTaskLassoCV(cv=4, alphas=15, **TIGHT).fit(X, Y)
    np.testing.assert_allclose(cv.alphas_, cv_ref.alphas_, rtol=1e-10)
    np.testing.assert_allclose(cv.mse_path_, cv_ref.mse_path_, rtol=1e-6)
    assert cv.alpha_ == pytest.approx(cv_ref.alpha_, rel=1e-12)
    np.testing.assert_allclose(cv.coef_, cv_ref.coef_, atol=1e-7)
    with pytest.raises(ValueError, match="2-D y"):
        MultiTaskLasso().fit(X, Y[:, 0])


def test_poisson_regressor_matches_sklearn_and_its_optimality_conditions():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((150, 7))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 2] + 0.4)).astype(float)
    sw = rng.uniform(0.5, 2.0, 150)  # exposures, with y the rates
    rates = y / sw
    ref = sk.PoissonRegressor(alpha=0.03, tol=1e-12, max_iter=10_000).fit(X, rates, sample_weight=sw)
    ours = PoissonRegressorL1(alpha=0.03, l1_ratio=0.0, **TIGHT).fit(X, rates, sample_weight=sw)
    # lbfgs stops with a gradient of about 6e-9 here; jaxl1's is at rounding level (checked below)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-7)
    assert ours.score(X, rates, sw) == pytest.approx(ref.score(X, rates, sw), rel=1e-8)
    u = sw * (ours.predict(X) - rates) / sw.sum()
    assert np.abs(X.T @ u + 0.03 * ours.coef_).max() < 1e-12 and abs(u.sum()) < 1e-12
    # the lasso: the weighted optimality conditions in numpy
    lasso = PoissonRegressorL1(alpha=0.03, **TIGHT).fit(X, rates, sample_weight=sw)
    u = sw * (lasso.predict(X) - rates) / sw.sum()
    g = X.T @ u
    on = lasso.coef_ != 0
    assert 0 < on.sum() < 7 and abs(u.sum()) < 1e-9
    np.testing.assert_allclose(g[on], -0.03 * np.sign(lasso.coef_[on]), atol=1e-8)
    assert np.all(np.abs(g[~on]) <= 0.03 + 1e-8)
    with pytest.raises(ValueError, match="y must be non-negative"):
        PoissonRegressorL1().fit(X, y - 1)


def test_lasso_matches_sklearn(regression):
    X, y = regression
    ours = Lasso(alpha=0.1, **TIGHT).fit(X, y)
    ref = sk.Lasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
    assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=0, atol=1e-6)
    assert ours.coef_.dtype == np.float64 and isinstance(ours.intercept_, float)
    assert ours.n_features_in_ == 10 and ours.n_iter_ >= 1 and ours.dual_gap_ >= 0


def test_elastic_net_and_positive_match_sklearn(regression):
    X, y = regression
    for ours, ref in [
        (ElasticNet(alpha=0.5, l1_ratio=0.3, **TIGHT), sk.ElasticNet(alpha=0.5, l1_ratio=0.3)),
        (Lasso(alpha=1.0, positive=True, **TIGHT), sk.Lasso(alpha=1.0, positive=True)),
    ]:
        ours.fit(X, y)
        ref.set_params(tol=1e-12, max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
        assert ours.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)


def test_sample_weight_is_repetition_and_matches_sklearn(regression):
    X, y = regression
    sw = np.random.default_rng(0).integers(0, 4, len(y))
    weighted = Lasso(alpha=0.1, **TIGHT).fit(X, y, sample_weight=sw)
    repeated = Lasso(alpha=0.1, **TIGHT).fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    ref = sk.Lasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(weighted.coef_, ref.coef_, rtol=0, atol=1e-6)
    assert weighted.intercept_ == pytest.approx(ref.intercept_, abs=1e-6)


def test_lasso_cv_warns_when_fold_fits_stop_at_max_iter(diabetes):
    X, y = diabetes
    with pytest.warns(ConvergenceWarning, match="fold fits"):
        LassoCV(cv=5, tol=1e-14, max_iter=2).fit(X, y)


def test_lasso_cv_chooses_sklearn_alpha(diabetes):
    X, y = diabetes
    ours = LassoCV(cv=5).fit(X, y)
    ref = sk.LassoCV(cv=5).fit(X, y)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-10)
    # the same grid point (the grids agree to rounding)
    assert np.argmin(np.abs(ours.alphas_ - ours.alpha_)) == np.argmin(np.abs(ref.alphas_ - ref.alpha_))
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    assert ours.mse_path_.shape == ref.mse_path_.shape == (100, 5)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-3)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-3, atol=1e-2 * np.abs(ref.coef_).max())
    mean, se = ours.mse_path_.mean(1), ours.mse_path_.std(1, ddof=1) / np.sqrt(5)
    i_best = np.argmin(mean)
    assert ours.alpha_1se_ == ours.alphas_[mean <= mean[i_best] + se[i_best]].max() > ours.alpha_


def test_elastic_net_cv_with_l1_ratio_list(diabetes):
    X, y = diabetes
    ratios = [0.5, 1.0]
    # at tol=1e-4 both stop within the tolerance, but at different points (the held-out errors differ
    # by up to 0.6% near alpha_max, where jaxl1 accepts w=0); at 1e-10 they are the same solutions
    ours = ElasticNetCV(l1_ratio=ratios, cv=5, tol=1e-10, max_iter=100_000).fit(X, y)
    ref = sk.ElasticNetCV(l1_ratio=ratios, cv=5, tol=1e-10, max_iter=100_000).fit(X, y)
    assert ours.alphas_.shape == (2, 100) and ours.mse_path_.shape == (2, 100, 5)
    np.testing.assert_allclose(ours.alphas_, ref.alphas_, rtol=1e-10)
    assert ours.l1_ratio_ == ref.l1_ratio_ and ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-8)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-4)


def test_cv_splitters(diabetes):
    X, y = diabetes
    shuffled = KFold(5, shuffle=True, random_state=0)
    ours = LassoCV(cv=shuffled).fit(X, y)
    assert ours.alpha_ == pytest.approx(sk.LassoCV(cv=shuffled).fit(X, y).alpha_, rel=1e-12)
    same = LassoCV(cv=list(shuffled.split(X))).fit(X, y)
    np.testing.assert_array_equal(same.mse_path_, ours.mse_path_)
    groups = np.arange(len(y)) % 7
    grouped = LassoCV(cv=GroupKFold(5)).fit(X, y, groups=groups)
    assert grouped.mse_path_.shape == (100, 5)
    for bad in (ShuffleSplit(5, random_state=0), TimeSeriesSplit(5)):
        with pytest.raises(ValueError, match="exactly one test fold"):
            LassoCV(cv=bad).fit(X, y)


def test_logistic_matches_sklearn_saga(binary):
    X, y = binary
    n, alpha = len(y), 0.02
    labels = np.array(["ham", "spam"])
    ours = LogisticRegressionL1(alpha=alpha, **TIGHT).fit(X, labels[y])
    ref = sk.LogisticRegression(l1_ratio=1.0, solver="saga", C=1 / (n * alpha), tol=1e-12, max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ref.fit(X, y)
    assert ours.coef_.shape == (1, 5) and ours.intercept_.shape == (1,)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=0, atol=1e-6)
    assert (ours.coef_ == 0).sum() == (ref.coef_ == 0).sum() >= 1
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ours.classes_, labels)
    np.testing.assert_array_equal(ours.predict(X), labels[ref.predict(X)])
    np.testing.assert_allclose(np.exp(ours.predict_log_proba(X)), ours.predict_proba(X), rtol=1e-12)
    with pytest.raises(ValueError, match="continuous"):
        LogisticRegressionL1().fit(X, X[:, 0])


def test_multiclass_logistic_matches_sklearn_saga():
    X, y = make_classification(n_samples=90, n_features=6, n_informative=4, n_classes=3, random_state=3)
    X = StandardScaler().fit_transform(X)
    labels = np.array(["a", "b", "c"])[y]
    alpha = 0.02
    ours = LogisticRegressionL1(alpha=alpha, **TIGHT).fit(X, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sk.LogisticRegression(l1_ratio=1.0, C=1 / (len(y) * alpha), solver="saga", tol=1e-12,
                                    max_iter=100_000).fit(X, labels)
    assert ours.coef_.shape == (3, 6) and ours.intercept_.shape == (3,)
    assert list(ours.classes_) == ["a", "b", "c"]
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X).sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.log(ours.predict_proba(X)), ours.predict_log_proba(X), atol=1e-10)
    assert (ours.predict(X) == ref.predict(X)).mean() > 0.98
    assert np.any(ours.coef_ == 0)
    # uncentred columns: the intercepts sum to 0, as scikit-learn's (the softmax is the same for any shift)
    Xs = X + np.arange(1.0, 7.0)
    shifted = LogisticRegressionL1(alpha=alpha, **TIGHT).fit(Xs, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sk.LogisticRegression(l1_ratio=1.0, C=1 / (len(y) * alpha), solver="saga", tol=1e-12,
                                    max_iter=100_000).fit(Xs, labels)
    assert abs(shifted.intercept_.sum()) < 1e-10
    np.testing.assert_allclose(shifted.intercept_, ref.intercept_, atol=1e-3)
    np.testing.assert_allclose(shifted.predict_proba(Xs), ours.predict_proba(X), atol=1e-7)
    with pytest.raises(ValueError, match="positive=True"):
        LogisticRegressionL1(positive=True).fit(X, labels)


def test_pipeline_and_grid_search(regression, binary):
    X, y = regression
    grid = {"lasso__alpha": [0.01, 0.3, 3.0]}
    ours = GridSearchCV(make_pipeline(StandardScaler(), Lasso(tol=1e-10)), grid, cv=3).fit(X, y)
    ref = GridSearchCV(make_pipeline(StandardScaler(), sk.Lasso(tol=1e-10)), grid, cv=3).fit(X, y)
    assert ours.best_params_ == ref.best_params_
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-6)
    assert ours.predict(X).shape == (100,)

    Xb, yb = binary
    clf = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegressionL1()),
                       {"logisticregressionl1__alpha": [0.001, 0.05, 1.0]}, cv=3).fit(Xb, yb)
    assert clf.best_params_["logisticregressionl1__alpha"] < 1.0  # alpha=1 leaves an all-zero model
    assert clf.predict_proba(Xb).shape == (100, 2)


# --------------------------------------------------------------------------- #
# behaviour
# --------------------------------------------------------------------------- #
def test_float64_without_touching_the_global_flag(regression):
    X, y = regression
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    with jax.enable_x64(False):
        model = Lasso(alpha=0.1, **TIGHT).fit(X32, y32)
        assert jnp.zeros(1).dtype == jnp.float32  # the user's setting is back after fit
    assert model.coef_.dtype == np.float64
    ref = sk.Lasso(alpha=0.1, tol=1e-12, max_iter=100_000).fit(X32.astype(np.float64), y32.astype(np.float64))
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=0, atol=1e-6)  # float32 would give ~1e-4


def test_convergence_warning(diabetes):
    X, y = diabetes
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        model = Lasso(alpha=1e-3, tol=1e-14, max_iter=1).fit(X[:200], y[:200])
    assert model.dual_gap_ > 0


def test_warm_start(regression):
    X, y = regression
    model = Lasso(alpha=0.1, warm_start=True, **TIGHT).fit(X, y)
    first = model.n_iter_
    coef = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ < first
    np.testing.assert_allclose(model.coef_, coef, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "model, match",
    [
        (Lasso(alpha=-1.0), "alpha"),
        (Lasso(tol=-1.0), "tol"),
        (Lasso(max_iter=0), "max_iter"),
        (ElasticNet(l1_ratio=1.5), "l1_ratio"),
        (ElasticNet(l1_ratio=0.5, positive=True), "positive=True"),
        (LassoCV(eps=0.0), "eps"),
        (Lasso(selection="shuffled"), "selection"),
        (ElasticNetCV(precompute="yes"), "precompute"),
        (LassoCV(copy_X="no"), "copy_X"),
        (LassoCV(alphas=[0.1, -1.0]), "alphas"),
        (ElasticNetCV(l1_ratio=0.0), "l1_ratio=0"),
    ],
)
def test_bad_parameters(model, match, regression):
    X, y = regression
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)


def test_clear_import_error_without_sklearn(monkeypatch):
    for name in list(sys.modules):
        if name == "sklearn" or name.startswith("sklearn."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "jaxl1.sklearn")
    with pytest.raises(ImportError, match=r"pip install 'jaxl1\[sklearn\]'"):
        importlib.import_module("jaxl1.sklearn")


# --------------------------------------------------------------------------- #
# scikit-learn's constructor keywords
# --------------------------------------------------------------------------- #
NAMESAKES = [(Lasso, sk.Lasso), (ElasticNet, sk.ElasticNet), (LassoCV, sk.LassoCV),
             (ElasticNetCV, sk.ElasticNetCV), (LogisticRegressionL1, sk.LogisticRegression)]


def _defaults(cls):
    return {name: par.default for name, par in inspect.signature(cls).parameters.items()
            if par.default is not inspect.Parameter.empty}


@pytest.mark.parametrize("ours, ref", NAMESAKES, ids=lambda c: c.__name__)
def test_signature_covers_namesake(ours, ref):
    theirs = inspect.signature(ref).parameters
    mine = inspect.signature(ours).parameters
    assert set(theirs) - set(mine) == set()
    for name, par in theirs.items():
        if par.kind is par.KEYWORD_ONLY:  # a call written for scikit-learn binds the same way
            assert mine[name].kind is par.KEYWORD_ONLY, name
        assert f"{name}:" in ours.__doc__ or f" {name}," in ours.__doc__, f"{name} is not documented"
    ours(**_defaults(ref)).get_params()  # every scikit-learn default value is accepted


def test_namesake_defaults_fit_as_the_namesake(regression, diabetes, binary):
    """Built from the namesake's own defaults (tolerances tightened), each estimator solves its problem."""
    X, y = regression
    for ours, ref in NAMESAKES[:2]:
        a = ours(**{**_defaults(ref), **TIGHT}).fit(X, y)
        b = ref(tol=1e-12, max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-6)
        assert a.intercept_ == pytest.approx(b.intercept_, abs=1e-6)
    X, y = diabetes
    for ours, ref in NAMESAKES[2:4]:
        a = ours(**{**_defaults(ref), "tol": 1e-10, "max_iter": 100_000}).fit(X, y)
        b = ref(tol=1e-10, max_iter=100_000).fit(X, y)
        assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-12)
        np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-4)
    # LogisticRegression's defaults are the ridge penalty (l1_ratio=0) at C=1
    X, y = binary
    a = LogisticRegressionL1(**{**_defaults(sk.LogisticRegression), **TIGHT}).fit(X, y)
    b = sk.LogisticRegression(tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-6)
    assert not np.any(a.coef_ == 0)


def test_lasso_cv_random_state_as_in_the_issue(regression):
    """``LassoCV(cv=5, random_state=42)`` on make_regression(random_state=42) picks scikit-learn's alpha."""
    X, y = regression
    ours = LassoCV(cv=5, random_state=42).fit(X, y)
    ref = sk.LassoCV(cv=5, random_state=42, tol=1e-10, max_iter=1_000_000).fit(X, y)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-3)


IGNORED = {
    Lasso: dict(precompute=True, copy_X=False, random_state=0, selection="random"),
    ElasticNet: dict(precompute="gram", copy_X=False, random_state=np.random.RandomState(1), selection="random"),
    LassoCV: dict(precompute=False, copy_X=False, verbose=True, n_jobs=2, random_state=3, selection="random"),
    ElasticNetCV: dict(precompute=True, copy_X=False, verbose=2, n_jobs=-1, random_state=4, selection="random"),
    LogisticRegressionL1: dict(solver="saga", intercept_scaling=10.0, random_state=5, verbose=1, n_jobs=2),
}


@pytest.mark.parametrize("cls", list(IGNORED), ids=lambda c: c.__name__)
def test_ignored_keywords_change_nothing(cls, regression, binary):
    X, y = binary if cls is LogisticRegressionL1 else regression
    kwargs = dict(IGNORED[cls])
    if kwargs.get("precompute") == "gram":
        kwargs["precompute"] = X.T @ X
    plain = cls().fit(X, y)
    X_before = X.copy()
    other = cls(**kwargs).fit(X, y)
    np.testing.assert_array_equal(X, X_before)  # copy_X=False: X is never written to
    np.testing.assert_array_equal(other.coef_, plain.coef_)
    np.testing.assert_array_equal(other.intercept_, plain.intercept_)
    assert np.any(other.coef_ != 0)  # a fitted model to compare, not all zeros


def test_positive_cv_matches_sklearn(diabetes):
    X, y = diabetes
    ours = LassoCV(positive=True, tol=1e-10, max_iter=100_000).fit(X, y)
    ref = sk.LassoCV(positive=True, tol=1e-10, max_iter=100_000).fit(X, y)
    assert ours.alpha_ == pytest.approx(ref.alpha_, rel=1e-12)
    np.testing.assert_allclose(ours.mse_path_, ref.mse_path_, rtol=1e-6)
    assert ours.coef_.min() == 0 and np.any(LassoCV(tol=1e-10).fit(X, y).coef_ < 0)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=0, atol=1e-4)


def _sk_logistic(**kwargs):
    return sk.LogisticRegression(tol=1e-12, max_iter=100_000, **kwargs)


@pytest.mark.parametrize(
    "ours, ref",
    [
        (dict(C=0.5), dict(C=0.5, l1_ratio=1.0, solver="saga")),
        (dict(C=0.5, class_weight="balanced"), dict(C=0.5, l1_ratio=1.0, solver="saga", class_weight="balanced")),
        (dict(C=0.5, class_weight={0: 1.0, 1: 3.0}), dict(C=0.5, l1_ratio=1.0, solver="saga",
                                                           class_weight={0: 1.0, 1: 3.0})),
        (dict(C=0.2, l1_ratio=0.5), dict(C=0.2, l1_ratio=0.5, solver="saga")),
        (dict(C=1.0, penalty="l2"), dict(C=1.0, l1_ratio=0.0)),
        (dict(C=0.05, penalty="elasticnet", l1_ratio=0.3), dict(C=0.05, l1_ratio=0.3, solver="saga")),
        (dict(penalty=None), dict(C=np.inf, solver="newton-cg")),
        (dict(C=np.inf), dict(C=np.inf, solver="newton-cg")),
    ],
    ids=str,
)
@pytest.mark.parametrize("weighted", [False, True])
def test_logistic_sklearn_keywords_match_sklearn(ours, ref, weighted, imbalanced):
    X, y = imbalanced
    sw = np.random.default_rng(0).integers(1, 4, len(y)).astype(float) if weighted else None
    # tol bounds the objective's suboptimality, so the coefficients' error goes as its square root; without
    # a penalty nothing holds them near the solution's kinks, and 1e-12 leaves errors of ~1e-6
    tol = 1e-15 if ref["C"] == np.inf else TIGHT["tol"]
    a = LogisticRegressionL1(**ours, tol=tol, max_iter=TIGHT["max_iter"]).fit(X, y, sample_weight=sw)
    b = _sk_logistic(**ref).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=1e-6)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=0, atol=1e-6)
    assert (a.coef_ == 0).sum() == (b.coef_ == 0).sum()


def test_logistic_C_is_alpha_over_the_weights(imbalanced):
    X, y = imbalanced
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    by_c = LogisticRegressionL1(C=0.3, **TIGHT).fit(X, y, sample_weight=sw)
    by_alpha = LogisticRegressionL1(alpha=1 / (0.3 * sw.sum()), **TIGHT).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(by_c.coef_, by_alpha.coef_, rtol=0, atol=1e-10)
    assert (by_c.coef_ == 0).any()
    # alpha is not what C=None reads: the default alpha gives another model
    assert np.abs(LogisticRegressionL1(**TIGHT).fit(X, y, sample_weight=sw).coef_ - by_c.coef_).max() > 1e-3


def test_logistic_warm_start(binary):
    X, y = binary
    model = LogisticRegressionL1(alpha=0.02, warm_start=True, **TIGHT).fit(X, y)
    first, coef = int(model.n_iter_[0]), model.coef_.copy()
    model.fit(X, y)
    assert int(model.n_iter_[0]) < first
    np.testing.assert_allclose(model.coef_, coef, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dual=True), "dual=True"),
        (dict(penalty="l3"), "penalty"),
        (dict(C=0.0), "C must be"),
        (dict(C=-1.0), "C must be"),
        (dict(l1_ratio=0.5, positive=True), "positive=True"),
        (dict(solver="newton"), "solver"),
        (dict(intercept_scaling=0), "intercept_scaling"),
    ],
)
def test_logistic_bad_keywords(kwargs, match, binary):
    X, y = binary
    with pytest.raises(ValueError, match=match):
        LogisticRegressionL1(**kwargs).fit(X, y)


def test_a_stopped_fit_warns_once_with_scikit_learns_warning():
    import warnings as _w

    from sklearn.datasets import make_regression
    from sklearn.exceptions import ConvergenceWarning as SkWarning

    import jaxl1

    X, y = make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)
    with _w.catch_warnings(record=True) as caught:
        _w.simplefilter("always")
        from jaxl1.sklearn import Lasso as JLasso

        JLasso(alpha=0.1, tol=1e-14, max_iter=1).fit(X, y)
    kinds = [type(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert kinds.count(SkWarning) == 1 and not any(issubclass(k, jaxl1.ConvergenceWarning) for k in kinds)

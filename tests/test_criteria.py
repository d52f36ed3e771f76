"""``jaxl1.information_criterion``: AIC and BIC against scikit-learn's ``LassoLarsIC`` on its own grid, the
profile and extended BIC and the deviance criteria against their formulas in numpy, and the refusals."""

import numpy as np
import pytest
from scipy.special import gammaln
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LassoLarsIC, lars_path

import jaxl1

KW = dict(tol=1e-13, max_iter=200_000)


@pytest.fixture(scope="module")
def diabetes():
    return load_diabetes(return_X_y=True)


@pytest.mark.parametrize("criterion", ["aic", "bic"])
@pytest.mark.parametrize("noise_variance", [None, 2500.0])
def test_matches_lassolarsic_on_its_grid(diabetes, criterion, noise_variance):
    X, y = diabetes
    ref = LassoLarsIC(criterion=criterion, noise_variance=noise_variance).fit(X, y)
    n = X.shape[0]
    # halfway between LARS's knots (in log alpha) no coefficient is at its entry point, so the supports are
    # unambiguous; there the LARS path is linear in alpha between its two knots
    knots = ref.alphas_[:-1]
    mids = np.sqrt(knots[1:] * knots[:-1])
    Xc, yc = X - X.mean(0), y - y.mean()
    alphas, _, C = lars_path(Xc, yc, method="lasso")
    np.testing.assert_allclose(alphas[:-1], knots, rtol=1e-12)
    W = np.stack([np.array([np.interp(-a, -alphas, C[j]) for j in range(X.shape[1])]) for a in mids])
    rss = ((yc[:, None] - Xc @ W.T) ** 2).sum(0)
    c = 2.0 if criterion == "aic" else np.log(n)
    want = n * np.log(2 * np.pi * ref.noise_variance_) + rss / ref.noise_variance_ + c * (W != 0).sum(1)
    path = jaxl1.fit_path(X, y, lambdas=mids, **KW)
    ic = jaxl1.information_criterion(path, X, y, criterion=criterion, noise_variance=noise_variance)
    np.testing.assert_allclose(ic.criterion, want, rtol=1e-9)
    np.testing.assert_allclose(ic.noise_variance, ref.noise_variance_, rtol=1e-10)
    np.testing.assert_array_equal(ic.df, (W != 0).sum(1))
    # on the knots themselves, where every coefficient but an entering one is away from zero, the same as
    # LassoLarsIC's criterion_ wherever the supports agree
    at = jaxl1.information_criterion(jaxl1.fit_path(X, y, lambdas=knots, **KW), X, y, criterion=criterion,
                                     noise_variance=noise_variance)
    same = np.asarray(at.df) == (np.abs(C[:, :-1]) > np.finfo(float).eps).sum(0)
    assert same.mean() > 0.7
    np.testing.assert_allclose(np.asarray(at.criterion)[same], ref.criterion_[:-1][same], rtol=1e-9)


def test_profile_and_extended_bic_follow_their_formulas(diabetes):
    X, y = diabetes
    n, p = X.shape
    path = jaxl1.fit_path(X, y, n_lambdas=25, **KW)
    W, b = np.asarray(path.coef), np.asarray(path.intercept)
    rss = ((y[:, None] - X @ W.T - b) ** 2).sum(0)
    df = (W != 0).sum(1)
    prof = jaxl1.information_criterion(path, X, y, criterion="bic", noise_variance="profile")
    np.testing.assert_allclose(prof.criterion, n * np.log(rss / n) + np.log(n) * df, rtol=1e-10)
    np.testing.assert_array_equal(prof.df, df)
    assert np.isnan(float(prof.noise_variance))
    ebic = jaxl1.information_criterion(path, X, y, criterion="ebic", noise_variance="profile", gamma=1.0)
    binom = gammaln(p + 1) - gammaln(df + 1) - gammaln(p - df + 1)
    np.testing.assert_allclose(ebic.criterion, n * np.log(rss / n) + np.log(n) * df + 2 * binom, rtol=1e-10)
    assert int(ebic.df[ebic.index]) <= int(prof.df[prof.index])
    zero = jaxl1.information_criterion(path, X, y, criterion="ebic", noise_variance="profile", gamma=0.0)
    np.testing.assert_allclose(zero.criterion, prof.criterion, rtol=1e-12)


def test_logistic_aic_is_the_deviance_plus_twice_the_support():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    w = np.linspace(0.5, 1.5, len(y))
    path = jaxl1.fit_path(X, y, loss="logistic", n_lambdas=15, sample_weight=w, **KW)
    ic = jaxl1.information_criterion(path, X, y, loss="logistic", criterion="aic", sample_weight=w)
    Z = X @ np.asarray(path.coef).T + np.asarray(path.intercept)
    prob = 1 / (1 + np.exp(-Z))
    dev = -2 * (y[:, None] * np.log(prob) + (1 - y[:, None]) * np.log1p(-prob))
    wn = w * len(y) / w.sum()
    np.testing.assert_allclose(ic.criterion, wn @ dev + 2 * (np.asarray(path.coef) != 0).sum(1), rtol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    (dict(criterion="cp"), "criterion must be one of"),
    (dict(gamma=1.5, criterion="ebic"), "gamma must be a number in \\[0, 1\\]"),
    (dict(noise_variance=0.0), "noise_variance must be a positive number"),
    (dict(noise_variance="mle"), "noise_variance must be a positive number, None or 'profile'"),
])
def test_bad_input_is_refused(diabetes, kwargs, match):
    X, y = diabetes
    path = jaxl1.fit_path(X, y, n_lambdas=5)
    with pytest.raises(ValueError, match=match):
        jaxl1.information_criterion(path, X, y, **kwargs)


def test_refusals_that_depend_on_the_data(diabetes):
    X, y = diabetes
    path = jaxl1.fit_path(X[:8], y[:8], n_lambdas=5)
    with pytest.raises(ValueError, match="noise_variance: it cannot be estimated by least squares with n=8"):
        jaxl1.information_criterion(path, X[:8], y[:8])
    with pytest.raises(ValueError, match="path: its coefficients"):
        jaxl1.information_criterion(path, X[:8, :5], y[:8])
    with pytest.raises(ValueError, match="noise_variance applies to the squared loss only"):
        jaxl1.information_criterion(path, X[:8], (y[:8] > 150).astype(float), loss="logistic", noise_variance=1.0)


@pytest.mark.parametrize("noise_variance", [None, "profile", 3000.0])
def test_rows_of_zero_weight_are_absent(diabetes, noise_variance):
    X, y = diabetes
    rng = np.random.default_rng(0)
    Xz, yz = np.vstack([X, rng.standard_normal((50, X.shape[1]))]), np.r_[y, rng.standard_normal(50)]
    sw = np.r_[np.ones(len(y)), np.zeros(50)]
    lams = np.geomspace(1.0, 0.01, 8)
    plain = jaxl1.information_criterion(jaxl1.fit_path(X, y, lambdas=lams, **KW), X, y, noise_variance=noise_variance)
    path = jaxl1.fit_path(Xz, yz, lambdas=lams, sample_weight=sw, **KW)
    zeroed = jaxl1.information_criterion(path, Xz, yz, noise_variance=noise_variance, sample_weight=sw)
    np.testing.assert_allclose(zeroed.criterion, plain.criterion, rtol=1e-8)


def test_the_profile_criterion_refuses_the_saturated_fits():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 100))
    y = X[:, :3] @ np.array([3.0, -2.0, 2.0]) + rng.standard_normal(30)
    path = jaxl1.fit_path(X, y, n_lambdas=40, eps=1e-3, **KW)
    ic = jaxl1.information_criterion(path, X, y, noise_variance="profile", criterion="ebic")
    df = np.asarray(ic.df)
    assert df.max() >= 28  # the path reaches (near) interpolation
    assert np.all(np.isinf(np.asarray(ic.criterion)[df + 1 >= 29]))
    assert np.all(np.isfinite(np.asarray(ic.criterion)[df + 1 < 29]))
    assert np.isfinite(float(ic.criterion[ic.index]))

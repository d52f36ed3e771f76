"""``PathResult.at``: glmnet's ``coef(fit, s=, exact=)``, interpolation or a refit on the merged grid, against
scikit-learn's ``Lasso`` and ``LogisticRegression`` at strengths off the grid, and the refusals."""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import Lasso, LogisticRegression

import jaxl1

KW = dict(tol=1e-13, max_iter=200_000)


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y, jaxl1.fit_path(X, y, n_lambdas=10, **KW)


def test_exact_is_the_lasso_off_the_grid(diabetes):
    X, y, path = diabetes
    lams = np.array([0.3, 5.0, float(path.lambdas[4]), 0.07])  # in any order, one on the grid
    coef, b = path.at(lams, X, y, exact=True, **KW)
    assert coef.shape == (4, 10) and b.shape == (4,)
    for lam, c, bb in zip(lams, np.asarray(coef), np.asarray(b)):
        ref = Lasso(alpha=lam, tol=1e-14, max_iter=1_000_000).fit(X, y)
        np.testing.assert_allclose(c, ref.coef_, atol=1e-6 * np.abs(ref.coef_).max())
        np.testing.assert_allclose(bb, ref.intercept_, rtol=1e-8)
    # interpolation differs off the grid, and agrees with the exact one on it
    ci, _ = path.at(lams)
    assert np.abs(np.asarray(ci[0]) - np.asarray(coef[0])).max() > 1e-3
    np.testing.assert_allclose(ci[2], coef[2], atol=1e-6 * np.abs(coef[2]).max())
    c1, b1 = path.at(0.3, X, y, exact=True, **KW)
    assert c1.shape == (10,) and np.ndim(b1) == 0
    np.testing.assert_allclose(c1, coef[0], atol=1e-9 * np.abs(coef[0]).max())


def test_exact_logistic_with_options():
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = y.astype(float)
    path = jaxl1.fit_path(X, y, loss="logistic", n_lambdas=8, eps=0.05, **KW)
    lam = 0.013
    coef, b = path.at(lam, X, y, exact=True, loss="logistic", **KW)
    ref = LogisticRegression(C=1 / (lam * len(y)), l1_ratio=1.0, solver="liblinear", tol=1e-12,
                             max_iter=100_000, intercept_scaling=1e4).fit(X, y)
    np.testing.assert_allclose(coef, ref.coef_[0], atol=2e-4 * np.abs(ref.coef_).max())


def test_refusals(diabetes):
    X, y, path = diabetes
    with pytest.raises(ValueError, match="X"):
        path.at(0.5, exact=True)
    with pytest.raises(ValueError, match="X"):
        path.at(0.5, X, y)
    with pytest.raises(ValueError, match="lambdas"):
        path.at(-1.0, X, y, exact=True)

"""Coefficient matrices: the multi-task lasso (2-D y, squared loss) and multinomial logistic regression.

References: scikit-learn's ``MultiTaskLasso`` / ``MultiTaskLassoCV`` and ``LogisticRegression`` (saga,
multinomial), the optimality conditions computed in numpy, finite differences for the gradients.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression, MultiTaskLasso, MultiTaskLassoCV

import jaxl1
from jaxl1.losses import Multinomial


N, P, T = 60, 8, 3


@pytest.fixture(scope="module")
def task_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, P)) * np.linspace(0.5, 3.0, P) + 1.0
    W = np.zeros((P, T))
    W[:3] = rng.standard_normal((3, T))
    Y = X @ W + 0.3 * rng.standard_normal((N, T)) + 2.0
    return X, Y


@pytest.fixture(scope="module")
def class_data():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((N, P))
    y = np.arange(N) % 3
    rng.shuffle(y)
    X[:, 0] += 1.5 * (y == 1)
    X[:, 1] -= 1.5 * (y == 2)
    X[:, 2] += 0.8 * (y == 0)
    return X, y


def _softmax(Z):
    Z = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def _multinomial_objective(X, y, W, b, alpha, grouped=False):
    Z = X @ W + b
    Zm = Z.max(axis=1)
    lse = Zm + np.log(np.exp(Z - Zm[:, None]).sum(axis=1))
    pen = np.sqrt((W**2).sum(axis=1)).sum() if grouped else np.abs(W).sum()
    return np.mean(lse - Z[np.arange(len(y)), y]) + alpha * pen


# --------------------------------------------------------------------------- #
# multi-task lasso
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("form", ["gram", "data"])
def test_multitask_fit_matches_sklearn(task_data, form):
    X, Y = task_data
    for alpha in (0.5, 0.05):
        res = jaxl1.fit(X, Y, jaxl1.L21(alpha), tol=1e-14, form=form)
        sk = MultiTaskLasso(alpha=alpha, tol=1e-14, max_iter=200_000).fit(X, Y)
        assert res.coef.shape == (P, T) and res.intercept.shape == (T,)
        assert bool(res.converged) and res.certificate == "duality_gap"
        np.testing.assert_allclose(res.coef, sk.coef_.T, atol=1e-8)
        np.testing.assert_allclose(res.intercept, sk.intercept_, atol=1e-8)
        # rows enter together
        rows = np.abs(np.asarray(res.coef)).sum(axis=1) > 0
        assert np.all((np.asarray(res.coef)[rows] != 0).all(axis=1))
    np.testing.assert_allclose(res.predict(X[:5]), sk.predict(X[:5]), atol=1e-7)


def test_multitask_path_and_cv_match_sklearn(task_data):
    X, Y = task_data
    path = jaxl1.fit_path(X, Y, grouped=True, n_lambdas=8, eps=1e-2, tol=1e-13)
    assert path.coef.shape == (8, P, T) and path.intercept.shape == (8, T) and bool(path.converged.all())
    assert path.predict(X[:4]).shape == (4, 8, T)
    assert bool(jnp.all(path.coef[0] == 0)) and bool(jnp.any(path.coef[1] != 0))
    # the grid starts at scikit-learn's alpha_max: max_j ||X_j' (Y - Ybar)|| / n
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    lam_max = np.sqrt(((Xc.T @ Yc) ** 2).sum(axis=1)).max() / N
    np.testing.assert_allclose(path.lambdas[0], lam_max, rtol=1e-12)
    np.testing.assert_allclose(jaxl1.lambda_max(X, Y, grouped=True), lam_max, rtol=1e-12)
    for i in (2, 5, 7):
        sk = MultiTaskLasso(alpha=float(path.lambdas[i]), tol=1e-14, max_iter=200_000).fit(X, Y)
        np.testing.assert_allclose(path.coef[i], sk.coef_.T, atol=1e-7)
    cv = jaxl1.cross_validate(X, Y, grouped=True, lambdas=path.lambdas, n_folds=3, tol=1e-13)
    skcv = MultiTaskLassoCV(alphas=np.asarray(path.lambdas), cv=3, tol=1e-14, max_iter=200_000).fit(X, Y)
    np.testing.assert_allclose(cv.fold_scores, skcv.mse_path_.T, rtol=1e-6)
    assert float(cv.lambda_best) == pytest.approx(skcv.alpha_, rel=1e-12)
    assert cv.predict(X[:3]).shape == (3, T)


def test_multitask_sparse_standardize_and_entrywise(task_data):
    X, Y = task_data
    dense = jaxl1.fit(X, Y, jaxl1.L21(0.1), tol=1e-14)
    sparse = jaxl1.fit(sp.csr_matrix(X), Y, jaxl1.L21(0.1), tol=1e-14)
    np.testing.assert_allclose(sparse.coef, dense.coef, atol=1e-9)
    np.testing.assert_allclose(sparse.intercept, dense.intercept, atol=1e-9)
    # standardize: the same as standardizing by hand and mapping back
    sd = X.std(axis=0)
    std = jaxl1.fit(X, Y, jaxl1.L21(0.1), tol=1e-14, standardize=True)
    hand = jaxl1.fit(X / sd, Y, jaxl1.L21(0.1), tol=1e-14)
    np.testing.assert_allclose(std.coef, hand.coef / sd[:, None], atol=1e-9)
    np.testing.assert_allclose(std.intercept, hand.intercept, atol=1e-9)
    # the entrywise L1 on a matrix is one lasso per response
    both = jaxl1.fit(X, Y, jaxl1.L1(0.1), tol=1e-14)
    for t in range(T):
        one = jaxl1.fit(X, Y[:, t], jaxl1.L1(0.1), tol=1e-14)
        np.testing.assert_allclose(both.coef[:, t], one.coef, atol=1e-9)
        np.testing.assert_allclose(both.intercept[t], one.intercept, atol=1e-9)


def test_multitask_gradient_matches_finite_differences(task_data):
    X, Y = task_data

    def f(lam):
        r = jaxl1.fit(X, Y, jaxl1.L21(lam), tol=1e-14)
        return jnp.sum(r.coef**2) + jnp.sum(r.intercept)

    h = 1e-6
    fd = (f(0.1 + h) - f(0.1 - h)) / (2 * h)
    assert float(jax.grad(f)(0.1)) == pytest.approx(float(fd), rel=1e-5)


# --------------------------------------------------------------------------- #
# multinomial
# --------------------------------------------------------------------------- #
def test_multinomial_matches_sklearn_saga(class_data):
    X, y = class_data
    alpha = 0.02
    res = jaxl1.fit(X, y, jaxl1.L1(alpha), loss="multinomial", tol=1e-13)
    assert res.coef.shape == (P, 3) and res.intercept.shape == (3,) and bool(res.converged)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = LogisticRegression(l1_ratio=1.0, C=1 / (N * alpha), solver="saga", tol=1e-12,
                                max_iter=100_000).fit(X, y)
    ours = _multinomial_objective(X, y, np.asarray(res.coef), np.asarray(res.intercept), alpha)
    theirs = _multinomial_objective(X, y, sk.coef_.T, sk.intercept_, alpha)
    assert ours <= theirs + 1e-10
    assert ours == pytest.approx(theirs, abs=1e-8)
    P_ours = np.asarray(jax.nn.softmax(res.predict(X), axis=1))
    np.testing.assert_allclose(P_ours, sk.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("grouped", [False, True])
def test_multinomial_optimality_conditions(class_data, grouped):
    X, y = class_data
    alpha = 0.03
    pen = jaxl1.L21(alpha) if grouped else jaxl1.L1(alpha)
    res = jaxl1.fit(X, y, pen, loss="multinomial", tol=1e-14)
    W, b = np.asarray(res.coef), np.asarray(res.intercept)
    Y = np.eye(3)[y]
    R = _softmax(X @ W + b) - Y
    G = X.T @ R / N
    np.testing.assert_allclose(R.sum(axis=0), 0.0, atol=1e-9)  # the intercepts are optimal
    if grouped:
        norms = np.sqrt((W**2).sum(axis=1))
        on = norms > 0
        np.testing.assert_allclose(G[on], -alpha * W[on] / norms[on, None], atol=1e-7)
        assert np.all(np.sqrt((G[~on] ** 2).sum(axis=1)) <= alpha * (1 + 1e-7))
        assert 0 < on.sum() < P
    else:
        on = W != 0
        np.testing.assert_allclose(G[on], -alpha * np.sign(W[on]), atol=1e-7)
        assert np.all(np.abs(G[~on]) <= alpha * (1 + 1e-7))
        assert 0 < on.sum() < W.size


def test_multinomial_path_cv_sparse_and_weights(class_data):
    X, y = class_data
    path = jaxl1.fit_path(X, y, loss="multinomial", n_lambdas=8, eps=1e-2, tol=1e-12)
    assert path.coef.shape == (8, P, 3) and bool(path.converged.all())
    assert bool(jnp.all(path.coef[0] == 0)) and bool(jnp.any(path.coef[1] != 0))
    # lambda_max: the largest entry of the gradient at W = 0 with the intercepts at the class frequencies
    G0 = X.T @ (np.bincount(y) / N - np.eye(3)[y]) / N
    np.testing.assert_allclose(path.lambdas[0], np.abs(G0).max(), rtol=1e-10)
    single = jaxl1.fit(X, y, jaxl1.L1(path.lambdas[4]), loss="multinomial", tol=1e-12)
    np.testing.assert_allclose(jax.nn.softmax(path.predict(X)[:, 4], axis=1),
                               jax.nn.softmax(single.predict(X), axis=1), atol=1e-6)
    grouped = jaxl1.fit_path(X, y, loss="multinomial", lambdas=path.lambdas, grouped=True, tol=1e-12)
    assert bool(grouped.converged.all())
    np.testing.assert_allclose(jaxl1.lambda_max(X, y, loss="multinomial", grouped=True),
                               np.sqrt((G0**2).sum(axis=1)).max(), rtol=1e-10)
    # sparse X: the same answers
    sparse = jaxl1.fit(sp.csr_matrix(X), y, jaxl1.L1(0.03), loss="multinomial", tol=1e-13)
    dense = jaxl1.fit(X, y, jaxl1.L1(0.03), loss="multinomial", tol=1e-13)
    np.testing.assert_allclose(jax.nn.softmax(sparse.predict(X), axis=1), jax.nn.softmax(dense.predict(X), axis=1),
                               atol=1e-7)
    # (p,) penalty factors apply to a feature's coefficient of every class; 0 leaves it free
    v = np.ones(P)
    v[5] = 0.0
    free = jaxl1.fit(X, y, jaxl1.L1(0.5, v), loss="multinomial", tol=1e-12)
    assert bool(jnp.all(free.coef[np.array([0, 1, 2, 3, 4, 6, 7])] == 0)) and bool(jnp.any(free.coef[5] != 0))
    # cross-validation scores by the deviance, per fold
    cv = jaxl1.cross_validate(X, y, loss="multinomial", lambdas=path.lambdas, n_folds=3, tol=1e-10)
    folds = np.repeat(np.arange(3), N // 3)
    for k in (0, 2):
        tr = folds != k
        fk = jaxl1.fit(X[tr], y[tr], jaxl1.L1(path.lambdas[3]), loss="multinomial", tol=1e-12)
        Pk = _softmax(np.asarray(fk.predict(X[~tr])))
        dev = -2 * np.mean(np.log(Pk[np.arange((~tr).sum()), y[~tr]]))
        assert float(cv.fold_scores[k, 3]) == pytest.approx(dev, rel=1e-5)


def test_multinomial_gradient_matches_finite_differences(class_data):
    X, y = class_data

    def f(lam, grouped):
        pen = jaxl1.L21(lam) if grouped else jaxl1.L1(lam)
        r = jaxl1.fit(X, y, pen, loss="multinomial", tol=1e-14)
        return jnp.sum(jax.nn.log_softmax(X[:5] @ r.coef + r.intercept, axis=1)[:, 2])

    h = 1e-6
    for grouped in (False, True):
        fd = (f(0.02 + h, grouped) - f(0.02 - h, grouped)) / (2 * h)
        assert float(jax.grad(f)(0.02, grouped)) == pytest.approx(float(fd), rel=1e-4)


def test_multinomial_under_jit_with_n_classes(class_data):
    X, y = class_data
    fitted = jax.jit(lambda X, y: jaxl1.fit(X, y, jaxl1.L1(0.05), loss=Multinomial(n_classes=3)).coef)(X, y)
    plain = jaxl1.fit(X, y, jaxl1.L1(0.05), loss="multinomial").coef
    np.testing.assert_allclose(fitted, plain, atol=1e-10)
    with pytest.raises(ValueError, match=r"\by\b.*n_classes"):
        jax.jit(lambda X, y: jaxl1.fit(X, y, jaxl1.L1(0.05), loss="multinomial").coef)(X, y)


def test_bad_input(class_data, task_data):
    X, y = class_data
    with pytest.raises(ValueError, match=r"\by\b.*integer labels"):
        jaxl1.fit(X, y + 0.5, jaxl1.L1(0.1), loss="multinomial")
    with pytest.raises(ValueError, match=r"\by\b.*integer labels"):
        jaxl1.fit(X, y - 1, jaxl1.L1(0.1), loss="multinomial")
    with pytest.raises(ValueError, match=r"label\(s\) \[1\]"):
        jaxl1.fit(X, np.where(y == 1, 2, y), jaxl1.L1(0.1), loss="multinomial")
    with pytest.raises(ValueError, match="single class"):
        jaxl1.fit(X, np.zeros(N), jaxl1.L1(0.1), loss="multinomial")
    with pytest.raises(ValueError, match=r"n_classes"):
        Multinomial(n_classes=1)
    Xt, Y = task_data
    with pytest.raises(ValueError, match=r"\by must be 1-D"):
        jaxl1.fit(Xt, Y, jaxl1.L1(0.1), loss="logistic")
    with pytest.raises(ValueError, match=r"\bbounds\b"):
        jaxl1.fit(Xt, Y, jaxl1.L1(0.1), bounds=(0, None))
    with pytest.raises(ValueError, match=r"positive=True"):
        jaxl1.fit_path(Xt, Y, positive=True)
    with pytest.raises(ValueError, match=r"\bgrouped\b.*l1_ratio"):
        jaxl1.fit_path(Xt, Y, grouped=True, l1_ratio=0.5)
    with pytest.raises(ValueError, match=r"\binit\b"):
        jaxl1.fit(Xt, Y, jaxl1.L21(0.1), init=np.zeros(P))
    with pytest.raises(ValueError, match=r"\bweights\b"):
        jaxl1.L21(0.1, weights=np.ones((P, T)))


@pytest.mark.parametrize("l1_ratio", [0.5, 0.0])
def test_multinomial_elastic_net_with_an_intercept_is_certified(l1_ratio):
    """The gap's dual point, centred for the intercept, is brought back inside the conjugate's domain (it read 0 at
    a wrong point: KKT residuals of 2e-4, the intercepts' derivative 3e-6).  Against the optimality conditions in
    numpy and, for the pure L2 penalty, scikit-learn's multinomial ``LogisticRegression``."""
    from scipy.special import softmax
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    n, alpha = len(y), 0.01
    Y = np.eye(3)[y]
    res = jaxl1.fit(X, y, jaxl1.ElasticNet(alpha, l1_ratio), loss="multinomial", tol=1e-10, max_iter=100_000)
    assert bool(res.converged)
    W, b = np.asarray(res.coef), np.asarray(res.intercept)
    P = softmax(X @ W + b, axis=1)
    G = X.T @ (P - Y) / n + alpha * (1 - l1_ratio) * W
    t = alpha * l1_ratio
    kkt = np.where(W != 0, G + t * np.sign(W), np.maximum(np.abs(G) - t, 0))
    assert np.abs(kkt).max() < 1e-5
    assert np.abs((P - Y).mean(axis=0)).max() < 1e-6
    if l1_ratio == 0.0:
        ref = LogisticRegression(C=1 / (n * alpha), tol=1e-12, max_iter=10_000).fit(X, y)
        objective = lambda P, W: -np.mean(np.log(np.sum(P * Y, axis=1))) + alpha / 2 * np.sum(W**2)
        ours, theirs = objective(P, W), objective(ref.predict_proba(X), ref.coef_.T)
        assert ours <= theirs + 1e-9 * theirs
        np.testing.assert_allclose(P, ref.predict_proba(X), atol=1e-5)

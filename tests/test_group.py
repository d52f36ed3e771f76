"""The group lasso and the sparse-group lasso: the penalties against closed forms, brute force and a
root finder; the paths against celer's and skglm's group solvers on the same objective and against the
optimality conditions computed in numpy; gradients against finite differences; the refusals."""

import celer
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from skglm import GeneralizedLinearEstimator, GroupLasso
from skglm.datafits import QuadraticGroup
from skglm.penalties import WeightedL1GroupL2
from skglm.solvers import GroupBCD

import jaxl1

jax.config.update("jax_enable_x64", True)

N, P = 120, 24
GROUPS = np.repeat(np.arange(8), [2, 3, 4, 1, 3, 5, 2, 4])  # uneven sizes, contiguous (celer's and skglm's layout)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(N, P)) * rng.uniform(0.5, 2.0, P) + rng.normal(size=P)
    w = np.zeros(P)
    w[GROUPS == 1] = [1.5, -2.0, 0.7]
    w[GROUPS == 5] = rng.normal(size=5)
    w[GROUPS == 5][0] = 0.0
    y = X @ w + 0.5 + rng.normal(size=N)
    return X, y


def sizes_of(groups):
    return np.bincount(groups)


def group_norms(v, groups):
    return np.sqrt(np.bincount(groups, weights=v * v))


# --------------------------------------------------------------------------- #
# numpy references
# --------------------------------------------------------------------------- #
def np_objective(X, y, w, b, lam, alpha, c, groups):
    r = y - X @ w - b
    return 0.5 * np.mean(r * r) + lam * (alpha * np.abs(w).sum() + (1 - alpha) * np.sum(c * group_norms(w, groups)))


def kkt_violation(X, y, w, b, lam, alpha, c, groups):
    """Largest violation of the sparse-group lasso's optimality conditions (squared loss, intercept).

    A zero group needs ``||S_{lam alpha}(g_g)|| <= lam (1 - alpha) c_g``; in a nonzero group, a zero
    coordinate ``|g_j| <= lam alpha``, a nonzero one ``g_j + lam alpha sign(w_j) + lam (1 - alpha) c_g
    w_j / ||w_g|| = 0``, with ``g`` the gradient of the loss.
    """
    n = len(y)
    g = -(X.T @ (y - X @ w - b)) / n
    worst = abs(np.mean(y - X @ w - b))
    norms = group_norms(w, groups)
    for k in range(groups.max() + 1):
        j = groups == k
        if norms[k] == 0:
            s = np.sign(g[j]) * np.maximum(np.abs(g[j]) - lam * alpha, 0.0)
            worst = max(worst, np.linalg.norm(s) - lam * (1 - alpha) * c[k])
            continue
        on = w[j] != 0
        grad = g[j] + lam * alpha * np.sign(w[j]) + lam * (1 - alpha) * c[k] * w[j] / norms[k]
        worst = max(worst, np.max(np.abs(grad[on]), initial=0.0))
        worst = max(worst, np.max(np.abs(g[j][~on]) - lam * alpha, initial=0.0))
    return worst


def assert_logistic_group_optimal(X, yb, path, groups):
    """The group lasso's optimality conditions for the logistic loss (intercept, default factors) at every
    strength of ``path`` after the first, computed in numpy."""
    c = np.sqrt(sizes_of(groups))
    for i in range(1, len(path.lambdas)):
        w, b = np.asarray(path.coef[i]), float(path.intercept[i])
        pr = 1 / (1 + np.exp(-(X @ w + b)))
        g = X.T @ (pr - yb) / len(yb)
        lam = float(path.lambdas[i])
        norms = group_norms(w, groups)
        assert abs(np.mean(pr - yb)) < 1e-6
        for k in range(groups.max() + 1):
            j = groups == k
            if norms[k] == 0:
                assert np.linalg.norm(g[j]) <= lam * c[k] * (1 + 1e-6)
            else:
                np.testing.assert_allclose(g[j], -lam * c[k] * w[j] / norms[k], atol=1e-5 * lam)


def np_sgl_dual_norm(v, alpha, c, groups):
    """max_g of the root t of ||S_{alpha t}(v_g)|| = (1 - alpha) c_g t, by scipy's brentq."""
    best = 0.0
    for k in range(groups.max() + 1):
        a = np.abs(v[groups == k])
        f = lambda t: np.linalg.norm(np.maximum(a - alpha * t, 0.0)) - (1 - alpha) * c[k] * t
        hi = a.max() / alpha if alpha > 0 else np.linalg.norm(a) / c[k]
        best = max(best, scipy.optimize.brentq(f, 0.0, hi, xtol=1e-15, rtol=1e-15) if f(0) > 0 else 0.0)
    return best


# --------------------------------------------------------------------------- #
# the penalties
# --------------------------------------------------------------------------- #
def test_weighted_group_l1_closed_forms():
    groups = (0, 0, 1, 1, 1, 2)
    c = np.array([0.5, 2.0, 0.0])
    pen = jaxl1.GroupL1(0.8, groups=groups, weights=c)
    x = np.array([3.0, -4.0, 0.1, 0.2, -0.2, 7.0])
    norms = group_norms(x, np.array(groups))
    np.testing.assert_allclose(pen.value(jnp.asarray(x)), 0.8 * np.sum(c * norms), rtol=1e-14)
    t = 1.3
    shrink = np.maximum(1 - t * 0.8 * c / norms, 0.0)[list(groups)]
    np.testing.assert_allclose(pen.prox(jnp.asarray(x), t), shrink * x, rtol=1e-14)
    # group 2 has factor 0: free, left out of the dual norm and of lambda_max
    np.testing.assert_array_equal(pen.free(jnp.asarray(x)), [False] * 5 + [True])
    np.testing.assert_allclose(pen.dual_norm(jnp.asarray(x)), np.max(norms[:2] / (0.8 * c[:2])), rtol=1e-14)
    np.testing.assert_allclose(pen.max_strength(jnp.asarray(x)), np.max(norms[:2] / c[:2]), rtol=1e-14)
    # the default factors are the square roots of the sizes
    np.testing.assert_allclose(jaxl1.GroupL1(1.0, groups=groups).value(jnp.asarray(x)),
                               np.sum(np.sqrt([2, 3, 1]) * norms), rtol=1e-14)


def test_sparse_group_prox_is_the_minimizer():
    rng = np.random.default_rng(0)
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    c = np.array([1.0, 0.5, 2.0])
    for alpha, t in ((0.3, 0.8), (0.9, 2.0), (0.05, 0.4)):
        pen = jaxl1.SparseGroupL1(0.7, alpha, groups=tuple(groups), weights=c)
        x = rng.normal(size=9) * 2
        z = np.asarray(pen.prox(jnp.asarray(x), t))
        f = lambda u: 0.5 * np.sum((u - x) ** 2) / t + float(pen.value(jnp.asarray(u)))
        # the prox's optimality: x - z in t times the subdifferential at z (checked per group, in numpy)
        g = (z - x) / t  # must be -(subgradient of P at z)
        for k in range(3):
            j = groups == k
            nz = np.linalg.norm(z[j])
            if nz == 0:
                s = np.sign(g[j]) * np.maximum(np.abs(g[j]) - 0.7 * alpha, 0.0)
                assert np.linalg.norm(s) <= 0.7 * (1 - alpha) * c[k] + 1e-12
            else:
                on = z[j] != 0
                resid = g[j] + 0.7 * alpha * np.sign(z[j]) + 0.7 * (1 - alpha) * c[k] * z[j] / nz
                assert np.max(np.abs(resid[on])) < 1e-12
                assert np.all(np.abs(g[j][~on]) <= 0.7 * alpha + 1e-12)
        # and no random perturbation does better
        assert all(f(z) <= f(z + 1e-3 * rng.normal(size=9)) for _ in range(200))


def test_sparse_group_dual_norm_against_a_root_finder():
    rng = np.random.default_rng(1)
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    c = np.array([1.0, 0.5, 2.0, 1.0])
    for alpha in (0.02, 0.3, 0.95, 1.0):
        v = rng.normal(size=10)
        pen = jaxl1.SparseGroupL1(2.5, alpha, groups=tuple(groups), weights=c)
        np.testing.assert_allclose(float(pen.dual_norm(jnp.asarray(v))), np_sgl_dual_norm(v, alpha, c, groups) / 2.5,
                                   rtol=1e-13)
        np.testing.assert_allclose(float(pen.max_strength(jnp.asarray(v))), np_sgl_dual_norm(v, alpha, c, groups),
                                   rtol=1e-13)
    # alpha = 0 is the group lasso's dual norm
    v = rng.normal(size=10)
    sgl = jaxl1.SparseGroupL1(1.0, 0.0, groups=tuple(groups), weights=c)
    np.testing.assert_allclose(sgl.dual_norm(jnp.asarray(v)), np.max(group_norms(v, groups) / c), rtol=1e-14)


# --------------------------------------------------------------------------- #
# paths against celer and skglm
# --------------------------------------------------------------------------- #
def test_group_lasso_path_matches_celer_and_skglm(data):
    X, y = data
    c = np.sqrt(sizes_of(GROUPS))
    path = jaxl1.fit_path(X, y, groups=GROUPS, n_lambdas=12, eps=0.02, tol=1e-12)
    assert bool(path.converged.all()) and path.certificate == "duality_gap"
    lam_max = float(jaxl1.lambda_max(X, y, groups=GROUPS))
    np.testing.assert_allclose(path.lambdas[0], lam_max, rtol=1e-14)
    g = X.T @ (y - y.mean()) / N
    np.testing.assert_allclose(lam_max, np.max(group_norms(g, GROUPS) / c), rtol=1e-12)
    assert not np.any(path.coef[0]) and np.any(path.coef[1])
    members = [list(np.flatnonzero(GROUPS == k)) for k in range(GROUPS.max() + 1)]
    for i in (2, 6, 11):
        lam = float(path.lambdas[i])
        ref = celer.GroupLasso(groups=members, alpha=lam, weights=c, tol=1e-14, max_epochs=100_000).fit(X, y)
        sk = GroupLasso(groups=members, alpha=lam, weights=c, tol=1e-12, max_epochs=100_000).fit(X, y)
        for coef, b in ((ref.coef_, ref.intercept_), (sk.coef_, sk.intercept_)):
            np.testing.assert_allclose(path.coef[i], coef, atol=1e-6 * np.abs(coef).max())
            np.testing.assert_allclose(path.intercept[i], b, rtol=1e-6)
        ours = np_objective(X, y, np.asarray(path.coef[i]), float(path.intercept[i]), lam, 0.0, c, GROUPS)
        theirs = np_objective(X, y, ref.coef_, ref.intercept_, lam, 0.0, c, GROUPS)
        assert ours <= theirs * (1 + 1e-10)
        # whole groups enter together: every group is all zero or all nonzero
        nz = np.asarray(path.coef[i]) != 0
        assert all(nz[GROUPS == k].all() or not nz[GROUPS == k].any() for k in range(8))
        assert kkt_violation(X, y, np.asarray(path.coef[i]), float(path.intercept[i]), lam, 0.0, c, GROUPS) < 1e-6


def test_sparse_group_lasso_path_matches_skglm(data):
    X, y = data
    alpha = 0.4
    c = np.array([1.0, 0.5, 2.0, 1.0, 1.5, 1.0, 0.7, 1.2])
    path = jaxl1.fit_path(X, y, groups=GROUPS, l1_ratio=alpha, weights=c, n_lambdas=10, eps=0.02, tol=1e-12)
    assert bool(path.converged.all())
    g = X.T @ (y - y.mean()) / N
    np.testing.assert_allclose(path.lambdas[0], np_sgl_dual_norm(g, alpha, c, GROUPS), rtol=1e-12)
    assert not np.any(path.coef[0]) and np.any(path.coef[1])
    ptr = np.concatenate([[0], np.cumsum(sizes_of(GROUPS))]).astype(np.int32)
    idx = np.arange(P, dtype=np.int32)
    Xc, yc = X - X.mean(0), y - y.mean()  # skglm's group solver fits no intercept: centre as the intercept does
    within_zero = 0
    for i in (3, 6, 9):
        lam = float(path.lambdas[i])
        pen = WeightedL1GroupL2(lam, (1 - alpha) * c, np.full(P, alpha), ptr, idx)
        est = GeneralizedLinearEstimator(QuadraticGroup(ptr, idx), pen, GroupBCD(tol=1e-13, max_iter=10_000, ws_strategy="fixpoint",
                                                                                 max_epochs=100_000, fit_intercept=False))
        ref = est.fit(Xc, yc).coef_
        np.testing.assert_allclose(path.coef[i], ref, atol=1e-6 * np.abs(ref).max())
        w, b = np.asarray(path.coef[i]), float(path.intercept[i])
        assert kkt_violation(X, y, w, b, lam, alpha, c, GROUPS) < 1e-6
        norms = group_norms(w, GROUPS)
        within_zero += int(np.sum((w == 0) & (norms[GROUPS] > 0)))
    assert within_zero > 0  # zeros inside selected groups: what the sparse-group lasso adds to the group lasso


def test_group_path_logistic_optimality_and_sparse_x(data):
    X, y = data
    yb = (y > np.median(y)).astype(float)
    path = jaxl1.fit_path(X, yb, loss="logistic", groups=GROUPS, n_lambdas=6, eps=0.05, tol=1e-10)
    assert bool(path.converged.all())
    assert_logistic_group_optimal(X, yb, path, GROUPS)
    sparse = jaxl1.fit_path(sp.csr_matrix(X), yb, loss="logistic", groups=GROUPS, n_lambdas=6, eps=0.05, tol=1e-10)
    np.testing.assert_allclose(sparse.coef, path.coef, atol=1e-6)


def test_zero_factor_group_is_unpenalized(data):
    X, y = data
    c = np.sqrt(sizes_of(GROUPS)).astype(float)
    c[2] = 0.0
    path = jaxl1.fit_path(X, y, groups=GROUPS, weights=c, n_lambdas=5, tol=1e-14)
    free = GROUPS == 2
    # at lambda_max the free group is fitted by least squares with the rest zero (the coefficients' error is
    # about the square root of the objective's, which the gap bounds)
    Xc, yc = X - X.mean(0), y - y.mean()
    ls = np.linalg.lstsq(Xc[:, free], yc, rcond=None)[0]
    np.testing.assert_allclose(path.coef[0][free], ls, atol=1e-5 * np.abs(ls).max())
    assert not np.any(path.coef[0][~free]) and np.any(path.coef[1][~free])


def test_cross_validate_with_groups_scores_the_fold_paths(data):
    X, y = data
    folds = np.arange(N) % 3
    cv = jaxl1.cross_validate(X, y, groups=GROUPS, folds=folds, n_lambdas=8, tol=1e-12)
    full = jaxl1.fit_path(X, y, groups=GROUPS, n_lambdas=8, tol=1e-12)
    np.testing.assert_allclose(cv.path.coef, full.coef, atol=1e-9)
    for k in range(3):
        tr = folds != k
        fold = jaxl1.fit_path(X[tr], y[tr], groups=GROUPS, lambdas=cv.lambdas, tol=1e-12)
        mse = ((y[~tr][:, None] - np.asarray(fold.predict(X[~tr]))) ** 2).mean(0)
        np.testing.assert_allclose(cv.fold_scores[k], mse, rtol=1e-7)


# --------------------------------------------------------------------------- #
# gradients
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("alpha", [0.0, 0.4])
def test_group_gradients_match_finite_differences(data, alpha):
    X, y = data
    Xv, yv = X[:40] + 0.1, y[:40]
    lams = np.asarray(jaxl1.fit_path(X, y, groups=GROUPS, l1_ratio=alpha, n_lambdas=4, eps=0.1).lambdas)

    def score(lams, y):
        path = jaxl1.fit_path(X, y, groups=GROUPS, l1_ratio=alpha, lambdas=lams, tol=1e-14)
        return jnp.sum((yv[:, None] - path.predict(Xv)) ** 2)

    g_lam, g_y = jax.grad(score, argnums=(0, 1))(lams, y)
    h = 1e-6
    for i in (1, 3):
        e = np.zeros(4)
        e[i] = h * lams[i]
        fd = (score(lams + e, y) - score(lams - e, y)) / (2 * e[i])
        np.testing.assert_allclose(g_lam[i], fd, rtol=1e-4)
    d = np.random.default_rng(5).normal(size=N)
    fd = (score(lams, y + h * d) - score(lams, y - h * d)) / (2 * h)
    np.testing.assert_allclose(jnp.vdot(g_y, d), fd, rtol=1e-4)


def test_fit_gradient_through_group_penalty(data):
    X, y = data

    def coef_sum(lam, weights):
        return jnp.sum(jaxl1.fit(X, y, jaxl1.GroupL1(lam, groups=tuple(GROUPS), weights=weights), tol=1e-14).coef ** 2)

    c = np.sqrt(sizes_of(GROUPS)).astype(float)
    lam = 0.3 * float(jaxl1.lambda_max(X, y, groups=GROUPS))
    g_lam, g_c = jax.grad(coef_sum, argnums=(0, 1))(lam, c)
    h = 1e-6
    np.testing.assert_allclose(g_lam, (coef_sum(lam + h, c) - coef_sum(lam - h, c)) / (2 * h), rtol=1e-4)
    e = np.zeros(8)
    e[1] = h
    np.testing.assert_allclose(g_c[1], (coef_sum(lam, c + e) - coef_sum(lam, c - e)) / (2 * h), rtol=1e-4)


# --------------------------------------------------------------------------- #
# refusals
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("kwargs, match", [
    (dict(groups=np.arange(P - 1)), "one id per column"),
    (dict(groups=np.where(GROUPS == 3, 9, GROUPS)), "id 3 has no column"),
    (dict(groups=GROUPS.astype(float)), "integer group ids"),
    (dict(groups=GROUPS - 1), "non-negative"),
    (dict(groups=GROUPS, weights=np.ones(P)), r"one factor per group"),
    (dict(groups=GROUPS, weights=-np.ones(8)), "non-negative"),
    (dict(groups=GROUPS, standardize=True), "standardize"),
    (dict(groups=GROUPS, bounds=(0, None)), "bounds"),
    (dict(groups=GROUPS, positive=True), "positive"),
    (dict(groups=GROUPS, penalty="mcp"), "penalty"),
])
def test_group_path_refusals(data, kwargs, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        jaxl1.fit_path(X, y, n_lambdas=3, **kwargs)


def test_group_penalty_refusals():
    with pytest.raises(ValueError, match="need groups"):
        jaxl1.GroupL1(1.0, axis=0, weights=(1.0,))
    with pytest.raises(ValueError, match="one entry per group"):
        jaxl1.GroupL1(1.0, groups=(0, 1, 1), weights=(1.0,))
    with pytest.raises(ValueError, match="groups"):
        jaxl1.SparseGroupL1(1.0, 0.5)
    with pytest.raises(ValueError, match="l1_ratio"):
        jaxl1.SparseGroupL1(1.0, 1.5, groups=(0, 1))
    with pytest.raises(ValueError, match="2-D y"):
        jaxl1.fit_path(np.ones((4, 2)) + np.eye(4, 2), np.ones((4, 2)), groups=[0, 1], n_lambdas=2)


# --------------------------------------------------------------------------- #
# the scikit-learn estimator
# --------------------------------------------------------------------------- #
def test_estimator_matches_celer_and_skglm(data):
    from jaxl1.sklearn import GroupLasso as JGroupLasso

    X, y = data
    members = [list(np.flatnonzero(GROUPS == k)) for k in range(GROUPS.max() + 1)]
    c = np.sqrt(sizes_of(GROUPS))
    lam = 0.3 * float(jaxl1.lambda_max(X, y, groups=GROUPS))
    ref = celer.GroupLasso(groups=members, alpha=lam, weights=c, tol=1e-14, max_epochs=100_000).fit(X, y)
    for groups in (GROUPS, members):  # ids or lists of columns; default weights sqrt(size)
        est = JGroupLasso(alpha=lam, groups=groups, tol=1e-12, max_iter=100_000).fit(X, y)
        np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-6 * np.abs(ref.coef_).max())
        np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-6)
        np.testing.assert_allclose(est.predict(X), X @ est.coef_ + est.intercept_, rtol=1e-12)
    sp_est = JGroupLasso(alpha=lam, groups=GROUPS, tol=1e-12, max_iter=100_000).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sp_est.coef_, ref.coef_, atol=1e-6 * np.abs(ref.coef_).max())
    # contiguous groups of a size, as celer's and skglm's integer groups
    size = 4 if P % 4 == 0 else 2
    sk = GroupLasso(groups=size, alpha=lam, weights=np.full(P // size, np.sqrt(size)), tol=1e-12,
                    max_epochs=100_000).fit(X, y)
    est = JGroupLasso(alpha=lam, groups=size, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(est.coef_, sk.coef_, atol=1e-6 * np.abs(sk.coef_).max())
    # the sparse-group lasso: alpha * (rho ||w||_1 + (1 - rho) sum c_g ||w_g||) against skglm
    rho = 0.4
    ptr = np.concatenate([[0], np.cumsum(sizes_of(GROUPS))]).astype(np.int32)
    idx = np.arange(P, dtype=np.int32)
    pen = WeightedL1GroupL2(lam, (1 - rho) * c, np.full(P, rho), ptr, idx)
    sgl = GeneralizedLinearEstimator(QuadraticGroup(ptr, idx), pen, GroupBCD(
        tol=1e-13, max_iter=10_000, ws_strategy="fixpoint", max_epochs=100_000, fit_intercept=False))
    want = sgl.fit(X - X.mean(0), y - y.mean()).coef_
    est = JGroupLasso(alpha=lam, groups=GROUPS, l1_ratio=rho, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(est.coef_, want, atol=1e-6 * np.abs(want).max())


def test_estimator_refusals(data):
    from jaxl1.sklearn import GroupLasso as JGroupLasso

    X, y = data
    for groups, match in ((P + 1, "divide"), ([[0, 1]], "no group"), ([[0, 1], [1, 2]], "more than one"),
                          ([[0, P]], "column indices"), (np.zeros(P - 1, int), "one id per column")):
        with pytest.raises(ValueError, match=match):
            JGroupLasso(alpha=0.1, groups=groups).fit(X, y)
    with pytest.raises(ValueError, match="weights"):
        JGroupLasso(alpha=0.1, groups=GROUPS, weights=np.ones(3)).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio"):
        JGroupLasso(alpha=0.1, groups=GROUPS, l1_ratio=1.0).fit(X, y)


# --------------------------------------------------------------------------- #
# working sets of whole groups (p > n: the rounds see a few groups at a time)
# --------------------------------------------------------------------------- #
WIDE_N = 40
WIDE_GROUPS = np.repeat(np.arange(40), np.resize([1, 4, 2, 5, 3, 7, 2, 6], 40))  # uneven: padded layouts


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(11)
    p = WIDE_GROUPS.size
    X = rng.normal(size=(WIDE_N, p)) * rng.uniform(0.5, 2.0, p)
    w = np.zeros(p)
    for k in (1, 6, 13, 39):  # 39: the last column's group, with a padding slot after it in the layout
        w[WIDE_GROUPS == k] = rng.normal(size=np.sum(WIDE_GROUPS == k))
    y = X @ w + 0.3 * rng.normal(size=WIDE_N)
    return X, y


def test_group_working_sets_on_a_wide_problem(wide):
    """p = 150 > n = 40 and rounds of 5 groups (of 40; 20 once more groups are nonzero): the path equals celer's,
    meets the optimality conditions in numpy, and equals plain FISTA on every coordinate (``ws_size=0``)."""
    from jaxl1.solvers._working_set import group_layout
    X, y = wide
    table = group_layout(WIDE_GROUPS)
    assert table.shape == (40, 7) and set(table[table < X.shape[1]]) == set(range(X.shape[1]))
    for k in range(40):
        assert sorted(table[k][table[k] < X.shape[1]]) == list(np.flatnonzero(WIDE_GROUPS == k))
    c = np.sqrt(sizes_of(WIDE_GROUPS))
    members = [list(np.flatnonzero(WIDE_GROUPS == k)) for k in range(40)]
    for alpha in (0.0, 0.5):
        path = jaxl1.fit_path(X, y, groups=WIDE_GROUPS, l1_ratio=alpha, n_lambdas=8, eps=0.01, tol=1e-12, ws_size=20)
        plain = jaxl1.fit_path(X, y, groups=WIDE_GROUPS, l1_ratio=alpha, lambdas=path.lambdas, tol=1e-12, ws_size=0)
        assert bool(path.converged.all()) and bool(plain.converged.all())
        np.testing.assert_allclose(path.coef, plain.coef, atol=1e-6 * np.abs(plain.coef).max())
        # more groups enter than the first size of round holds (5 of 40)
        assert np.sum(group_norms(np.asarray(path.coef[-1]), WIDE_GROUPS) > 0) > 5
        for i in (2, 5, 7):
            lam = float(path.lambdas[i])
            w, b = np.asarray(path.coef[i]), float(path.intercept[i])
            assert kkt_violation(X, y, w, b, lam, alpha, c, WIDE_GROUPS) < 1e-6 * lam
            if alpha == 0.0:
                ref = celer.GroupLasso(groups=members, alpha=lam, weights=c, tol=1e-14, max_epochs=100_000).fit(X, y)
                np.testing.assert_allclose(w, ref.coef_, atol=1e-6 * np.abs(ref.coef_).max())


def test_group_working_sets_logistic_wide_and_sparse(wide):
    """The prox-Newton rounds on whole groups (logistic loss, p > n, padded layout): the optimality conditions
    in numpy, plain FISTA, and a sparse X give the same path."""
    X, y = wide
    yb = (y > np.median(y)).astype(float)
    kw = dict(loss="logistic", groups=WIDE_GROUPS, n_lambdas=6, eps=0.1, tol=1e-11)
    path = jaxl1.fit_path(X, yb, ws_size=45, **kw)
    plain = jaxl1.fit_path(X, yb, lambdas=path.lambdas, ws_size=0, **{k: v for k, v in kw.items() if k != "n_lambdas"})
    sparse = jaxl1.fit_path(sp.csr_matrix(X), yb, ws_size=45, **kw)
    assert bool(path.converged.all()) and bool(sparse.converged.all())
    np.testing.assert_allclose(path.coef, plain.coef, atol=1e-5)
    np.testing.assert_allclose(sparse.coef, path.coef, atol=1e-5)
    assert_logistic_group_optimal(X, yb, path, WIDE_GROUPS)


def test_group_rounds_apply_only_where_a_round_is_smaller_than_the_problem():
    """Uneven groups pad every group to the largest: one group of 100 columns beside 50 single columns
    would make a first round (64 coordinates: 21 groups, 2100 slots) larger than the problem, so FISTA
    runs; even groups of 5 among 500 columns take rounds of 13 groups; vmapped lanes take FISTA."""
    from jaxl1.solvers._working_set import group_rounds_apply
    uneven = jaxl1.GroupL1(1.0, groups=tuple(np.repeat(np.arange(51), [100] + [1] * 50)))
    even = jaxl1.GroupL1(1.0, groups=tuple(np.repeat(np.arange(100), 5)))
    assert not group_rounds_apply(uneven, 64, batched=False)
    assert group_rounds_apply(even, 64, batched=False)
    assert not group_rounds_apply(even, 64, batched=True) and not group_rounds_apply(even, 0, batched=False)
    assert not group_rounds_apply(jaxl1.GroupL1(1.0), 64, batched=False)  # one group per leaf: no ids


def test_group_working_sets_in_the_gram_form():
    """n = 400 > p = 300 (the Gram form) with uneven groups: rounds on whole groups gathered from the Gram
    matrix (64 coordinates' worth first, padded) give the path of FISTA on every coordinate and meet the
    optimality conditions in numpy, for the group and the sparse-group lasso."""
    from jaxl1.solvers._working_set import group_rounds_apply

    rng = np.random.default_rng(17)
    groups = np.repeat(np.arange(80), np.resize([1, 4, 2, 5, 3, 7, 2, 6], 80))  # 80 groups of 1 to 7 columns
    n, p = 400, groups.size
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 2.0, p)
    w = np.zeros(p)
    for k in (2, 9, 40, 79):  # 79: the last column's group
        w[groups == k] = rng.normal(size=np.sum(groups == k))
    y = X @ w + 0.5 * rng.normal(size=n)
    assert p == 300 and group_rounds_apply(jaxl1.GroupL1(1.0, groups=tuple(groups)), 64, batched=False)
    c = np.sqrt(sizes_of(groups))
    for alpha in (0.0, 0.5):
        path = jaxl1.fit_path(X, y, groups=groups, l1_ratio=alpha, n_lambdas=8, eps=0.01, tol=1e-12)
        plain = jaxl1.fit_path(X, y, groups=groups, l1_ratio=alpha, lambdas=path.lambdas, tol=1e-12, ws_size=0)
        assert bool(path.converged.all()) and bool(plain.converged.all())
        np.testing.assert_allclose(path.coef, plain.coef, atol=1e-6 * np.abs(plain.coef).max())
        assert np.sum(group_norms(np.asarray(path.coef[-1]), groups) > 0) > 10
        for i in (3, 7):
            lam = float(path.lambdas[i])
            assert kkt_violation(X, y, np.asarray(path.coef[i]), float(path.intercept[i]), lam, alpha, c, groups) < 1e-6 * lam

"""MCP and SCAD: the proxes against their closed forms and a brute-force minimization, the fits and paths
against an independent coordinate-descent solver in numpy (ncvreg's algorithm) and the stationarity
conditions computed in numpy, gradients against finite differences, and the refusals."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxl1

jax.config.update("jax_enable_x64", True)


# --------------------------------------------------------------------------- #
# numpy references
# --------------------------------------------------------------------------- #
def np_penalty(kind, r, lam, g):
    r = np.abs(r)
    if kind == "mcp":
        return np.where(r <= g * lam, lam * r - r * r / (2 * g), g * lam * lam / 2)
    mid = (2 * g * lam * r - r * r - lam * lam) / (2 * (g - 1))
    return np.where(r <= lam, lam * r, np.where(r <= g * lam, mid, (g + 1) * lam * lam / 2))


def np_derivative(kind, r, lam, g):
    r = np.abs(r)
    if kind == "mcp":
        return np.maximum(lam - r / g, 0.0)
    return np.where(r <= lam, lam, np.maximum(g * lam - r, 0.0) / (g - 1))


def np_prox(kind, x, lam, g, t):
    """Closed forms (firm thresholding; Fan and Li's rule), valid for ``t < g`` (MCP) and ``t < g - 1`` (SCAD)."""
    a, sg = np.abs(x), np.sign(x)
    if kind == "mcp":
        return np.where(a <= t * lam, 0.0, np.where(a <= g * lam, sg * (a - t * lam) / (1 - t / g), x))
    soft = sg * np.maximum(a - t * lam, 0.0)
    mid = ((g - 1) * x - sg * t * g * lam) / (g - 1 - t)
    return np.where(a <= lam * (1 + t), soft, np.where(a <= g * lam, mid, x))


def np_cd_path(kind, X, y, lambdas, g, n_sweeps=5000, tol=1e-14):
    """Cyclic coordinate descent on (1/2n)||y_c - X_c w||^2 + sum p(|w_j|), warm-started down the grid."""
    n, p = X.shape
    Xc, yc = X - X.mean(0), y - y.mean()
    a = (Xc ** 2).sum(0) / n
    w = np.zeros(p)
    r = yc.copy()
    out = []
    for lam in lambdas:
        for _ in range(n_sweeps):
            biggest = 0.0
            for j in range(p):
                z = Xc[:, j] @ r / n / a[j] + w[j]
                new = np_prox(kind, np.array([z]), lam, g, 1.0 / a[j])[0]
                if new != w[j]:
                    r -= Xc[:, j] * (new - w[j])
                    biggest = max(biggest, abs(new - w[j]))
                    w[j] = new
            if biggest < tol:
                break
        out.append(w.copy())
    return np.array(out)


def wide_problem(n, p, truth, seed, n_lambdas):
    """A standardized p > n problem with the coefficients ``truth`` ({index: value}), noise sd 0.3, and a grid
    from lambda_max down to 0.1 lambda_max."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X = (X - X.mean(0)) / X.std(0)
    beta = np.zeros(p)
    beta[list(truth)] = list(truth.values())
    y = X @ beta + 0.3 * rng.standard_normal(n)
    lam_max = float(jaxl1.lambda_max(X, y))
    return X, y, np.geomspace(lam_max, 0.1 * lam_max, n_lambdas)


WIDE = dict(n=60, p=300, truth={3: 2.0, 50: -1.5, 120: 1.0, 200: 1.2}, seed=8, n_lambdas=8)


@functools.lru_cache
def wide_cd_path(kind, g):
    """Coordinate descent's path of the ``WIDE`` problem (shared by the tests that solve it)."""
    X, y, lams = wide_problem(**WIDE)
    return np_cd_path(kind, X, y, lams, g)


def assert_cd_path(path, ref):
    """The same zeros as coordinate descent's path ``ref``, and the same coefficients to 1e-9."""
    np.testing.assert_array_equal(np.asarray(path.coef) != 0, ref != 0)
    np.testing.assert_allclose(np.asarray(path.coef), ref, atol=1e-9)


def objective(kind, X, y, w, b, lam, g):
    return 0.5 * np.mean((y - X @ w - b) ** 2) + np.sum(np_penalty(kind, w, lam, g))


@pytest.fixture(scope="module")
def problem():
    """A well-separated problem: 6 strong features among 40, columns of about unit scale (so that the
    coordinate problems of gamma = 3 and a = 3.7 are convex, as CD's closed forms need)."""
    rng = np.random.default_rng(5)
    n, p = 150, 40
    X = rng.standard_normal((n, p)) * rng.uniform(0.9, 1.4, p)
    beta = np.zeros(p)
    beta[[0, 5, 11, 17, 23, 31]] = [2.0, -1.5, 1.2, -1.0, 0.8, 0.6]
    y = X @ beta + 0.5 * rng.standard_normal(n) + 1.0
    return X, y


KINDS = [("mcp", 3.0), ("scad", 3.7)]


def make(kind, lam, g, weights=None):
    return jaxl1.MCP(lam, gamma=g, weights=weights) if kind == "mcp" else jaxl1.SCAD(lam, a=g, weights=weights)


# --------------------------------------------------------------------------- #
# the penalties
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("kind,g", [("mcp", 1.5), ("mcp", 3.0), ("scad", 2.5), ("scad", 3.7)])
def test_value_and_prox_closed_forms(kind, g):
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, 400)
    lam = 0.8
    pen = make(kind, lam, g)
    np.testing.assert_allclose(float(pen.value(jnp.asarray(x))), np.sum(np_penalty(kind, x, lam, g)), rtol=1e-13)
    for t in (0.2, 0.7, 0.95 * (g if kind == "mcp" else g - 1)):
        np.testing.assert_allclose(np.asarray(pen.prox(jnp.asarray(x), t)), np_prox(kind, x, lam, g, t), atol=1e-12)
    d = np.asarray(pen.derivative(jnp.asarray(x)))
    np.testing.assert_allclose(d, np_derivative(kind, x, lam, g), atol=1e-12)


@pytest.mark.parametrize("kind,g", [("mcp", 1.5), ("scad", 2.5)])
def test_prox_is_the_global_minimizer_for_long_steps(kind, g):
    """Steps beyond the convex regime (``t >= gamma``, ``t >= a - 1``): the prox is still the exact argmin."""
    lam = 0.7
    pen = make(kind, lam, g)
    grid = np.linspace(-10, 10, 200_001)
    for t in (g, 2.0 * g, 5.0):
        for x in np.linspace(-7, 7, 57):
            z = float(pen.prox(jnp.array([x]), t)[0])
            f = lambda v: 0.5 * (v - x) ** 2 + t * np_penalty(kind, v, lam, g)
            assert f(np.array(z)) <= f(grid).min() + 1e-12


def test_prox_pytree_dtype_and_weights():
    tree = {"a": jnp.array([0.5, 2.0, -5.0], jnp.float32), "b": jnp.array([[1.5]], jnp.float32)}
    pen = jaxl1.MCP(1.0, weights={"a": jnp.array([1.0, 0.0, 1.0]), "b": jnp.array([[2.0]])})
    out = pen.prox(tree, 1.0)
    assert out["a"].dtype == jnp.float32 and out["b"].shape == (1, 1)
    np.testing.assert_allclose(out["a"], [0.0, 2.0, -5.0])  # the weight 0 leaves 2.0 untouched
    assert float(out["b"][0, 0]) == 0.0  # threshold 2 > 1.5
    assert jnp.asarray(jaxl1.SCAD(0.5).prox(jnp.zeros(3, jnp.float32), 0.1)).dtype == jnp.float32


def test_refusals():
    for bad in (1.0, 0.5, -2.0):
        with pytest.raises(ValueError, match="gamma"):
            jaxl1.MCP(1.0, gamma=bad)
    with pytest.raises(ValueError, match="a must be > 2"):
        jaxl1.SCAD(1.0, a=2.0)
    with pytest.raises(ValueError, match="strength"):
        jaxl1.MCP(-1.0)
    with pytest.raises(ValueError, match="Bounded"):
        jaxl1.Bounded(jaxl1.MCP(1.0), 0.0, None)


# --------------------------------------------------------------------------- #
# fit and fit_path
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("kind,g", KINDS)
def test_path_matches_coordinate_descent(problem, kind, g):
    """The same grid walked down from lambda_max by numpy's CD: the same supports, the same stationary points."""
    X, y = problem
    # the stationarity measure is in objective units (||G||^2 / 2L): 1e-22 puts the coefficients within ~1e-11
    path = jaxl1.fit_path(X, y, penalty=kind, gamma=g, n_lambdas=15, eps=1e-2, tol=1e-22)
    assert path.certificate == "optimality" and bool(path.converged.all())
    lams = np.asarray(path.lambdas)
    np.testing.assert_allclose(lams[0], np.max(np.abs((X - X.mean(0)).T @ (y - y.mean()))) / len(y), rtol=1e-12)
    ref = np_cd_path(kind, X, y, lams, g)
    coef = np.asarray(path.coef)
    np.testing.assert_array_equal(coef != 0, ref != 0)
    np.testing.assert_allclose(coef, ref, atol=1e-9)
    for k in range(len(lams)):
        b = y.mean() - X.mean(0) @ coef[k]
        np.testing.assert_allclose(float(path.intercept[k]), b, atol=1e-10)
        assert objective(kind, X, y, coef[k], b, lams[k], g) <= \
            objective(kind, X, y, ref[k], y.mean() - X.mean(0) @ ref[k], lams[k], g) + 1e-12
    # the well-separated truth is recovered at a moderate strength, unshrunk (MCP's flat part)
    assert set(np.flatnonzero(coef[8])) == {0, 5, 11, 17, 23, 31}


def stationarity(kind, X, y, w, b, lam, g, loss="squared"):
    """The largest violation of the stationarity conditions, from numpy, per unit of each column's norm
    (the violation in the coordinates of unit-norm columns, where every coordinate counts alike)."""
    z = X @ w + b
    u = (z - y) if loss == "squared" else 1 / (1 + np.exp(-z)) - y
    grad = X.T @ u / len(y)
    d = np.sqrt(np.mean((X - X.mean(0)) ** 2, axis=0))
    on = w != 0
    viol = np.where(on, np.abs(grad + np.sign(w) * np_derivative(kind, w, lam, g)), np.maximum(np.abs(grad) - lam, 0))
    return max(np.max(viol / d), abs(np.mean(u)))


@pytest.mark.parametrize("kind,g", KINDS)
@pytest.mark.parametrize("form", ["gram", "data"])
def test_fit_is_stationary_on_unscaled_columns(problem, kind, g, form):
    X, y = problem
    X = X * np.array([1e-3, 1e3] * 20)  # the columns on very different scales: the steps do not care
    lam = 0.05
    res = jaxl1.fit(X, y, make(kind, lam, g), form=form, tol=1e-14)
    assert res.certificate == "optimality" and bool(res.converged)
    assert stationarity(kind, X, y, np.asarray(res.coef), float(res.intercept), lam, g) < 1e-6


@pytest.mark.parametrize("kind,g", KINDS)
def test_logistic_path_is_stationary(problem, kind, g):
    X, y = problem
    yb = (y > np.median(y)).astype(float)
    path = jaxl1.fit_path(X, yb, loss="logistic", penalty=kind, gamma=g, n_lambdas=8, eps=0.05, tol=1e-12)
    assert bool(path.converged.all())
    for k in range(8):
        v = stationarity(kind, X, yb, np.asarray(path.coef[k]), float(path.intercept[k]), float(path.lambdas[k]), g,
                         loss="logistic")
        assert v < 1e-5


def test_standardize_is_fitting_standardized_columns(problem):
    X, y = problem
    X = X * np.linspace(0.1, 10, 40)
    sd = X.std(0)
    lams = np.array([0.3, 0.1, 0.03])
    a = jaxl1.fit_path(X, y, penalty="mcp", lambdas=lams, standardize=True, tol=1e-14)
    b = jaxl1.fit_path(X / sd, y, penalty="mcp", lambdas=lams, tol=1e-14)
    np.testing.assert_allclose(np.asarray(a.coef) * sd, np.asarray(b.coef), atol=1e-8)


def test_gradient_against_finite_differences(problem):
    """At a strength where some coefficients sit in MCP's concave part, d(sum coef^2)/d(strength) and a
    derivative along y against central differences."""
    X, y = problem
    lam = 0.4  # gamma * lam = 1.2: the smaller true coefficients are shrunk, the larger are not
    f = lambda lam, y: jnp.sum(jaxl1.fit(X, y, jaxl1.MCP(lam, gamma=3.0), tol=1e-15).coef ** 2)
    coef = np.asarray(jaxl1.fit(X, y, jaxl1.MCP(lam, gamma=3.0), tol=1e-15).coef)
    assert np.any((coef != 0) & (np.abs(coef) < 3.0 * lam))
    g_lam, g_y = jax.grad(f, argnums=(0, 1))(lam, jnp.asarray(y))
    h = 1e-6
    fd = (f(lam + h, y) - f(lam - h, y)) / (2 * h)
    np.testing.assert_allclose(float(g_lam), float(fd), rtol=1e-5)
    d = np.random.default_rng(1).standard_normal(len(y))
    fd_y = (f(lam, y + h * d) - f(lam, y - h * d)) / (2 * h)
    np.testing.assert_allclose(float(np.asarray(g_y) @ d), float(fd_y), rtol=1e-5)


def test_cross_validate_and_warning(problem):
    X, y = problem
    cv = jaxl1.cross_validate(X, y, penalty="scad", n_lambdas=10, eps=1e-2, tol=1e-12)
    full = jaxl1.fit_path(X, y, penalty="scad", n_lambdas=10, eps=1e-2, tol=1e-12)
    np.testing.assert_allclose(np.asarray(cv.path.coef), np.asarray(full.coef), atol=1e-10)
    # fold 0's score from its own path (KFold's first block held out)
    test = np.arange(len(y)) < 30
    fold = jaxl1.fit_path(X[~test], y[~test], penalty="scad", lambdas=cv.lambdas, tol=1e-12)
    pred = X[test] @ np.asarray(fold.coef).T + np.asarray(fold.intercept)
    np.testing.assert_allclose(np.asarray(cv.fold_scores[0]), np.mean((y[test, None] - pred) ** 2, axis=0), rtol=1e-7)
    with pytest.warns(jaxl1.ConvergenceWarning):
        jaxl1.fit(X, y, jaxl1.MCP(0.01), max_iter=3, tol=1e-14)


def test_path_refusals(problem):
    X, y = problem
    with pytest.raises(ValueError, match="penalty must be"):
        jaxl1.fit_path(X, y, penalty="lasso")
    with pytest.raises(ValueError, match="gamma must be finite and > 1"):
        jaxl1.fit_path(X, y, penalty="mcp", gamma=1.0)
    with pytest.raises(ValueError, match="gamma must be finite and > 2"):
        jaxl1.fit_path(X, y, penalty="scad", gamma=2.0)
    with pytest.raises(ValueError, match="gamma is the concavity"):
        jaxl1.fit_path(X, y, gamma=3.0)
    with pytest.raises(ValueError, match="l1_ratio=1"):
        jaxl1.fit_path(X, y, penalty="mcp", l1_ratio=0.5)
    with pytest.raises(ValueError, match="positive=False"):
        jaxl1.fit_path(X, y, penalty="mcp", positive=True)
    with pytest.raises(ValueError, match="bounds are not supported"):
        jaxl1.fit_path(X, y, penalty="scad", bounds=(0, None))
    with pytest.raises(ValueError, match="coefficient vector"):
        jaxl1.fit_path(X, np.c_[y, y], penalty="mcp")
    with pytest.raises(ValueError, match="Bounded"):
        jaxl1.fit(X, y, jaxl1.MCP(0.1), bounds=(0, None))


# --------------------------------------------------------------------------- #
# estimators
# --------------------------------------------------------------------------- #
def test_estimators_are_fit(problem):
    import scipy.sparse
    from jaxl1.sklearn import MCPRegression, SCADRegression

    X, y = problem
    for est, pen in ((MCPRegression(alpha=0.1, gamma=2.5, tol=1e-12), jaxl1.MCP(0.1, gamma=2.5)),
                     (SCADRegression(alpha=0.1, a=3.0, tol=1e-12), jaxl1.SCAD(0.1, a=3.0))):
        est.fit(X, y)
        ref = jaxl1.fit(X, y, pen, tol=1e-12)
        np.testing.assert_allclose(est.coef_, np.asarray(ref.coef), atol=1e-8)
        np.testing.assert_allclose(est.intercept_, float(ref.intercept), atol=1e-8)
        assert est.optimality_ <= 1e-12 * 0.5 * np.var(y) * 1.0001
        np.testing.assert_allclose(est.predict(X[:3]), X[:3] @ est.coef_ + est.intercept_)
        sparse = type(est)(**est.get_params()).fit(scipy.sparse.csr_matrix(X), y)
        np.testing.assert_allclose(sparse.coef_, est.coef_, atol=1e-7)
    with pytest.raises(ValueError, match="gamma must be > 1"):
        MCPRegression(gamma=1.0).fit(X, y)
    with pytest.raises(ValueError, match="a must be > 2"):
        SCADRegression(a=1.5).fit(X, y)


def test_optax_prox_step_leaves_zeros():
    import optax

    params = {"w": jnp.array([0.05, -2.0, 0.3])}
    tx = optax.chain(optax.sgd(0.1), jaxl1.proximal(jaxl1.MCP(1.0), learning_rate=0.1))
    state = tx.init(params)
    grads = {"w": jnp.zeros(3)}
    updates, _ = tx.update(grads, state, params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new["w"], np_prox("mcp", np.array([0.05, -2.0, 0.3]), 1.0, 3.0, 0.1), atol=1e-7)
    assert float(new["w"][0]) == 0.0


def test_skglm_same_or_lower_objective(problem):
    """skglm's MCPRegression at its default settings, on the same objective (when skglm is installed:
    benchmarks/nonconvex.py runs the full comparison)."""
    skglm = pytest.importorskip("skglm")
    X, y = problem
    lam = 0.08
    est = skglm.MCPRegression(alpha=lam, gamma=3.0, fit_intercept=True, tol=1e-10, max_iter=1000).fit(X, y)
    res = jaxl1.fit_path(X, y, penalty="mcp", lambdas=np.geomspace(float(jaxl1.lambda_max(X, y)), lam, 20), tol=1e-16)
    w, b = np.asarray(res.coef[-1]), float(res.intercept[-1])
    np.testing.assert_array_equal(w != 0, est.coef_ != 0)
    assert objective("mcp", X, y, w, b, lam, 3.0) <= objective("mcp", X, y, est.coef_, est.intercept_, lam, 3.0) + 1e-12


@pytest.mark.parametrize("kind,g", KINDS)
def test_wide_path_with_working_sets(kind, g):
    """p > n: the working-set solver (subproblems on 64 of 300 coordinates, monotone) reaches the
    stationary points of numpy's coordinate descent, and those of FISTA on every coordinate (ws_size=0)."""
    X, y, lams = wide_problem(**WIDE)
    for ws_size in (None, 0):
        assert_cd_path(jaxl1.fit_path(X, y, penalty=kind, gamma=g, lambdas=lams, tol=1e-22, max_iter=200_000,
                                      ws_size=ws_size), wide_cd_path(kind, g))


@pytest.mark.parametrize("kind,g", KINDS)
def test_local_parts_are_the_pieces(kind, g):
    """``local_parts``: on the piece that holds ``|w_j|`` the penalty is ``tau |w| + mu w^2 / 2`` plus a constant
    (numpy's closed forms), its derivative ``tau + mu |w|``; the scaled coordinates' parts are the chain rule's."""
    rng = np.random.default_rng(3)
    lam = np.array([0.5, 1.0, 2.0, 0.0])
    weights = np.repeat(lam, 50)
    w = np.concatenate([rng.uniform(-1.2, 1.2, 50) * g * s for s in (0.5, 1.0, 2.0, 1.0)])
    w[::7] = 0.0
    pen = make(kind, 1.0, g, weights=jnp.asarray(weights))
    tau, mu, piece = (np.asarray(a) for a in pen.local_parts(jnp.asarray(w)))
    on = w != 0
    np.testing.assert_allclose((tau + mu * np.abs(w))[on], np_derivative(kind, w, weights, g)[on], atol=1e-12)
    rest = np_penalty(kind, w, weights, g) - tau * np.abs(w) - 0.5 * mu * w * w
    for lam_j in lam:  # one constant per (strength, piece)
        for k in np.unique(piece):
            sel = (weights == lam_j) & (piece == k) & on
            if sel.any():
                np.testing.assert_allclose(rest[sel], rest[sel][0], atol=1e-12)
    assert set(np.unique(piece)) == ({0, 1} if kind == "mcp" else {0, 1, 2})
    d = rng.uniform(0.5, 2.0, w.size)
    u = w * d
    tau_s, mu_s, piece_s = (np.asarray(a) for a in jaxl1.ColumnScaled(pen, jnp.asarray(d)).local_parts(jnp.asarray(u)))
    np.testing.assert_array_equal(piece_s, piece)
    np.testing.assert_allclose((tau_s + mu_s * np.abs(u))[on], (np_derivative(kind, w, weights, g) / d)[on], atol=1e-12)


@pytest.mark.parametrize("kind,g", KINDS)
def test_solve_on_the_pieces_ends_the_rounds(kind, g):
    """Once the support, the signs and the pieces have settled, the rounds solve the pieces' linear system
    (Cholesky) instead of iterating on: the stationary points of numpy's coordinate descent in far fewer
    iterations than the monotone iteration alone (``has_local_parts`` off)."""
    from jaxl1.solvers import _quadratic

    X, y, lams = wide_problem(**WIDE)
    kw = dict(penalty=kind, gamma=g, lambdas=lams, tol=1e-22, max_iter=200_000)
    jax.clear_caches()
    solved = jaxl1.fit_path(X, y, **kw)
    real = _quadratic.has_local_parts
    try:
        _quadratic.has_local_parts = lambda pen: False
        jax.clear_caches()
        iterated = jaxl1.fit_path(X, y, **kw)
    finally:
        _quadratic.has_local_parts = real
        jax.clear_caches()
    for path in (solved, iterated):
        assert_cd_path(path, wide_cd_path(kind, g))
    # (34 against 770 iterations here when written)
    assert int(np.sum(solved.n_iter)) * 5 <= int(np.sum(iterated.n_iter))


@pytest.mark.parametrize("kind,g", KINDS)
def test_solve_on_the_pieces_of_a_gathered_support(kind, g):
    """Rounds of 128 coordinates (dense, more than POLISH_MAX): the support is gathered into the exact solve's
    system; the path still reaches numpy's coordinate-descent stationary points."""
    X, y, lams = wide_problem(100, 400, {7: 1.5, 90: -2.0, 210: 1.0, 333: -1.2}, seed=21, n_lambdas=6)
    path = jaxl1.fit_path(X, y, penalty=kind, gamma=g, lambdas=lams, tol=1e-22, max_iter=200_000, ws_size=128)
    assert_cd_path(path, np_cd_path(kind, X, y, lams, g))

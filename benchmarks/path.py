"""Regularization-path benchmark: jaxl1.fit_path against CPU peers, checked by one duality gap.

Every solver fits the same 100-strength path (float64, no intercept: X is
centred, standardized except for ``unscaled2000x500``, whose columns are then
rescaled from 1e-2 to 1e2, and for the squared loss y is centred) and every output is checked
here, independently of the solvers' own stopping rules, with one duality gap
written in numpy (:func:`relative_gaps`).  The target is

    gap_k <= TARGET * P_k(0)   at every strength k,   TARGET = 1e-6,

with P_k(0) the objective at w = 0.  jaxl1 runs with ``tol=1e-6`` (its own
relative gap).  A peer's tolerance is *calibrated*: the peer is first run at a
starting tolerance and, while the checked gap misses the target, its tolerance is
tightened by a fixed factor and the peer is run again (see ``SOLVERS`` for the
starting values and factors).  The calibration runs double as warm-up (numba,
jit); the timed runs then use the tolerance found.

Usage::

    python benchmarks/path.py                      # everything, median of 3
    python benchmarks/path.py --problems diabetes,cancer --repeat 1
    python benchmarks/path.py --solvers jaxl1,sklearn

Timings are wall-clock medians over ``--repeat`` runs, solvers interleaved within
each repeat (a solver whose first timed run exceeds ``--slow`` seconds is timed
once).  jaxl1's compile time is what JAX reports (``jax.monitoring``) for the
tracing, lowering and XLA compilation in all of its calls on the problem; the
first call minus the median of the later ones is shown beside it.  scikit-learn, celer and skglm run with their
BLAS limited to ``--peer-threads`` threads (default 1: coordinate descent is
sequential, and on a shared 2-core machine multi-threaded OpenBLAS level-1 calls
made celer about 28x slower); jaxl1 and jaxopt use XLA's own thread pool.
Coefficients are compared with a tight reference path (:func:`reference`).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field

import jax
import numpy as np
from scipy.special import expit, xlogy

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import jaxl1  # noqa: E402

TARGET = 1e-6  # relative duality gap asked of every solver at every strength
PASS = TARGET * (1 + 1e-3)  # tolerance on the comparison itself (rounding in P - D)
N_LAMBDAS = 100


# --------------------------------------------------------------------------- #
# problems
# --------------------------------------------------------------------------- #
@dataclass
class Problem:
    name: str
    title: str
    X: np.ndarray
    y: np.ndarray
    loss: str  # "squared" or "logistic" (labels in {0, 1})
    eps: float
    lambdas: np.ndarray = field(init=False)

    def __post_init__(self):
        n = self.X.shape[0]
        if self.loss == "squared":
            lam_max = np.max(np.abs(self.X.T @ self.y)) / n
        else:  # gradient at w = 0 of mean log(1 + exp(-t z)) is -t / (2n)
            lam_max = np.max(np.abs(self.X.T @ (self.y - 0.5))) / n
        self.lambdas = lam_max * np.geomspace(1.0, self.eps, N_LAMBDAS)


def is_sparse(X):
    import scipy.sparse as sp

    return sp.issparse(X)


def column_major(X):
    """``X`` laid out by columns for the coordinate-descent peers: Fortran order, or CSC for a sparse ``X``."""
    return X.tocsc() if is_sparse(X) else np.asfortranarray(X)


def _standardize(X):
    X = X - X.mean(axis=0)
    return X / X.std(axis=0)


def toeplitz_design(n, p, rho, rng):
    """Gaussian rows with covariance rho^|i-j| (an AR(1) recursion along the columns)."""
    Z = rng.standard_normal((n, p))
    X = np.empty((n, p), order="F")
    X[:, 0] = Z[:, 0]
    c = np.sqrt(1.0 - rho**2)
    for j in range(1, p):
        X[:, j] = rho * X[:, j - 1] + c * Z[:, j]
    return np.ascontiguousarray(X)


def sparse_truth(p, k, rng):
    w = np.zeros(p)
    idx = rng.choice(p, size=k, replace=False)
    w[idx] = rng.choice([-1.0, 1.0], size=k) * (1.0 + rng.random(k))
    return w


def toeplitz_regression(name, n, p, rho, eps, seed, snr=3.0, unscaled=False):
    """``unscaled``: the columns are then multiplied by scales log-spaced from 1e-2 to 1e2, in a random
    order (features in different units, as raw data has them); the truth is drawn for the standardized
    columns, so every feature matters as much as before."""
    rng = np.random.default_rng(seed)
    X = _standardize(toeplitz_design(n, p, rho, rng))
    w = sparse_truth(p, max(5, min(n, p) // 20), rng)
    signal = X @ w
    noise = rng.standard_normal(n)
    y = signal + noise * (np.linalg.norm(signal) / (snr * np.linalg.norm(noise)))
    title = f"Toeplitz rho={rho}, {n}x{p}, eps {eps:g}"
    if unscaled:
        X = X * rng.permutation(np.logspace(-2, 2, p))
        title += ", column scales 1e-2..1e2"
    return Problem(name, title, X, y - y.mean(), "squared", eps)


def toeplitz_logistic(name, n, p, rho, eps, seed, margin_std=2.0):
    rng = np.random.default_rng(seed)
    X = _standardize(toeplitz_design(n, p, rho, rng))
    w = sparse_truth(p, max(5, min(n, p) // 20), rng)
    z = X @ w
    z *= margin_std / z.std()
    y = (rng.random(n) < expit(z)).astype(np.float64)
    return Problem(name, f"L1-logistic, Toeplitz rho={rho}, {n}x{p}, eps {eps:g}", X, y, "logistic", eps)


def text_like(name, n, p, density, n_informative, eps, seed, snr=3.0):
    """A bag-of-words-like sparse design: word frequencies that fall off as a power of the rank (Zipf),
    tf-idf weights (``log(1 + count) * idf``) and rows of unit norm, as ``TfidfVectorizer`` gives; the
    truth has ``n_informative`` nonzero coefficients on words of middling frequency.  ``X`` stays a
    ``scipy.sparse`` CSR matrix for every solver (no intercept, no centring: centring would make it dense).
    """
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    nnz = int(density * n * p)
    freq = 1.0 / np.arange(1, p + 1) ** 0.8
    freq = rng.permutation(freq / freq.sum())  # the columns of frequent words spread over the matrix
    rows = rng.integers(0, n, nnz)
    cols = rng.choice(p, size=nnz, p=freq)
    X = sp.csr_matrix((np.ones(nnz), (rows, cols)), shape=(n, p))
    X.sum_duplicates()
    df = np.bincount(X.indices, minlength=p)
    idf = np.log((1 + n) / (1 + df)) + 1.0  # scikit-learn's smoothed idf
    X.data = np.log1p(X.data) * idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ X
    X = X.tocsr()
    order = np.argsort(df)
    middling = order[(df[order] >= 20)][: 4 * n_informative]
    w = np.zeros(p)
    idx = rng.choice(middling, size=n_informative, replace=False)
    w[idx] = rng.choice([-1.0, 1.0], n_informative) * (1.0 + rng.random(n_informative)) * np.sqrt(n / df[idx])
    signal = X @ w
    noise = rng.standard_normal(n)
    y = signal + noise * (np.linalg.norm(signal) / (snr * np.linalg.norm(noise)))
    title = f"sparse text-like {n}x{p}, density {density:g}, {n_informative} informative, eps {eps:g}"
    return Problem(name, title, X, y - y.mean(), "squared", eps)


def diabetes():
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X, y = _standardize(X), y - y.mean()
    return Problem("diabetes", f"diabetes {X.shape[0]}x{X.shape[1]}, eps 1e-3", X, y, "squared", 1e-3)


def breast_cancer():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    X = _standardize(X)
    title = f"L1-logistic, breast cancer {X.shape[0]}x{X.shape[1]}, eps 1e-3"
    return Problem("cancer", title, X, y.astype(np.float64), "logistic", 1e-3)


# --scale-n / --scale-p multiply the rows / columns of the synthetic problems (the real data sets are then
# left out): the larger versions of the same problems, for an accelerator
SCALE = {"n": 1.0, "p": 1.0}


def _size(n, p):
    return int(round(n * SCALE["n"])), int(round(p * SCALE["p"]))


PROBLEMS = {
    "diabetes": diabetes,
    "corr2000x500": lambda: toeplitz_regression("corr2000x500", *_size(2000, 500), 0.6, 1e-3, seed=0),
    "unscaled2000x500": lambda: toeplitz_regression("unscaled2000x500", *_size(2000, 500), 0.6, 1e-3, seed=0,
                                                    unscaled=True),
    "wide200x5000": lambda: toeplitz_regression("wide200x5000", *_size(200, 5000), 0.5, 1e-2, seed=1),
    "tall20000x1000": lambda: toeplitz_regression("tall20000x1000", *_size(20000, 1000), 0.5, 1e-3, seed=2),
    "cancer": breast_cancer,
    "logreg2000x500": lambda: toeplitz_logistic("logreg2000x500", *_size(2000, 500), 0.5, 1e-3, seed=3),
    "text20000x50000": lambda: text_like("text20000x50000", *_size(20000, 50000), 1e-3, 300, 1e-2, seed=4),
    # more documents than words (n > p): a sparse X that jaxl1 solves in the Gram form
    "texttall50000x1000": lambda: text_like("texttall50000x1000", *_size(50000, 1000), 1e-2, 50, 1e-3, seed=5),
}
REAL_DATA = ("diabetes", "cancer")


# --------------------------------------------------------------------------- #
# the one independent check
# --------------------------------------------------------------------------- #
def relative_gaps(prob: Problem, W: np.ndarray) -> np.ndarray:
    """Duality gap / P(0) at every strength, for coefficients ``W`` of shape (K, p).

    Squared loss, P(w) = ||y - Xw||^2 / (2n) + lam ||w||_1, dual
    D(theta) = theta.y - n ||theta||^2 / 2 over ||X' theta||_inf <= lam, at the
    rescaled residual theta = r / max(n, ||X' r||_inf / lam).

    Logistic loss, P(w) = mean log(1 + exp(-t_i x_i.w)) + lam ||w||_1 (t = 2y - 1),
    dual D(a) = -mean[a log a + (1 - a) log(1 - a)] with a_i in [0, 1] and
    ||X'(t a)||_inf / n <= lam, at the rescaled gradient
    a = sigmoid(-t z) * min(1, lam n / ||X'(t sigmoid(-t z))||_inf).
    """
    X, y, lam = prob.X, prob.y, prob.lambdas
    n = X.shape[0]
    W = np.asarray(W, dtype=np.float64)
    Z = X @ W.T  # (n, K)
    l1 = np.sum(np.abs(W), axis=1)
    if prob.loss == "squared":
        R = y[:, None] - Z
        primal = 0.5 * np.mean(R**2, axis=0) + lam * l1
        dnorm = np.max(np.abs(X.T @ R), axis=0)
        theta = R / np.maximum(n, dnorm / lam)
        dual = theta.T @ y - 0.5 * n * np.sum(theta**2, axis=0)
        p0 = 0.5 * np.mean(y**2)
    else:
        t = 2.0 * y - 1.0
        M = t[:, None] * Z
        primal = np.mean(np.logaddexp(0.0, -M), axis=0) + lam * l1
        A = expit(-M)
        dnorm = np.max(np.abs(X.T @ (t[:, None] * A)), axis=0) / n
        A = A * np.minimum(1.0, lam / np.maximum(dnorm, np.finfo(float).tiny))
        dual = -np.mean(xlogy(A, A) + xlogy(1.0 - A, 1.0 - A), axis=0)
        p0 = np.log(2.0)
    return (primal - dual) / p0


# --------------------------------------------------------------------------- #
# solvers: each maps (problem, tol) to coefficients (K, p)
# --------------------------------------------------------------------------- #
class Solver:
    name = ""
    uses_blas = True  # numpy/scipy BLAS inside: --peer-threads applies
    takes_sparse = True  # runs on a scipy.sparse X
    tol0 = None  # starting tolerance (a number, or a function of the problem)
    factor = 0.1  # multiplies the tolerance after a miss
    max_attempts = 6
    tol_note = ""

    def available(self):
        return True, ""

    def start_tol(self, prob):
        return self.tol0(prob) if callable(self.tol0) else self.tol0

    def prepare(self, prob):
        """Untimed per-problem setup (data layout, step sizes)."""

    def __call__(self, prob, tol):
        raise NotImplementedError


# JAX reports the time of each tracing, lowering and XLA compilation under these events
COMPILE_EVENTS = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration",
                  "/jax/core/compile/backend_compile_duration")
_compile_seconds = [0.0]


def _on_event(event, seconds, **_):
    if event in COMPILE_EVENTS:
        _compile_seconds[0] += seconds


jax.monitoring.register_event_duration_secs_listener(_on_event)


class Jaxl1(Solver):
    name = "jaxl1"
    uses_blas = False
    tol0 = TARGET
    max_attempts = 1
    tol_note = "fit_path(tol=1e-6): its own relative duality gap, not tuned"

    def prepare(self, prob):
        # the numpy arrays (or the scipy sparse matrix) themselves, as a user passes them: their conversion is
        # part of every timed call
        self.args = (prob.X, prob.y, prob.lambdas)
        self.last = None
        self.compile_s = 0.0  # tracing + lowering + XLA compilation over all calls on this problem

    def __call__(self, prob, tol):
        X, y, lams = self.args
        before = _compile_seconds[0]
        res = jaxl1.fit_path(X, y, loss=prob.loss, lambdas=lams, fit_intercept=False, tol=tol)
        jax.block_until_ready(res)
        self.compile_s += _compile_seconds[0] - before
        self.last = res
        return np.asarray(res.coef)


class SklearnPeer(Solver):
    name = "sklearn"
    max_attempts = 6
    tol_note = ("lasso_path: stops at gap <= tol*||y||^2 on the n-times objective, i.e. relative gap <= 2 tol, "
                "so tol starts at 5e-7 and is divided by 10 on a miss; L1-logistic: liblinear (no warm start "
                "there), its tol is relative to the initial projected gradient: starts at 1e-4, divided by 10")

    def start_tol(self, prob):
        return TARGET / 2 if prob.loss == "squared" else 1e-4

    def prepare(self, prob):
        self.Xf = column_major(prob.X)

    def __call__(self, prob, tol):
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if prob.loss == "squared":
                from sklearn.linear_model import lasso_path

                _, coefs, _ = lasso_path(self.Xf, prob.y, alphas=prob.lambdas, tol=tol, max_iter=100_000)
                return coefs.T
            from sklearn.linear_model import LogisticRegression

            n = prob.X.shape[0]
            clf = LogisticRegression(C=1.0, l1_ratio=1.0, solver="liblinear", tol=tol, fit_intercept=False,
                                     max_iter=100_000, random_state=0)
            out = []
            for lam in prob.lambdas:
                clf.set_params(C=1.0 / (n * lam))
                clf.fit(prob.X, prob.y)
                out.append(clf.coef_.ravel().copy())
            return np.array(out)


class CelerPeer(Solver):
    name = "celer"
    factor = 0.1
    tol_note = ("celer_path (warm-started along the grid; celer's LogisticRegression ignores warm_start, so the "
                "path function is used for both losses); its gap (on an extrapolated dual point) is "
                "<= tol*||y||^2/n for the lasso (relative gap <= 2 tol: starts at 5e-7) and <= tol*n*log 2 "
                "for logistic (starts at 1e-6); divided by 10 on a miss")

    def available(self):
        try:
            import celer  # noqa: F401
        except Exception as e:  # pragma: no cover - depends on the environment
            return False, f"celer not importable ({type(e).__name__}: {e})"
        return True, ""

    def start_tol(self, prob):
        return TARGET / 2 if prob.loss == "squared" else TARGET

    def prepare(self, prob):
        self.Xf = column_major(prob.X)

    def __call__(self, prob, tol):
        from celer import celer_path

        if prob.loss == "squared":
            _, coefs, _ = celer_path(self.Xf, prob.y, "lasso", alphas=prob.lambdas, tol=tol, max_iter=100,
                                     max_epochs=100_000)
        else:
            n = prob.X.shape[0]
            _, coefs, _ = celer_path(self.Xf, 2.0 * prob.y - 1.0, "logreg", alphas=n * prob.lambdas, tol=tol,
                                     max_iter=100, max_epochs=100_000, use_PN=True)
        return coefs.T


class SkglmPeer(Solver):
    name = "skglm"
    factor = 10 ** -0.5
    max_attempts = 9
    tol_note = ("Lasso.path (skglm's own warm-started path, Anderson CD) / SparseLogisticRegression "
                "(prox-Newton) fitted with warm_start=True along the grid; skglm stops on the "
                "largest KKT violation (gradient scale), so tol = c * lambda_max with c starting at 1e-6 "
                "and divided by sqrt(10) on a miss")

    def available(self):
        try:
            import skglm  # noqa: F401
        except Exception as e:  # pragma: no cover
            return False, f"skglm not importable ({type(e).__name__}: {e})"
        return True, ""

    def start_tol(self, prob):
        return 1e-6 * prob.lambdas[0]

    def prepare(self, prob):
        self.Xf = column_major(prob.X)

    def __call__(self, prob, tol):
        import skglm

        if prob.loss == "squared":
            est = skglm.Lasso(alpha=prob.lambdas[0], fit_intercept=False, warm_start=True, tol=tol,
                              max_iter=200, max_epochs=100_000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, coefs, _, _ = est.path(self.Xf, prob.y, prob.lambdas)
            return coefs.T
        else:
            est = skglm.SparseLogisticRegression(alpha=prob.lambdas[0], fit_intercept=False, warm_start=True,
                                                 tol=tol, max_iter=200, max_epochs=100_000)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for lam in prob.lambdas:
                est.set_params(alpha=lam)
                est.fit(self.Xf, prob.y)
                out.append(np.ravel(est.coef_).copy())
        return np.array(out)


class JaxoptPeer(Solver):
    name = "jaxopt"
    uses_blas = False
    takes_sparse = False
    factor = 0.1
    max_attempts = 5
    cap_s = 60.0  # budget of one solve: sets maxiter, and a solve over it ends the calibration
    max_iter = 50_000
    tol_note = ("ProximalGradient (FISTA, fixed step 1/L with L from the exact spectral norm of X, computed "
                "untimed), vmapped over the 100 strengths from w = 0; it stops on the fixed-point residual "
                "norm (gradient scale), so tol = c * lambda_max with c starting at 1e-7, divided by 10 on a "
                "miss.  One solve is held to about 60 s: maxiter = min(50000, 60 s / the time of one "
                "iteration measured on an untimed probe); a solve that hits maxiter or takes over 60 s "
                "(compile included) ends the calibration")

    def available(self):
        try:
            import jaxopt  # noqa: F401
        except Exception as e:  # pragma: no cover
            return False, f"jaxopt not importable ({type(e).__name__}: {e})"
        return True, ""

    def start_tol(self, prob):
        return 1e-7 * prob.lambdas[0]

    def prepare(self, prob):
        n = prob.X.shape[0]
        smax = np.linalg.norm(prob.X, 2)
        self.L = smax**2 / n * (1.0 if prob.loss == "squared" else 0.25)
        self.args = (jnp.asarray(prob.X), jnp.asarray(prob.y if prob.loss == "squared" else 2 * prob.y - 1),
                     jnp.asarray(prob.lambdas))
        self.compiled = {}
        # untimed probe: the cost of one vmapped iteration, to hold a solve to about cap_s
        probe_iters = 50
        f = self._build(prob, tol=0.0, maxiter=probe_iters)
        jax.block_until_ready(f(*self.args))
        t0 = time.perf_counter()
        jax.block_until_ready(f(*self.args))
        per_iter = (time.perf_counter() - t0) / probe_iters
        self.maxiter = int(max(100, min(self.max_iter, self.cap_s / per_iter)))
        self.last_iters = 0

    def _build(self, prob, tol, maxiter):
        import jaxopt

        if prob.loss == "squared":
            def fun(w, X, y):
                return 0.5 * jnp.mean(jnp.square(y - X @ w))
        else:
            def fun(w, X, t):
                return jnp.mean(jnp.logaddexp(0.0, -t * (X @ w)))
        pg = jaxopt.ProximalGradient(fun=fun, prox=jaxopt.prox.prox_lasso, stepsize=1.0 / self.L,
                                     maxiter=maxiter, tol=float(tol), acceleration=True)
        p = prob.X.shape[1]

        def one(lam, X, y):
            out = pg.run(jnp.zeros(p, X.dtype), lam, X, y)
            return out.params, out.state.iter_num

        batched = jax.vmap(one, in_axes=(0, None, None))
        return jax.jit(lambda X, y, lams: batched(lams, X, y))

    def __call__(self, prob, tol):
        if tol not in self.compiled:
            self.compiled[tol] = self._build(prob, tol, self.maxiter)
        W, iters = jax.block_until_ready(self.compiled[tol](*self.args))
        self.last_iters = int(np.max(iters))
        return np.asarray(W)

    def exhausted(self):
        return self.last_iters >= self.maxiter


SOLVERS = {s.name: s for s in (Jaxl1(), SklearnPeer(), CelerPeer(), SkglmPeer(), JaxoptPeer())}
PEERS = [name for name in SOLVERS if name != "jaxl1"]
PEER_THREADS = 1  # BLAS threads for the numpy/scipy peers (None: the libraries' default); set by --peer-threads


def call(solver, prob, tol):
    """One solve, with the BLAS thread limit applied to the peers that use numpy/scipy BLAS."""
    if solver.uses_blas and PEER_THREADS is not None:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(PEER_THREADS), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return solver(prob, tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solver(prob, tol)


# --------------------------------------------------------------------------- #
# reference path
# --------------------------------------------------------------------------- #
def reference(prob: Problem):
    """A tight path to compare coefficients with (its own checked gap is printed).

    Squared loss: scikit-learn's lasso_path at tol 1e-13.  Logistic loss: skglm's
    prox-Newton (quadratic convergence) at tol 1e-11 * lambda_max, warm-started
    along the grid; without skglm, liblinear at tol 1e-12.
    """
    n = prob.X.shape[0]
    if prob.loss == "squared":
        from sklearn.linear_model import lasso_path

        _, coefs, _ = lasso_path(column_major(prob.X), prob.y, alphas=prob.lambdas, tol=1e-13,
                                 max_iter=1_000_000)
        return coefs.T, "sklearn lasso_path tol=1e-13"
    try:
        import skglm
    except ImportError:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=1.0, l1_ratio=1.0, solver="liblinear", tol=1e-12, fit_intercept=False,
                                 max_iter=1_000_000, random_state=0)
        out = []
        for lam in prob.lambdas:
            out.append(clf.set_params(C=1.0 / (n * lam)).fit(prob.X, prob.y).coef_.ravel().copy())
        return np.array(out), "sklearn liblinear tol=1e-12"
    Xf = column_major(prob.X)
    est = skglm.SparseLogisticRegression(alpha=prob.lambdas[0], fit_intercept=False, warm_start=True,
                                         tol=1e-11 * prob.lambdas[0], max_iter=500, max_epochs=100_000)
    out = []
    for lam in prob.lambdas:
        out.append(est.set_params(alpha=lam).fit(Xf, prob.y).coef_.ravel().copy())
    return np.array(out), "skglm prox-Newton tol=1e-11*lambda_max"


# --------------------------------------------------------------------------- #
# running
# --------------------------------------------------------------------------- #
@dataclass
class Record:
    name: str
    tol: float = float("nan")
    times: list = field(default_factory=list)
    first: float = float("nan")
    gap: float = float("nan")
    coef_diff: float = float("nan")
    attempts: int = 0
    status: str = ""  # "" ok, or why the row is not a valid result
    last_run: float = float("nan")
    compile_s: float = float("nan")  # jaxl1: tracing, lowering and XLA compilation in all its calls

    @property
    def median(self):
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def ok(self):
        return not self.status and self.gap <= PASS


def coef_diff(W, W_ref):
    return float("nan") if W_ref is None else float(np.max(np.abs(W - W_ref)))


def calibrate(solver, prob, W_ref, rec: Record, total_cap_s):
    """Run ``solver`` from its starting tolerance, tightening it until the checked gap meets the target.

    Returns whether the solver should go on to the timed runs: jaxl1 always (its
    tolerance is not tuned), a peer only if it met the target.  A peer that missed
    keeps the time of its last calibration run and is flagged in the table.
    """
    tol = solver.start_tol(prob)
    spent = 0.0
    for attempt in range(solver.max_attempts):
        t0 = time.perf_counter()
        try:
            W = call(solver, prob, tol)
        except Exception as e:  # a peer that breaks is reported, not fatal
            rec.status = f"error: {type(e).__name__}: {str(e)[:120]}"
            return False
        dt = time.perf_counter() - t0
        spent += dt
        rec.attempts, rec.tol, rec.last_run = attempt + 1, tol, dt
        if attempt == 0:
            rec.first = dt
        rec.gap = float(np.max(relative_gaps(prob, W)))
        rec.coef_diff = coef_diff(W, W_ref)
        if rec.gap <= PASS:
            return True
        if solver.name == "jaxl1":
            rec.status = "target missed"
            return True
        cap = getattr(solver, "cap_s", None)
        if cap is not None and dt > cap:
            rec.status = f"stopped: one solve took {dt:.0f} s (> {cap:.0f} s cap)"
            return False
        if getattr(solver, "exhausted", lambda: False)():
            rec.status = f"stopped: hit maxiter {solver.maxiter} (the {solver.cap_s:.0f} s budget of one solve)"
            return False
        if spent > total_cap_s:
            rec.status = f"target missed: calibration stopped after {spent:.0f} s"
            return False
        tol *= solver.factor
    rec.status = f"target missed after {rec.attempts} tolerances"
    return False


def run_problem(prob: Problem, solver_names, repeat, slow_s, total_cap_s, with_reference=True):
    n, p = prob.X.shape
    print(f"\n## {prob.title}  (n={n}, p={p}, {prob.loss} loss, K={N_LAMBDAS}, "
          f"lambda_max={prob.lambdas[0]:.4g})", flush=True)
    t0 = time.perf_counter()
    from threadpoolctl import threadpool_limits

    W_ref, ref_gap = None, float("nan")
    if with_reference:
        with threadpool_limits(PEER_THREADS), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            W_ref, ref_name = reference(prob)
        ref_gap = float(np.max(relative_gaps(prob, W_ref)))
        print(f"reference: {ref_name}, max relative gap {ref_gap:.1e}, max|coef| {np.max(np.abs(W_ref)):.3g}, "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    else:
        print("reference: none (--no-reference): no coefficient comparison", flush=True)

    records, active = {}, []
    for name in solver_names:
        solver = SOLVERS[name]
        rec = records[name] = Record(name)
        ok, why = solver.available()
        if ok and is_sparse(prob.X) and not solver.takes_sparse:
            ok, why = False, "not run on a sparse X"
        if not ok:
            rec.status = why
            continue
        solver.prepare(prob)
        timed = calibrate(solver, prob, W_ref, rec, total_cap_s)
        print(f"  calibrated {name:8s}: tol {rec.tol:.2e} after {rec.attempts} run(s) "
              f"(first {rec.first:.3g} s, last {rec.last_run:.3g} s), gap {rec.gap:.2e}"
              + (f"  [{rec.status}]" if rec.status else ""), flush=True)
        if timed:
            active.append(name)

    # timed runs, solvers interleaved; a slow solver is timed once
    for r in range(repeat):
        for name in active:
            rec, solver = records[name], SOLVERS[name]
            if r > 0 and rec.times and rec.times[0] > slow_s:
                continue
            t0 = time.perf_counter()
            W = call(solver, prob, rec.tol)
            rec.times.append(time.perf_counter() - t0)
            gap = float(np.max(relative_gaps(prob, W)))
            rec.gap = max(rec.gap, gap) if r > 0 else gap
            rec.coef_diff = coef_diff(W, W_ref)
    for name in records:  # rows that only have a calibration run
        rec = records[name]
        if not rec.times and np.isfinite(rec.last_run):
            rec.times = [rec.last_run]
    extra = ""
    if "jaxl1" in records and hasattr(SOLVERS["jaxl1"], "compile_s"):
        records["jaxl1"].compile_s = SOLVERS["jaxl1"].compile_s
    if "jaxl1" in active and SOLVERS["jaxl1"].last is not None:
        res = SOLVERS["jaxl1"].last
        conv = np.asarray(res.converged)
        extra = (f"jaxl1: {int(conv.sum())}/{conv.size} strengths converged by its own test, "
                 f"{int(np.sum(res.n_iter))} iterations in all (max {int(np.max(res.n_iter))} for one strength)")
    return records, ref_gap, extra


def fmt_compile(rec):
    """jaxl1's compile time as JAX reports it, and its first call minus the median of the later ones."""
    c = rec.first - rec.median
    if not np.isfinite(c):
        return "—"
    diff = fmt_t(c) if c > 0 else "~0"
    return f"{fmt_t(rec.compile_s)} ({diff})"


def fmt_t(x):
    return "—" if not np.isfinite(x) else (f"{x:.4f}" if x < 1 else f"{x:.3g}" if x < 100 else f"{x:.0f}")


def print_table(prob, records, extra):
    peers = [r for r in records.values() if r.name != "jaxl1" and r.ok and r.times]
    best = min(peers, key=lambda r: r.median) if peers else None
    print()
    print("| solver | tol used | median time (s) | compile (s) (first call − median) | max gap/P0 | max abs coef diff "
          "| time / best peer |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for rec in records.values():
        if rec.status and not rec.times:
            print(f"| {rec.name} | — | — | — | — | — | {rec.status} |")
            continue
        compile_s = fmt_compile(rec) if rec.name == "jaxl1" else "—"
        ratio = f"{rec.median / best.median:.2f}" if best else "—"
        flag = "" if rec.gap <= PASS else " (target missed)"
        tol = f"{rec.tol:.1e}" + (f" ({rec.attempts} runs)" if rec.attempts > 1 else "")
        note = f" — {rec.status}" if rec.status else ""
        print(f"| {rec.name} | {tol} | {fmt_t(rec.median)} | {compile_s} | {rec.gap:.1e}{flag} | "
              f"{rec.coef_diff:.1e} | {ratio}{note} |".replace("| nan |", "| — |"))
    print(f"\nbest peer: {best.name if best else 'none'}" + (f"; {extra}" if extra else ""))
    return best


def device_bandwidth(nbytes=2**28):
    """Read bandwidth of JAX's default device, bytes/s: the best of 10 sums over ``nbytes`` of float64."""
    x = jnp.ones(nbytes // 8, jnp.float64)
    total = jax.jit(jnp.sum)
    total(x).block_until_ready()
    best = float("inf")
    for _ in range(10):
        t0 = time.perf_counter()
        total(x).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return nbytes / best


def iteration_floor(prob, bandwidth):
    """Bytes one iteration reads (the Gram matrix, or X twice: ``Xw`` and ``X'u``) and their time at ``bandwidth``.

    This is the issue's floor for a full iteration; a working-set iteration reads only its subproblem,
    so jaxl1's time per iteration can come out under it.
    """
    n, p = prob.X.shape
    gram = prob.loss == "squared" and n >= p
    if is_sparse(prob.X):  # the stored values and both indices of every entry, twice
        nbytes = 2 * prob.X.nnz * (prob.X.dtype.itemsize + 8)
        return "sparse X, twice", nbytes, nbytes / bandwidth
    nbytes = (p * p if gram else 2 * n * p) * prob.X.itemsize
    return ("Gram" if gram else "X, twice"), nbytes, nbytes / bandwidth


def _jaxl1_revision():
    """The git commit of the jaxl1 being measured, and whether its sources differ from it."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(jaxl1.__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "jaxl1"], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return head + (" (jaxl1/ modified)" if dirty else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--problems", default=",".join(PROBLEMS), help="comma-separated, from: " + ", ".join(PROBLEMS))
    ap.add_argument("--solvers", default=",".join(SOLVERS), help="comma-separated, from: " + ", ".join(SOLVERS))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per solver (median reported)")
    ap.add_argument("--slow", type=float, default=30.0, help="a solver slower than this (s) is timed once")
    ap.add_argument("--peer-threads", type=int, default=1,
                    help="BLAS threads for scikit-learn, celer and skglm (0: the libraries' default)")
    ap.add_argument("--calibration-cap", type=float, default=180.0,
                    help="stop tightening a peer's tolerance after this many seconds of runs")
    ap.add_argument("--scale-n", type=float, default=1.0, help="multiply the rows of the synthetic problems")
    ap.add_argument("--scale-p", type=float, default=1.0, help="multiply the columns of the synthetic problems")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the tight reference path (no coefficient comparison): for large scaled problems")
    ap.add_argument("--floor", action="store_true",
                    help="also report jaxl1's time per iteration against the memory-bandwidth floor of the "
                         "default JAX device")
    args = ap.parse_args(argv)
    SCALE["n"], SCALE["p"] = args.scale_n, args.scale_p
    scaled = (args.scale_n, args.scale_p) != (1.0, 1.0)
    global PEER_THREADS
    PEER_THREADS = args.peer_threads if args.peer_threads > 0 else None
    problems = [s for s in args.problems.split(",") if s]
    if scaled:  # the real data sets have the sizes they have
        problems = [s for s in problems if s not in REAL_DATA]
    solvers = [s for s in args.solvers.split(",") if s]
    for name in problems:
        if name not in PROBLEMS:
            ap.error(f"unknown problem {name!r}")
    for name in solvers:
        if name not in SOLVERS:
            ap.error(f"unknown solver {name!r}")

    import sklearn

    versions = [f"jax {jax.__version__}", f"scikit-learn {sklearn.__version__}"]
    from importlib import metadata

    for mod in ("celer", "skglm", "jaxopt"):
        try:
            versions.append(f"{mod} {metadata.version(mod)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{mod} (not installed)")
    print(f"# path benchmark, {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"jax backend {jax.default_backend()}, python {platform.python_version()}")
    print("# " + ", ".join(versions) + f"; jaxl1 at {_jaxl1_revision()}")
    print(f"# target: max over the path of gap/P0 <= {TARGET:g}; repeat {args.repeat}; BLAS threads for the "
          f"numpy/scipy peers: {PEER_THREADS or 'library default'}")

    print("# how each solver is run and its tolerance set:")
    for name in solvers:
        print(f"#   {name}: {SOLVERS[name].tol_note}")

    if scaled:
        print(f"# synthetic problems scaled: rows x {args.scale_n:g}, columns x {args.scale_p:g} "
              f"(real data sets left out)")
    bandwidth = None
    if args.floor:
        bandwidth = device_bandwidth()
        print(f"# read bandwidth of {jax.devices()[0].device_kind} ({jax.default_backend()}): "
              f"{bandwidth / 1e9:.1f} GB/s (best of 10 jnp.sum over 256 MiB of float64)")

    summary, floors = [], []
    for name in problems:
        prob = PROBLEMS[name]()
        records, ref_gap, extra = run_problem(prob, solvers, args.repeat, args.slow, args.calibration_cap,
                                              with_reference=not args.no_reference)
        best = print_table(prob, records, extra)
        j = records.get("jaxl1")
        summary.append((prob, j, best))
        if bandwidth and j is not None and j.times and SOLVERS["jaxl1"].last is not None:
            iters = int(np.sum(np.asarray(SOLVERS["jaxl1"].last.n_iter)))
            what, nbytes, floor_s = iteration_floor(prob, bandwidth)
            floors.append((prob, iters, j.median / max(iters, 1), what, nbytes, floor_s))

    print("\n## Summary: jaxl1 against the fastest peer that reached the target gap\n")
    print("| problem | jaxl1 (s) | jaxl1 compile (s) (first call − median) | jaxl1 max gap/P0 | best peer | peer (s) "
          "| jaxl1 / best peer |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for prob, j, best in summary:
        if j is None or not j.times:
            jt = comp = gap = "—"
            ratio = "—"
        else:
            jt, comp = fmt_t(j.median), fmt_compile(j)
            gap = f"{j.gap:.1e}" + ("" if j.gap <= PASS else " (missed)")
            ratio = f"{j.median / best.median:.2f}" if best else "—"
        bname, bt = (best.name, fmt_t(best.median)) if best else ("—", "—")
        print(f"| {prob.title} | {jt} | {comp} | {gap} | {bname} | {bt} | {ratio} |")
    if floors:
        print("\n## jaxl1's time per iteration against the memory-bandwidth floor\n")
        print("| problem | iterations | time / iteration (us) | floor reads | floor (us) | time / floor |")
        print("| --- | --- | --- | --- | --- | --- |")
        for prob, iters, per, what, nbytes, floor_s in floors:
            print(f"| {prob.title} | {iters} | {per * 1e6:.1f} | {what}, {nbytes / 2**20:.3g} MiB | "
                  f"{floor_s * 1e6:.1f} | {per / floor_s:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GLM benchmark: Poisson L1 paths against skglm, multinomial L1 paths against scikit-learn's saga.

Every solver fits the same grid (float64, no intercept, X standardized) and every output is checked
here with one duality gap written in numpy (:func:`poisson_gaps`, :func:`multinomial_gaps`),
independently of the solvers' own stopping rules: the target is ``gap_k <= 1e-6 * P_k(0)`` at every
strength.  jaxl1 runs at ``tol=1e-6`` (its own relative gap).  A peer starts at its default
tolerance and, while the checked gap misses the target, is rerun with a tolerance 10x tighter (the
calibration runs are the warm-up).  Every solver runs at its own default threading.  Timings are
medians over ``--repeat`` runs, the solvers interleaved.  glum (its own path, ``alpha_search=True``,
``gradient_tol`` calibrated) runs when it is installed (``pip install glum``; not a dependency).

Usage::

    python benchmarks/glm.py               # both problems, median of 3
    python benchmarks/glm.py --repeat 5
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import time
import warnings

import jax
import numpy as np
from scipy.special import logsumexp, softmax, xlogy

jax.config.update("jax_enable_x64", True)
import jaxl1  # noqa: E402

TARGET = 1e-6


def _design(n, p, rho, rng):
    X = rng.standard_normal((n, p))
    for j in range(1, p):  # AR(1) columns, correlation rho between neighbours
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * X[:, j]
    X -= X.mean(axis=0)
    return X / X.std(axis=0)


def poisson_problem(n=2000, p=200, seed=0):
    rng = np.random.default_rng(seed)
    X = _design(n, p, 0.5, rng)
    w = np.zeros(p)
    w[rng.choice(p, 10, replace=False)] = rng.uniform(-0.3, 0.3, 10)
    y = rng.poisson(np.exp(X @ w)).astype(float)
    lam_max = np.abs(X.T @ (1.0 - y)).max() / n  # the gradient at w = 0 (z = 0, no intercept)
    return X, y, lam_max * np.logspace(0, -2, 50)


def multinomial_problem(n=1000, p=50, K=4, seed=1):
    rng = np.random.default_rng(seed)
    X = _design(n, p, 0.3, rng)
    W = np.zeros((p, K))
    W[:8] = rng.standard_normal((8, K))
    y = np.array([rng.choice(K, p=pr) for pr in softmax(X @ W, axis=1)])
    Y = np.eye(K)[y]
    lam_max = np.abs(X.T @ (1.0 / K - Y)).max() / n
    return X, y, lam_max * np.logspace(0, np.log10(0.05), 10)


def poisson_gaps(X, y, W, lams):
    """Relative duality gaps of the no-intercept Poisson L1 path ``W`` (``(L, p)``), in numpy."""
    n = len(y)
    c = xlogy(y, y) - y
    P0 = np.mean(1.0 + c)
    out = []
    for w, lam in zip(W, lams):
        z = X @ w
        mu = np.exp(z)
        primal = np.mean(mu - y * z + c) + lam * np.abs(w).sum()
        u = (mu - y) / n
        sigma = max(1.0, np.abs(X.T @ u).max() / lam)
        a = y + n * u / sigma
        dual = -np.mean(xlogy(a, a) - a - c)
        out.append((primal - dual) / P0)
    return np.array(out)


def multinomial_gaps(X, y, W, lams):
    """Relative duality gaps of the no-intercept multinomial L1 path ``W`` (``(L, p, K)``), in numpy."""
    n, K = len(y), W.shape[-1]
    Y = np.eye(K)[y]
    out = []
    for w, lam in zip(W, lams):
        Z = X @ w
        primal = np.mean(logsumexp(Z, axis=1) - np.sum(Y * Z, axis=1)) + lam * np.abs(w).sum()
        U = (softmax(Z, axis=1) - Y) / n
        sigma = max(1.0, np.abs(X.T @ U).max() / lam)
        A = Y + n * U / sigma
        dual = -np.mean(np.sum(xlogy(A, A), axis=1))
        out.append((primal - dual) / np.log(K))
    return np.array(out)


# --------------------------------------------------------------------------- #
# solvers: each fits the whole grid, returns the coefficients (L, p) or (L, p, K)
# --------------------------------------------------------------------------- #
def jaxl1_poisson(X, y, lams, tol):
    path = jaxl1.fit_path(X, y, loss="poisson", lambdas=lams, fit_intercept=False, tol=tol)
    return np.asarray(path.coef)


def skglm_poisson(X, y, lams, tol):
    from skglm import GeneralizedLinearEstimator
    from skglm.datafits import Poisson
    from skglm.penalties import L1
    from skglm.solvers import ProxNewton

    est = GeneralizedLinearEstimator(Poisson(), L1(lams[0]), ProxNewton(tol=tol, fit_intercept=False),)
    est.warm_start = True
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lam in lams:
            est.penalty = L1(lam)
            est.fit(X, y)
            out.append(est.coef_.ravel().copy())
    return np.array(out)


def glum_poisson(X, y, lams, tol):
    from glum import GeneralizedLinearRegressor

    est = GeneralizedLinearRegressor(family="poisson", l1_ratio=1.0, fit_intercept=False, alpha_search=True,
                                     alphas=lams, gradient_tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    return np.asarray(est.coef_path_)


def jaxl1_multinomial(X, y, lams, tol):
    path = jaxl1.fit_path(X, y, loss="multinomial", lambdas=lams, fit_intercept=False, tol=tol)
    return np.asarray(path.coef)


def sklearn_multinomial(X, y, lams, tol):
    from sklearn.linear_model import LogisticRegression

    n = len(y)
    est = LogisticRegression(l1_ratio=1.0, solver="saga", fit_intercept=False, tol=tol, max_iter=100_000,
                             warm_start=True)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lam in lams:
            est.set_params(C=1.0 / (n * lam))
            est.fit(X, y)
            out.append(est.coef_.T.copy())
    return np.array(out)


PROBLEMS = {
    "poisson": (poisson_problem, poisson_gaps, {"jaxl1": (jaxl1_poisson, TARGET), "skglm": (skglm_poisson, 1e-4),
                                               "glum": (glum_poisson, 1e-4)},
                "Poisson L1, AR(0.5) 2000x200, 50 strengths down to 1e-2"),
    "multinomial": (multinomial_problem, multinomial_gaps,
                    {"jaxl1": (jaxl1_multinomial, TARGET), "sklearn-saga": (sklearn_multinomial, 1e-4)},
                    "multinomial L1, K=4, AR(0.3) 1000x50, 10 strengths down to 0.05"),
}


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def run(name, repeat):
    make, gaps, solvers, title = PROBLEMS[name]
    X, y, lams = make()
    tols = {}
    solvers = {s: v for s, v in solvers.items() if s != "glum" or _has("glum")}
    for s, (fn, tol) in solvers.items():  # calibration (and warm-up)
        for _ in range(8):
            gap = gaps(X, y, fn(X, y, lams, tol), lams).max()
            if gap <= TARGET * (1 + 1e-3) or s == "jaxl1":
                break
            tol /= 10
        tols[s] = (tol, gap)
    times = {s: [] for s in solvers}
    for _ in range(repeat):
        for s, (fn, _) in solvers.items():
            t = time.perf_counter()
            fn(X, y, lams, tols[s][0])
            times[s].append(time.perf_counter() - t)
    print(f"\n{title}")
    print(f"{'solver':14s} {'median s':>9s} {'tol':>8s} {'max rel gap':>12s}")
    med = {s: statistics.median(v) for s, v in times.items()}
    for s in solvers:
        print(f"{s:14s} {med[s]:9.3f} {tols[s][0]:8.0e} {tols[s][1]:12.2e}")
    peers = [s for s in solvers if s != "jaxl1"]
    best = min(peers, key=med.get)
    print(f"jaxl1 / {best}: {med['jaxl1'] / med[best]:.3f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{datetime.date.today()}  {platform.machine()}  {platform.python_version()}  jax {jax.__version__}")
    for name in args.problems.split(","):
        run(name, args.repeat)


if __name__ == "__main__":
    main()

"""MCP and SCAD paths: ``jaxl1.fit_path(penalty="mcp" | "scad")`` against skglm's estimators walked down
the same grid with warm starts (the way a user fits a non-convex path with skglm).

The problems: standardized Toeplitz designs (correlation ``rho^|i-j|``), 10 true features, a ``K``-strength
grid from ``lambda_max`` down to ``eps * lambda_max``.  Both stop on stationarity, at the same level: skglm's
``tol`` is its largest violation of the optimality conditions; jaxl1's (in objective units, the squared
proximal-gradient mapping over ``2L``, relative to ``P0``) is set so that the same largest violation is
guaranteed (``tol = viol^2 / (2 L P0)``).  The violations are then measured for both by one numpy
computation, with the objective at every strength and the supports.  skglm runs at its own defaults
otherwise (its working sets, its threads); runs are interleaved and the medians printed.

    python benchmarks/nonconvex.py [--repeat 3 --lambdas 50 --viol 1e-6]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from path import _jaxl1_revision, sparse_truth, toeplitz_design  # noqa: E402

import jaxl1  # noqa: E402

PROBLEMS = {"toeplitz2000x500": (2000, 500, 0.6), "toeplitz200x2000": (200, 2000, 0.5)}


def problem(n, p, rho, seed=0):
    rng = np.random.default_rng(seed)
    X = toeplitz_design(n, p, rho, rng)
    X = (X - X.mean(0)) / X.std(0)
    truth = sparse_truth(p, 10, rng)
    signal = X @ truth
    noise = rng.standard_normal(n)
    y = signal + noise * (np.linalg.norm(signal) / (3.0 * np.linalg.norm(noise)))
    return X, y


def penalty_np(kind, w, lam, g):
    r = np.abs(w)
    if kind == "mcp":
        return np.where(r <= g * lam, lam * r - r * r / (2 * g), g * lam * lam / 2).sum(-1)
    mid = (2 * g * lam * r - r * r - lam * lam) / (2 * (g - 1))
    return np.where(r <= lam, lam * r, np.where(r <= g * lam, mid, (g + 1) * lam * lam / 2)).sum(-1)


def derivative_np(kind, w, lam, g):
    r = np.abs(w)
    if kind == "mcp":
        return np.maximum(lam - r / g, 0.0)
    return np.where(r <= lam, lam, np.maximum(g * lam - r, 0.0) / (g - 1))


def check(kind, X, y, lams, W, B, g):
    """Per strength: the objective and the largest violation of stationarity (columns have unit variance)."""
    objs, viols = [], []
    for lam, w, b in zip(lams, W, B):
        r = y - X @ w - b
        grad = -X.T @ r / len(y)
        on = w != 0
        viol = np.where(on, np.abs(grad + np.sign(w) * derivative_np(kind, w, lam, g)),
                        np.maximum(np.abs(grad) - lam, 0.0))
        objs.append(0.5 * np.mean(r * r) + penalty_np(kind, w, lam, g))
        viols.append(max(viol.max(), abs(r.mean())))
    return np.array(objs), np.array(viols)


def run_jaxl1(kind, X, y, lams, g, tol):
    t = time.perf_counter()
    path = jaxl1.fit_path(X, y, penalty=kind, gamma=g, lambdas=lams, tol=tol, max_iter=100_000)
    W = np.asarray(path.coef)
    return time.perf_counter() - t, W, np.asarray(path.intercept), int(path.n_iter.sum())


def run_skglm(kind, X, y, lams, g, viol):
    from skglm import GeneralizedLinearEstimator
    from skglm.datafits import Quadratic
    from skglm.penalties import MCPenalty, SCAD
    from skglm.solvers import AndersonCD

    t = time.perf_counter()
    W, B = [], []
    w, b = None, 0.0
    for lam in lams:
        pen = MCPenalty(lam, g) if kind == "mcp" else SCAD(lam, g)
        est = GeneralizedLinearEstimator(Quadratic(), pen, AndersonCD(tol=viol, fit_intercept=True, warm_start=True,
                                                                        max_iter=1000))
        if w is not None:
            est.coef_, est.intercept_ = w, b
        est.fit(X, y)
        w, b = est.coef_.copy(), float(est.intercept_)
        W.append(w)
        B.append(b)
    return time.perf_counter() - t, np.array(W), np.array(B)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lambdas", type=int, default=50)
    ap.add_argument("--eps", type=float, default=0.01)
    ap.add_argument("--viol", type=float, default=1e-6)
    ap.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    args = ap.parse_args()
    print(f"# {datetime.date.today()} {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, jax {jax.__version__} ({jax.default_backend()}), jaxl1 {_jaxl1_revision()}")
    print(f"# grid {args.lambdas} strengths down to {args.eps} lambda_max; stationarity violation target {args.viol:g}")
    print("| problem | penalty | jaxl1 (s) | first call (s) | skglm (s) | jaxl1 / skglm | max violation jaxl1, skglm "
          "| objective jaxl1 - skglm (max, relative) | supports equal |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.problems:
        X, y = problem(*PROBLEMS[name])
        lams = np.asarray(jaxl1.lambda_grid(jaxl1.lambda_max(X, y), args.lambdas, args.eps))
        Xc = X - X.mean(0)
        L = np.linalg.norm(Xc, 2) ** 2 / len(y) * 1.05
        P0 = 0.5 * np.var(y)
        tol = args.viol ** 2 / (2 * L * P0)
        for kind, g in (("mcp", 3.0), ("scad", 3.7)):
            t_first = run_jaxl1(kind, X, y, lams, g, tol)[0]
            run_skglm(kind, X, y, lams[:2], g, args.viol)  # numba compiles
            tj, ts = [], []
            for _ in range(args.repeat):
                t, Wj, Bj, _ = run_jaxl1(kind, X, y, lams, g, tol)
                tj.append(t)
                t, Ws, Bs = run_skglm(kind, X, y, lams, g, args.viol)
                ts.append(t)
            oj, vj = check(kind, X, y, lams, Wj, Bj, g)
            os_, vs = check(kind, X, y, lams, Ws, Bs, g)
            mj, ms = statistics.median(tj), statistics.median(ts)
            diff = np.max((oj - os_) / np.abs(os_))
            same = int(np.sum(np.all((Wj != 0) == (Ws != 0), axis=1)))
            print(f"| {name} | {kind} | {mj:.3f} | {t_first:.2f} | {ms:.3f} | {mj / ms:.2f} | {vj.max():.1e}, "
                  f"{vs.max():.1e} | {diff:+.1e} | {same}/{len(lams)} |", flush=True)


if __name__ == "__main__":
    main()

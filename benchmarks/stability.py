"""Stability selection: ``jaxl1.stability_selection`` against the loop a user writes with scikit-learn.

The problem: ``n x p`` Toeplitz design (correlation ``rho^|i-j|``), 10 true features, ``B`` subsamples of
half the rows, a ``K``-strength lasso path on each (the grid from all the rows, as stability selection
uses).  The peer: ``joblib.Parallel(n_jobs=-1)`` over the subsamples, each centering its rows and calling
``sklearn.linear_model.lasso_path`` on the same grid (its own default threads).  Both solve to the same
relative duality gap (``--gap``; scikit-learn's ``tol`` is ``gap / 2`` on its scaling), checked afterwards
for every subsample and strength by one independent numpy computation.  Runs are interleaved; the medians
and their ratio are printed with the probabilities' agreement.

    python benchmarks/stability.py [--n 2000 --p 500 --subsamples 100 --lambdas 100 --repeat 3]

``--text`` takes instead the sparse tf-idf-like ``texttall50000x1000`` problem of ``path.py`` (a ``scipy.sparse``
X for both libraries, no intercept: centring would make X dense), with ``--eps 1e-3`` as there.
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
from joblib import Parallel, delayed  # noqa: E402
from sklearn.linear_model import lasso_path  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from path import PROBLEMS, _jaxl1_revision, sparse_truth, toeplitz_design  # noqa: E402

import jaxl1  # noqa: E402


def problem(n, p, rho, seed):
    rng = np.random.default_rng(seed)
    X = toeplitz_design(n, p, rho, rng)
    truth = sparse_truth(p, 10, rng)
    signal = X @ truth
    noise = rng.standard_normal(n)
    y = signal + noise * (np.linalg.norm(signal) / (2.0 * np.linalg.norm(noise)))
    return X, y, np.flatnonzero(truth)


def _rows(X, y, rows, intercept):
    """The subsample's rows, centred for an intercept (a sparse X has none)."""
    Xs, ys = X[rows], y[rows]
    return (Xs - Xs.mean(0), ys - ys.mean()) if intercept else (Xs, ys)


def max_relative_gap(X, y, rows, W, intercept=True):
    """The largest duality gap / P(0) over the strengths, for the lasso (with an intercept) on ``rows``."""
    return _gaps(*_rows(X, y, rows, intercept), W)


def _gaps(Xs, ys, W, lams=None):
    lams = _gaps.lams if lams is None else lams
    m = Xs.shape[0]
    R = ys[:, None] - np.asarray(Xs @ W.T)
    primal = 0.5 * np.mean(R**2, axis=0) + lams * np.abs(W).sum(1)
    theta = R / np.maximum(m, np.abs(np.asarray(Xs.T @ R)).max(0) / lams)
    dual = theta.T @ ys - 0.5 * m * (theta**2).sum(0)
    return np.max((primal - dual) / (0.5 * np.mean(ys**2)))


def sklearn_one(X, y, rows, lams, tol, intercept=True):
    _, coefs, _ = lasso_path(*_rows(X, y, rows, intercept), alphas=lams, tol=tol, max_iter=100_000)
    return coefs.T


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--p", type=int, default=500)
    ap.add_argument("--rho", type=float, default=0.6)
    ap.add_argument("--subsamples", type=int, default=100)
    ap.add_argument("--lambdas", type=int, default=100)
    ap.add_argument("--eps", type=float, default=1e-2)
    ap.add_argument("--gap", type=float, default=1e-6)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-selected", type=float, default=20.0)
    ap.add_argument("--text", action="store_true", help="the sparse texttall50000x1000 problem of path.py")
    a = ap.parse_args(argv)
    intercept = not a.text
    if a.text:
        prob = PROBLEMS["texttall50000x1000"]()
        X, y, truth = prob.X.tocsr(), prob.y, np.array([], int)
        title = prob.title
    else:
        X, y, truth = problem(a.n, a.p, a.rho, 0)
        title = f"Toeplitz rho={a.rho}, {a.n}x{a.p}, 10 true features"
    kw = dict(n_subsamples=a.subsamples, n_lambdas=a.lambdas, eps=a.eps, tol=a.gap, random_state=0,
              max_selected=a.max_selected, fit_intercept=intercept)
    print(f"# {datetime.date.today()} {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, jax {jax.__version__} ({jax.default_backend()}), jaxl1 {_jaxl1_revision()}")
    print(f"# {title}, {a.subsamples} subsamples of {X.shape[0] // 2} rows, "
          f"{a.lambdas} strengths down to {a.eps:g} lambda_max, relative gap {a.gap:g}")
    t0 = time.perf_counter()
    res = jaxl1.stability_selection(X, y, **kw)
    first = time.perf_counter() - t0
    rows, lams = np.asarray(res.subsamples), np.asarray(res.lambdas)
    _gaps.lams = lams
    times = {"jaxl1": [], "sklearn loop (joblib n_jobs=-1)": []}
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        res = jaxl1.stability_selection(X, y, **kw)
        np.asarray(res.probabilities)
        times["jaxl1"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        coefs = Parallel(n_jobs=-1)(delayed(sklearn_one)(X, y, r, lams, a.gap / 2, intercept) for r in rows)
        times["sklearn loop (joblib n_jobs=-1)"].append(time.perf_counter() - t0)
    ref = sum((c != 0).astype(float) for c in coefs) / len(rows)
    # jaxl1's own coefficients are not returned by stability_selection: its gap is checked on fit_path's,
    # the same solve on a few of the subsamples
    gj = max(max_relative_gap(X, y, r, np.asarray(jaxl1.fit_path(X[r], y[r], lambdas=lams, tol=a.gap,
                                                                  fit_intercept=intercept).coef), intercept)
             for r in rows[:5])
    gs = max(max_relative_gap(X, y, r, c, intercept) for r, c in zip(rows, coefs))
    mj, ms = statistics.median(times["jaxl1"]), statistics.median(times["sklearn loop (joblib n_jobs=-1)"])
    print("| solver | median s | max relative gap |")
    print("| --- | --- | --- |")
    print(f"| jaxl1.stability_selection | {mj:.3f} (first call {first:.2f}) | {gj:.1e} (5 subsamples) |")
    print(f"| sklearn lasso_path loop, joblib n_jobs=-1 | {ms:.3f} | {gs:.1e} |")
    probs = np.asarray(res.probabilities)
    print(f"jaxl1 / sklearn loop = {mj / ms:.3f}; probabilities differ by at most {np.abs(probs - ref).max():.3f} "
          f"(true features {np.abs(probs - ref)[:, truth].max(initial=0.0):.3f}); "
          f"stable set at 0.9 with q <= {a.max_selected:g}: {res.stable_set.tolist()} (truth {truth.tolist()}), "
          f"bound on expected false selections {float(res.expected_false_selections):.2f}")


if __name__ == "__main__":
    main()

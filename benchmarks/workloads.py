"""Workloads for a compiled, vmapped solver: cross-validation and many problems in one call.

Each workload runs jaxl1 and the peers' best way to do the same thing (their
cross-validation classes with ``n_jobs=-1``; a loop over the problems, plain or
in ``joblib`` with ``n_jobs=-1``, sharing what the peer lets one share), every
library at its default threads, interleaved within each repeat, on the same
grid, to the same certified duality gap (``path.relative_gaps``: gap / P(0) at
most 1e-6 at every strength of every problem solved).

* ``cv``: 5-fold cross-validation over the full-data 100-strength grid of the
  squared-loss problems of ``path.py`` (contiguous folds, scikit-learn's
  ``KFold(5)``; no intercept: X standardized, y centred).  jaxl1:
  ``cross_validate(folds=..., lambdas=grid, tol=1e-6)``, which fits the five
  fold paths and the full path.  Peers: scikit-learn ``LassoCV`` and celer
  ``LassoCV``, each with ``n_jobs=-1`` (they fit the five fold paths and one
  model at the chosen strength).  skglm's ``GeneralizedLinearEstimatorCV`` is
  left out: it takes only a number of folds, which it shuffles (so not these
  folds, and no calibration on them), and it dispatches a joblib batch per strength.  A peer's tolerance is calibrated first with its
  path function on the full problem *and on each fold's training rows*
  (``path.calibrate``: tightened until every one of the six paths meets the
  target); jaxl1's folds are certified the same way by ``fit_path`` on the
  training rows with its settings (the timed call does not return fold paths).
* ``responses``: 1000 independent lassos sharing one 200x50 design (one per
  response, as in gene-by-gene screens), each a 100-strength path from its own
  lambda_max (eps 1e-3).  jaxl1: ``jax.vmap`` of ``fit_path`` over the responses
  and their grids (the Gram matrix, computed from X alone, is shared by vmap).
  Peers: scikit-learn ``lasso_path`` with the Gram matrix and ``X'y`` precomputed
  once, looped over the responses, and the same loop in ``joblib`` with
  ``n_jobs=-1``.
* ``bootstrap``: 100 bootstrap subsamples (rows drawn with replacement) of the
  Toeplitz 2000x500 problem, each a 100-strength path on the full-data grid.
  jaxl1: ``jax.vmap`` of ``fit_path`` over the bootstrap counts as sample weights
  (the weighted objective is the lasso on the resampled rows); "jaxl1 threads":
  the same ``fit_path`` calls on concrete arrays from a thread per core.  Peers:
  scikit-learn ``lasso_path`` on ``X[idx]``, looped and in ``joblib``.

Usage::

    python benchmarks/workloads.py cv --problems corr2000x500,tall20000x1000
    python benchmarks/workloads.py responses bootstrap --repeat 3
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import path as bench  # noqa: E402  (enables float64 in JAX)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import jaxl1  # noqa: E402

TARGET, PASS = bench.TARGET, bench.PASS
N_FOLDS = 5


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return time.perf_counter() - t0, out


def _interleave(runners, repeat):
    """``{name: [seconds, ...]}`` over ``repeat`` rounds, each runner once per round, in turn."""
    times = {name: [] for name in runners}
    for _ in range(repeat):
        for name, fn in runners.items():
            times[name].append(_timed(fn)[0])
    return times


def _report(title, times, gaps, notes):
    med = {k: statistics.median(v) for k, v in times.items()}
    peers = {k: v for k, v in med.items() if not k.startswith("jaxl1") and gaps.get(k, np.inf) <= PASS}
    best = min(peers, key=peers.get) if peers else None
    print(f"\n#### {title}\n")
    print("| solver | median (s) | runs | max gap/P0 | note |")
    print("| --- | --- | --- | --- | --- |")
    for k, v in med.items():
        print(f"| {k} | {v:.3f} | {', '.join(f'{t:.3f}' for t in times[k])} | {gaps.get(k, float('nan')):.1e} | "
              f"{notes.get(k, '')} |")
    if best is not None:
        for k in (k for k in med if k.startswith("jaxl1")):
            print(f"\n{k} / best peer ({best}): **{med[k] / med[best]:.2f}**")
    return med, best


# --------------------------------------------------------------------------- #
# cross-validation
# --------------------------------------------------------------------------- #
def fold_ids(n, k=N_FOLDS):
    """scikit-learn's ``KFold(k)`` without shuffling, as fold ids."""
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    return np.repeat(np.arange(k), sizes)


def sub_problem(prob, rows, name):
    """``prob`` on some of its rows, on the full problem's grid (no intercept, as in path.py)."""
    sub = bench.Problem(name, name, prob.X[rows], prob.y[rows], prob.loss, prob.eps)
    sub.lambdas = prob.lambdas
    return sub


def calibrated_tol(solver, problems, cap_s):
    """The loosest of the solver's tolerances (its start, tightened by its factor) at which every problem meets
    the target, or ``None``."""
    tol = solver.start_tol(problems[0])

    def meets(q):
        solver.prepare(q)
        return np.max(bench.relative_gaps(q, _quiet(bench.call, solver, q, tol))) <= PASS

    for _ in range(solver.max_attempts):
        if all(meets(q) for q in problems):
            return tol
        tol *= solver.factor
    return None


def run_cv(prob, repeat, cap_s):
    from sklearn.model_selection import KFold

    n = prob.X.shape[0]
    ids = fold_ids(n)
    folds = [sub_problem(prob, ids != k, f"{prob.name} fold {k}") for k in range(N_FOLDS)]
    everything = [prob] + folds
    X, y, grid = prob.X, prob.y, prob.lambdas
    kf = KFold(N_FOLDS)

    def jaxl1_cv():  # the numpy arrays, as a user passes them
        return jaxl1.cross_validate(X, y, folds=ids, lambdas=grid, fit_intercept=False, tol=TARGET)

    cv = _quiet(jaxl1_cv)  # compiles
    fold_fits = [jaxl1.fit_path(q.X, q.y, lambdas=grid, fit_intercept=False, tol=TARGET) for q in folds]
    gaps = {"jaxl1": max(float(np.max(bench.relative_gaps(prob, np.asarray(cv.path.coef)))),
                         *(float(np.max(bench.relative_gaps(q, np.asarray(f.coef)))) for q, f in zip(folds, fold_fits)))}
    notes = {"jaxl1": "cross_validate, tol 1e-6 (fold paths certified by fit_path on the training rows)"}
    runners = {"jaxl1": jaxl1_cv}

    tol = calibrated_tol(bench.SklearnPeer(), everything, cap_s)
    if tol is not None:
        from sklearn.linear_model import LassoCV

        est = LassoCV(alphas=grid, cv=kf, tol=tol, max_iter=100_000, n_jobs=-1, fit_intercept=False)
        runners["sklearn"] = lambda: _quiet(est.fit, X, y)
        gaps["sklearn"], notes["sklearn"] = TARGET, f"LassoCV(n_jobs=-1), tol {tol:.0e} (lasso_path calibrated)"
    try:
        import celer
    except Exception:  # pragma: no cover
        celer = None
    if celer is not None:
        tol = calibrated_tol(bench.CelerPeer(), everything, cap_s)
        if tol is not None:
            try:
                est_c = celer.LassoCV(alphas=grid, cv=kf, tol=tol, max_iter=100, max_epochs=100_000, n_jobs=-1,
                                      fit_intercept=False)
            except TypeError as e:  # celer 0.7.4's LassoCV passes n_alphas, which scikit-learn 1.9 removed
                print(f"celer LassoCV left out: {e}")
            else:
                runners["celer"] = lambda: _quiet(est_c.fit, X, y)
                gaps["celer"], notes["celer"] = TARGET, f"LassoCV(n_jobs=-1), tol {tol:.0e} (celer_path calibrated)"
    for name, fn in runners.items():  # warm-up (numba, joblib workers)
        if name != "jaxl1":
            fn()
    times = _interleave(runners, repeat)
    return _report(f"5-fold CV, {prob.title}", times, gaps, notes)


# --------------------------------------------------------------------------- #
# many independent problems
# --------------------------------------------------------------------------- #
def _peer_loop(solve_one, items, n_jobs):
    if n_jobs == 1:
        return [solve_one(i) for i in items]
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs)(delayed(solve_one)(i) for i in items)


def _calibrated_loop(one, items, gaps_of):
    """scikit-learn's tolerance for ``one(item, tol)`` over ``items`` (from 5e-7, divided by 10 while the
    checked gap misses the target, at most 5 tries): ``(tol, worst gap)``."""
    tol = TARGET / 2
    for _ in range(5):
        g = gaps_of(_quiet(_peer_loop, lambda i: one(i, tol), items, 1))
        if g <= PASS:
            break
        tol /= 10
    return tol, g


def run_responses(repeat, n_resp=1000, n=200, p=50, k=5):
    from sklearn.linear_model import lasso_path

    rng = np.random.default_rng(7)
    X = bench._standardize(bench.toeplitz_design(n, p, 0.5, rng))
    W = np.zeros((p, n_resp))
    for j in range(n_resp):
        W[rng.choice(p, k, replace=False), j] = rng.standard_normal(k)
    S = X @ W
    Y = S + rng.standard_normal((n, n_resp)) * np.std(S, axis=0) / 3.0
    Y = Y - Y.mean(axis=0)
    lam_max = np.max(np.abs(X.T @ Y), axis=0) / n
    grids = lam_max[:, None] * np.geomspace(1.0, 1e-3, bench.N_LAMBDAS)[None, :]
    Xj, Yj, Gj = jnp.asarray(X), jnp.asarray(Y.T), jnp.asarray(grids)

    @jax.jit
    def many(X, Y, G):
        return jax.vmap(lambda y, g: jaxl1.fit_path(X, y, lambdas=g, fit_intercept=False, tol=TARGET).coef)(Y, G)

    gram, Xy = X.T @ X, X.T @ Y

    def one(j, tol):
        return lasso_path(X, Y[:, j], alphas=grids[j], precompute=gram, Xy=Xy[:, j], tol=tol, max_iter=100_000)[1].T

    def gaps_of(coefs):
        worst = 0.0
        for j in range(n_resp):
            q = bench.Problem("r", "r", X, Y[:, j], "squared", 1e-3)
            q.lambdas = grids[j]
            worst = max(worst, float(np.max(bench.relative_gaps(q, np.asarray(coefs[j])))))
        return worst

    gaps = {"jaxl1": gaps_of(np.asarray(many(Xj, Yj, Gj)))}
    tol, g = _calibrated_loop(one, range(n_resp), gaps_of)
    gaps["sklearn loop"] = gaps["sklearn joblib"] = g
    runners = {"jaxl1": lambda: many(Xj, Yj, Gj),
               "sklearn loop": lambda: _quiet(_peer_loop, lambda j: one(j, tol), range(n_resp), 1)}
    chunks = np.array_split(np.arange(n_resp), 4 * (os.cpu_count() or 1))

    def chunk(js):
        return [one(j, tol) for j in js]

    runners["sklearn joblib"] = lambda: _quiet(_peer_loop, chunk, chunks, -1)
    runners["sklearn joblib"]()  # starts the workers
    notes = {"jaxl1": "jit(vmap(fit_path)) over responses and grids, tol 1e-6",
             "sklearn loop": f"lasso_path with the Gram matrix and X'y precomputed, tol {tol:.0e}",
             "sklearn joblib": f"the same in joblib n_jobs=-1, {len(chunks)} chunks"}
    times = _interleave(runners, repeat)
    return _report(f"{n_resp} lassos sharing a {n}x{p} design, 100-strength paths", times, gaps, notes)


def run_bootstrap(repeat, n_boot=100):
    from sklearn.linear_model import lasso_path

    prob = bench.PROBLEMS["corr2000x500"]()
    X, y, grid = prob.X, prob.y, prob.lambdas
    n = X.shape[0]
    rng = np.random.default_rng(11)
    idx = rng.integers(0, n, size=(n_boot, n))
    counts = np.stack([np.bincount(i, minlength=n) for i in idx]).astype(np.float64)
    Xj, yj, gj, Cj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(grid), jnp.asarray(counts)

    @jax.jit
    def many(X, y, g, C):
        return jax.vmap(lambda c: jaxl1.fit_path(X, y, lambdas=g, sample_weight=c, fit_intercept=False,
                                                 tol=TARGET).coef)(C)

    def one(b, tol):
        return lasso_path(X[idx[b]], y[idx[b]], alphas=grid, tol=tol, max_iter=100_000)[1].T

    def gaps_of(coefs):
        return max(float(np.max(bench.relative_gaps(sub_problem(prob, idx[b], "b"), np.asarray(coefs[b]))))
                   for b in range(n_boot))

    def threaded():  # concrete fit_path calls from a thread each core: XLA:CPU runs one call's loops on one core
        def path(b):
            return jaxl1.fit_path(X, y, lambdas=grid, sample_weight=counts[b], fit_intercept=False, tol=TARGET).coef

        with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:
            return np.stack([np.asarray(c) for c in pool.map(path, range(n_boot))])

    gaps = {"jaxl1": gaps_of(np.asarray(many(Xj, yj, gj, Cj))), "jaxl1 threads": gaps_of(_quiet(threaded))}
    tol, g = _calibrated_loop(one, range(n_boot), gaps_of)
    gaps["sklearn loop"] = gaps["sklearn joblib"] = g
    runners = {"jaxl1": lambda: many(Xj, yj, gj, Cj), "jaxl1 threads": lambda: _quiet(threaded),
               "sklearn loop": lambda: _quiet(_peer_loop, lambda b: one(b, tol), range(n_boot), 1),
               "sklearn joblib": lambda: _quiet(_peer_loop, lambda b: one(b, tol), range(n_boot), -1)}
    runners["sklearn joblib"]()
    notes = {"jaxl1": "jit(vmap(fit_path)) over bootstrap counts as sample weights, tol 1e-6",
             "jaxl1 threads": "fit_path with the counts as sample weights, called from one thread per core",
             "sklearn loop": f"lasso_path on X[idx], tol {tol:.0e}", "sklearn joblib": "the same in joblib n_jobs=-1"}
    times = _interleave(runners, repeat)
    return _report(f"{n_boot} bootstrap paths of Toeplitz 2000x500", times, gaps, notes)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("workloads", nargs="*", default=["cv", "responses", "bootstrap"],
                    help="from: cv, responses, bootstrap")
    ap.add_argument("--problems", default="diabetes,corr2000x500,wide200x5000,tall20000x1000",
                    help="the cv workload's problems (squared-loss problems of path.py)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--calibration-cap", type=float, default=300.0)
    args = ap.parse_args(argv)
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, jaxl1 {bench._jaxl1_revision()}, "
          f"jax {jax.__version__} ({jax.default_backend()}), {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, every library at its default threads")
    for w in args.workloads:
        if w == "cv":
            for name in args.problems.split(","):
                run_cv(bench.PROBLEMS[name](), args.repeat, args.calibration_cap)
        elif w == "responses":
            run_responses(args.repeat)
        elif w == "bootstrap":
            run_bootstrap(args.repeat)
        else:
            ap.error(f"unknown workload {w!r}")


if __name__ == "__main__":
    main()

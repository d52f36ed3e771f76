"""Group-lasso paths: ``jaxl1.fit_path(groups=...)`` against celer's and skglm's ``GroupLasso`` estimators,
each walked down the same grid with warm starts (``warm_start=True``, one fit per strength, in order: the
way a user fits a group-lasso path with either).

The objective (squared loss, intercept, the default group factors ``c_g = sqrt(|g|)``)::

    (1 / 2n) ||y - X w - b||^2 + lam * sum_g c_g ||w_g||_2

The problems: standardized Toeplitz designs (correlation ``rho^|i-j|``, as in ``nonconvex.py``) cut into
contiguous groups of 5 columns, 10 true groups (every member nonzero), a ``K``-strength grid from the group
``lambda_max`` down to ``eps * lambda_max``, passed explicitly to every solver.

All three must reach the same certified accuracy: a relative duality gap ``gap / P(0) <= TARGET`` at every
strength, measured here for every solution by one numpy computation (:func:`relative_gaps`: the primal at
the optimal intercept, the dual point the residual rescaled into the dual ball).  jaxl1's ``tol`` is that
relative gap.  celer stops on its own duality gap (``tol * ||y_c||^2 / n``, so ``TARGET / 2`` nominally, but
with its extrapolated dual point) and skglm on its largest violation of the optimality conditions: their
tolerances are *calibrated*, as in ``path.py``: run at a starting tolerance and, while the numpy gap misses the
target at some strength, tightened by 10 and run again.  The calibration runs double as warm-up (numba); the
timed runs use the tolerance found.  The peers run at their defaults otherwise (working sets, threads).  Runs
are interleaved and the medians printed; jaxl1's first call (compilation included) is shown beside.

    python benchmarks/group.py [--repeat 3 --lambdas 30 --eps 0.05 --target 1e-8]
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

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from path import _jaxl1_revision, toeplitz_design  # noqa: E402

import jaxl1  # noqa: E402

PROBLEMS = {"toeplitz2000x500": (2000, 500, 0.6), "toeplitz200x2000": (200, 2000, 0.5)}
GROUP_SIZE = 5
START_TOL = {"celer": lambda target: target / 2, "skglm": lambda target: 1e-6}  # calibration starts
TIGHTEN, TRIES = 10.0, 6


def problem(n, p, rho, seed=0, k=10):
    rng = np.random.default_rng(seed)
    X = toeplitz_design(n, p, rho, rng)
    X = (X - X.mean(0)) / X.std(0)
    groups = np.repeat(np.arange(p // GROUP_SIZE), GROUP_SIZE)
    truth = np.zeros(p)
    for g in rng.choice(p // GROUP_SIZE, size=k, replace=False):
        truth[groups == g] = rng.choice([-1.0, 1.0], size=GROUP_SIZE) * (1.0 + rng.random(GROUP_SIZE))
    signal = X @ truth
    noise = rng.standard_normal(n)
    y = signal + noise * (np.linalg.norm(signal) / (3.0 * np.linalg.norm(noise)))
    return X, y, groups


def group_norms(v, groups):
    return np.sqrt(np.bincount(groups, weights=v * v))


def relative_gaps(X, y, groups, lams, W):
    """Per strength: the group lasso's duality gap over ``P(0)``, the intercept at its optimum.

    ``P(w) = ||r||^2 / 2n + lam sum_g c_g ||w_g||`` with ``r = y_c - X_c w`` (centred columns and targets: the
    optimal intercept); the dual point ``theta = r / max(1, max_g ||X_g^T r / n|| / (c_g lam))`` and
    ``D = (||y_c||^2 - ||y_c - theta||^2) / 2n``.
    """
    n = len(y)
    Xc, yc = X - X.mean(0), y - y.mean()
    c = np.sqrt(np.bincount(groups))
    P0 = yc @ yc / (2 * n)
    out = []
    for lam, w in zip(lams, W):
        r = yc - Xc @ w
        primal = r @ r / (2 * n) + lam * np.sum(c * group_norms(w, groups))
        scale = max(1.0, np.max(group_norms(Xc.T @ r / n, groups) / c) / lam)
        theta = r / scale
        dual = (yc @ yc - (yc - theta) @ (yc - theta)) / (2 * n)
        out.append((primal - dual) / P0)
    return np.array(out)


def run_jaxl1(X, y, groups, lams, tol):
    t = time.perf_counter()
    path = jaxl1.fit_path(X, y, groups=groups, lambdas=lams, tol=tol)
    W = np.asarray(path.coef)
    return time.perf_counter() - t, W, bool(np.asarray(path.converged).all())


def run_peer(name, X, y, groups, lams, tol):
    """One estimator, ``warm_start=True``, refitted at each strength in order; the groups as lists of column
    indices and the factors ``sqrt(|g|)`` as in tests/test_group.py (both fit the intercept themselves)."""
    if name == "celer":
        from celer import GroupLasso
    else:
        from skglm import GroupLasso
    members = [list(np.flatnonzero(groups == g)) for g in range(groups.max() + 1)]
    c = np.sqrt(np.bincount(groups))
    est = GroupLasso(groups=members, alpha=float(lams[0]), weights=c, tol=tol, warm_start=True)
    W = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        for lam in lams:
            est.alpha = float(lam)
            est.fit(X, y)
            W.append(est.coef_.copy())
        t = time.perf_counter() - t
    unconverged = sum("converge" in str(w.message).lower() for w in caught)
    return t, np.array(W), unconverged


def calibrate(name, X, y, groups, lams, target, slow):
    """The first tolerance in ``start, start / 10, ...`` whose path meets the target at every strength."""
    tol = START_TOL[name](target)
    for _ in range(TRIES):
        t, W, unconverged = run_peer(name, X, y, groups, lams, tol)
        gap = relative_gaps(X, y, groups, lams, W).max()
        if gap <= target or t > slow:
            return tol, t, gap <= target
        tol /= TIGHTEN
    return tol * TIGHTEN, t, False


def supports_equal(W1, W2, groups):
    return int(sum(np.array_equal(group_norms(a, groups) > 0, group_norms(b, groups) > 0) for a, b in zip(W1, W2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lambdas", type=int, default=30)
    ap.add_argument("--eps", type=float, default=0.05)
    ap.add_argument("--target", type=float, default=1e-8, help="relative duality gap asked at every strength")
    ap.add_argument("--slow", type=float, default=120.0, help="a peer run longer than this (s) is timed once")
    ap.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    args = ap.parse_args()
    import celer
    import skglm

    print(f"# {datetime.date.today()} {platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, jax {jax.__version__} ({jax.default_backend()}), jaxl1 {_jaxl1_revision()}, "
          f"celer {celer.__version__}, skglm {skglm.__version__}")
    print(f"# grid {args.lambdas} strengths down to {args.eps} lambda_max (group); groups of {GROUP_SIZE}, "
          f"factors sqrt(size); target relative duality gap {args.target:g} at every strength")
    print("| problem | jaxl1 (s) | first call (s) | celer (s) | skglm (s) | jaxl1 / celer | jaxl1 / skglm "
          "| max relative gap jaxl1, celer, skglm | tol celer, skglm | group supports equal to jaxl1's: celer, skglm |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.problems:
        X, y, groups = problem(*PROBLEMS[name])
        lams = float(jaxl1.lambda_max(X, y, groups=groups)) * np.geomspace(1.0, args.eps, args.lambdas)
        t_first, _, _ = run_jaxl1(X, y, groups, lams, args.target)
        peers = ("celer", "skglm")
        tols, once, notes = {}, {}, []
        for peer in peers:
            try:
                tols[peer], t, met = calibrate(peer, X, y, groups, lams, args.target, args.slow)
                once[peer] = t > args.slow
                if not met:
                    notes.append(f"{peer} missed the target (tol {tols[peer]:g}" + (f", {t:.0f} s)" if once[peer]
                                                                                   else ")"))
            except Exception as e:  # a peer that fails is reported, not dropped
                notes.append(f"{peer} failed: {type(e).__name__}: {e}")
        times = {"jaxl1": [], **{peer: [] for peer in tols}}
        W, warn = {}, {}
        for i in range(args.repeat):
            t, W["jaxl1"], converged = run_jaxl1(X, y, groups, lams, args.target)
            times["jaxl1"].append(t)
            for peer in tols:
                if once[peer] and i > 0:
                    continue
                t, W[peer], warn[peer] = run_peer(peer, X, y, groups, lams, tols[peer])
                times[peer].append(t)
        med = {k: statistics.median(v) for k, v in times.items()}
        gaps = {k: relative_gaps(X, y, groups, lams, w).max() for k, w in W.items()}
        if not converged:
            notes.append("jaxl1 reports a strength not converged")
        for peer in tols:
            if warn[peer]:
                notes.append(f"{peer}: {warn[peer]} convergence warnings")

        def cell(k, fmt):
            return fmt.format(med[k]) + (" (timed once)" if once.get(k) else "") if k in med else "failed"

        ratio = [f"{med['jaxl1'] / med[p]:.2f}" if p in med else "-" for p in peers]
        gap = ", ".join(f"{gaps[k]:.1e}" if k in gaps else "-" for k in ("jaxl1",) + peers)
        tol = ", ".join(f"{tols[p]:.0e}" if p in tols else "-" for p in peers)
        same = ", ".join(f"{supports_equal(W['jaxl1'], W[p], groups)}/{len(lams)}" if p in W else "-" for p in peers)
        print(f"| {name} | {cell('jaxl1', '{:.3f}')} | {t_first:.2f} | {cell('celer', '{:.3f}')} | "
              f"{cell('skglm', '{:.3f}')} | {ratio[0]} | {ratio[1]} | {gap} | {tol} | {same} |", flush=True)
        for note in notes:
            print(f"#   {name}: {note}", flush=True)


if __name__ == "__main__":
    main()

"""A sparse X in the Gram form against the data form: where ``form="auto"``'s limit for a sparse X comes from.

For tf-idf-like matrices (``path.text_like``) of several shapes and densities, times jaxl1's 100-strength path
(no intercept, ``tol=1e-6``, the same grid) with ``form="gram"`` (the moments by scipy before the program) and
``form="data"`` (the sparse products in XLA), and prints the ratio of ``p^2`` to the stored entries, the quantity
``jaxl1.solvers._problem.sparse_gram_choice`` limits.  The minimum of ``--repeat`` runs after a first call.

    python benchmarks/sparse_forms.py --repeat 2
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import path as bench  # noqa: E402

import jaxl1  # noqa: E402

SHAPES = [(50000, 1000, 0.01), (20000, 2000, 0.004), (20000, 2000, 0.001), (20000, 4000, 0.001), (10000, 4000, 0.002)]


def best(call, repeat):
    jax.block_until_ready(call())
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print("| X | stored entries | p^2 / stored | Gram form (s) | data form (s) |")
    print("| --- | --- | --- | --- | --- |")
    for n, p, density in SHAPES:
        prob = bench.text_like("x", n, p, density, 50, 1e-3, seed=5)
        kw = dict(lambdas=prob.lambdas, fit_intercept=False, tol=1e-6)
        times = [best(lambda f=form: jaxl1.fit_path(prob.X, prob.y, form=f, **kw).coef, args.repeat)
                 for form in ("gram", "data")]
        print(f"| {n}x{p}, {density:g} | {prob.X.nnz:,} | {p * p / prob.X.nnz:.1f} | {times[0]:.3f} | {times[1]:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()

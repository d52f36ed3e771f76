"""Time against the number of devices: a 512-strength path and a 5-fold x 100-strength cross-validation.

For each device count (``--devices 1,2,4``) a fresh process is started with that many devices (on a
CPU, ``--xla_force_host_platform_device_count``; on an accelerator host, the first N of its devices
with ``--platform gpu``), and it times, after one warm-up call (compilation), the median of
``--repeat`` runs of

* ``jaxl1.fit_path(X, y, n_lambdas=512, devices=...)``: the grid in contiguous blocks, one per device;
* ``jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=100, devices=...)``: the 6 runs (5 folds and the
  full path) spread over the devices.

Efficiency is ``t_1 / (N t_N)`` (1.0 is perfect scaling).  Forced CPU devices share the machine's cores
(2 on the machine this project runs on): their numbers show the overhead of spreading the work, not
what N real devices gain.  The answers are compared with those of the first device count: the largest
relative difference of the path's objectives (computed in numpy), of its coefficients, and of the fold
scores, so that a faster run is shown to be the same answer (to the default relative gap, 1e-6).

Usage::

    python benchmarks/scaling.py                    # 1, 2, 4 forced CPU devices
    python benchmarks/scaling.py --devices 1,2 --n 4000 --p 400
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time


def child(args):
    if args.platform == "cpu":
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.child}"
        os.environ["JAX_PLATFORMS"] = "cpu"
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np

    import jaxl1

    devices = jax.devices()[:args.child]
    assert len(devices) == args.child, (jax.devices(), args.child)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.p))
    w = np.zeros(args.p)
    w[:20] = rng.standard_normal(20)
    y = X @ w + rng.standard_normal(args.n)

    def timed(call):
        jax.block_until_ready(call())  # compilation
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = jax.block_until_ready(call())
            times.append(time.perf_counter() - t)
        return statistics.median(times), out

    t_path, path = timed(lambda: jaxl1.fit_path(X, y, n_lambdas=512, devices=devices))
    t_cv, cv = timed(lambda: jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=100, devices=devices))
    result = {"devices": args.child, "path_s": t_path, "cv_s": t_cv, "path_converged": bool(path.converged.all()),
              "path_iters": int(path.n_iter.sum()), "cv_converged": bool(cv.fold_converged.all())}
    # the lasso objective at every strength, in numpy: the solves are certified by their gap, so objectives
    # (not coefficients, which a wide X leaves loosely determined) are what must agree across device counts
    coef, b = np.asarray(path.coef), np.asarray(path.intercept)
    resid = y[:, None] - X @ coef.T - b
    objective = 0.5 * np.mean(resid**2, axis=0) + np.asarray(path.lambdas) * np.abs(coef).sum(axis=1)
    np.save(os.path.join(args.out, f"obj{args.child}.npy"), objective)
    np.save(os.path.join(args.out, f"coef{args.child}.npy"), coef)
    np.save(os.path.join(args.out, f"scores{args.child}.npy"), np.asarray(cv.fold_scores))
    print(json.dumps(result))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", default="1,2,4", help="device counts, comma-separated")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--p", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--platform", default="cpu", help="cpu (forced host devices) or the host's accelerators")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args)
    import numpy as np

    counts = [int(c) for c in args.devices.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for count in counts:
            cmd = [sys.executable, __file__, "--child", str(count), "--out", out, "--n", str(args.n), "--p", str(args.p),
                   "--repeat", str(args.repeat), "--platform", args.platform]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{count} devices failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        ref_coef = np.load(os.path.join(out, f"coef{counts[0]}.npy"))
        ref_obj = np.load(os.path.join(out, f"obj{counts[0]}.npy"))
        ref_scores = np.load(os.path.join(out, f"scores{counts[0]}.npy"))
        for row in rows:
            row["obj_rel"] = float(np.max(np.abs(np.load(os.path.join(out, f"obj{row['devices']}.npy")) / ref_obj - 1)))
            row["coef_diff"] = float(np.max(np.abs(np.load(os.path.join(out, f"coef{row['devices']}.npy")) - ref_coef)))
            row["score_rel"] = float(np.max(np.abs(np.load(os.path.join(out, f"scores{row['devices']}.npy")) / ref_scores
                                                - 1)))
    base = rows[0]
    print(f"# {datetime.date.today()}, {platform.machine()}, {os.cpu_count()} cores, X {args.n}x{args.p}, "
          f"median of {args.repeat}, {args.platform}")
    print("| devices | path 512 λ | speed-up | efficiency | 5-fold CV, 100 λ | speed-up | efficiency "
          "| max objective rel diff | max coef diff | max score rel diff |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        n = row["devices"] / base["devices"]
        sp, sc = base["path_s"] / row["path_s"], base["cv_s"] / row["cv_s"]
        print(f"| {row['devices']} | {row['path_s']:.3f} s | {sp:.2f} | {sp / n:.2f} | {row['cv_s']:.3f} s | {sc:.2f} "
              f"| {sc / n:.2f} | {row['obj_rel']:.1e} | {row['coef_diff']:.1e} | {row['score_rel']:.1e} |")
        if not (row["path_converged"] and row["cv_converged"]):
            print(f"  ({row['devices']} devices: some solves stopped at max_iter)")


if __name__ == "__main__":
    main()

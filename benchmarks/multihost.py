"""jaxl1 on several processes with JAX's own distributed runtime (``jax.distributed``).

Every process runs this script with the same arguments but its own ``--process-id``; together they
form one set of global devices, and ``jaxl1.fit_path`` / ``jaxl1.cross_validate`` spread the grid, the
rows or the folds over all of them, exactly as over the devices of one process.  Each process holds
the same data (generated here from a seed) and gets the whole result.  Process 0 checks the answers
against a solve on its own first device and prints the largest differences.

On one machine, two processes on loopback with two CPU devices each (what tests/test_sharding.py
runs)::

    python benchmarks/multihost.py --processes 2 --process-id 0 --port 12355 --local-devices 2 &
    python benchmarks/multihost.py --processes 2 --process-id 1 --port 12355 --local-devices 2

On real hosts give every process the coordinator's address (``--coordinator HOST``, process 0's
machine) and leave ``--local-devices`` out (each host's accelerators).  Only the loopback run above
has been run by this project (CPU devices, gloo collectives); nothing here has run on multi-host
accelerator hardware.
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--processes", type=int, required=True, help="number of processes in all")
    ap.add_argument("--process-id", type=int, required=True, help="this process, 0 .. processes-1")
    ap.add_argument("--coordinator", default="127.0.0.1", help="host of process 0 (default: loopback)")
    ap.add_argument("--port", type=int, default=12355)
    ap.add_argument("--local-devices", type=int, default=None,
                    help="CPU devices per process (forces the CPU platform; default: the host's devices)")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--p", type=int, default=40)
    ap.add_argument("--n-lambdas", type=int, default=16)
    args = ap.parse_args(argv)
    if args.local_devices:
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.local_devices}"
        os.environ["JAX_PLATFORMS"] = "cpu"

    import jax

    jax.config.update("jax_enable_x64", True)
    jax.distributed.initialize(f"{args.coordinator}:{args.port}", num_processes=args.processes,
                               process_id=args.process_id)
    import numpy as np

    import jaxl1

    rng = np.random.default_rng(0)  # the same data in every process
    X = rng.standard_normal((args.n, args.p))
    w = np.zeros(args.p)
    w[:5] = [2.0, -1.5, 1.0, 0.5, -0.5]
    y = X @ w + rng.standard_normal(args.n)
    kw = dict(n_lambdas=args.n_lambdas, tol=1e-12, max_iter=100_000)
    local = jax.local_devices()[:1]
    everywhere = jax.devices()
    t = time.perf_counter()
    spread = {"fit_path, strengths spread": jaxl1.fit_path(X, y, devices=everywhere, **kw).coef,
              "fit_path, rows spread": jaxl1.fit_path(X, y, devices=everywhere, shard="rows", **kw).coef,
              "cross_validate, folds spread": jaxl1.cross_validate(X, y, n_folds=3, devices=everywhere,
                                                                   **kw).fold_scores}
    seconds = time.perf_counter() - t
    if jax.process_index() == 0:  # the references, on this process's first device alone
        path = np.asarray(jaxl1.fit_path(X, y, devices=local, **kw).coef)
        scores = np.asarray(jaxl1.cross_validate(X, y, n_folds=3, devices=local, **kw).fold_scores)
        print(f"processes {jax.process_count()}, global devices {len(everywhere)}, local {len(jax.local_devices())}")
        for name, a in spread.items():
            ref = scores if name.startswith("cross") else path
            print(f"{name}: max |difference| from one device {np.max(np.abs(np.asarray(a) - ref)):.2e}")
        print(f"seconds (the spread calls, compilation included): {seconds:.1f}")
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()

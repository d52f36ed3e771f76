"""Time to first result: a new user's first ``fit``, ``fit_path`` and ``cross_validate`` in a fresh process.

Each run starts a new Python process (no persistent compilation cache) that imports jax and jaxl1, loads
diabetes (442x10, float32: JAX's default), and times the README's three first calls and a second call of
each (``jax.block_until_ready`` on the result).  With ``--programs`` the child also lists every program
compiled during the three first calls, with its tracing, lowering and compile times (JAX's own log of
compiles), so that the time can be read per program.

Usage::

    python benchmarks/first_call.py --runs 5
    python benchmarks/first_call.py --runs 1 --programs
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

CHILD = r"""
import json, logging, re, sys, time
t0 = time.perf_counter()
import jax
t1 = time.perf_counter()
import jaxl1
t2 = time.perf_counter()
from sklearn.datasets import load_diabetes

programs = []
if sys.argv[1] == "1":
    jax.config.update("jax_log_compiles", True)

    class Log(logging.Handler):
        def emit(self, record):
            m = re.match(r"Finished (tracing|jaxpr to MLIR module conversion|XLA compilation)( of)? ?(\S+).* in "
                         r"([0-9.e-]+) sec", record.getMessage())
            if m:
                programs.append((phase, {"tracing": "trace", "XLA compilation": "compile"}.get(m.group(1), "lower"),
                                 m.group(3), float(m.group(4))))

    logging.getLogger("jax").addHandler(Log())
    logging.getLogger("jax").setLevel(logging.WARNING)
X, y = load_diabetes(return_X_y=True)
out = {"import_jax": t1 - t0, "import_jaxl1": t2 - t1}
calls = (("fit", lambda: jaxl1.fit(X, y, jaxl1.L1(0.1)).coef), ("fit_path", lambda: jaxl1.fit_path(X, y).coef),
         ("cross_validate", lambda: jaxl1.cross_validate(X, y, n_folds=5).lambda_best))
for phase, f in calls:
    t = time.perf_counter(); jax.block_until_ready(f()); out[phase] = time.perf_counter() - t
    t = time.perf_counter(); jax.block_until_ready(f()); out[phase + "_second"] = time.perf_counter() - t
out["programs"] = programs
print(json.dumps(out))
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="fresh processes")
    ap.add_argument("--programs", action="store_true", help="list the programs compiled in the last run")
    args = ap.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    runs = []
    for i in range(args.runs):
        flag = "1" if (args.programs and i == args.runs - 1) else "0"
        res = subprocess.run([sys.executable, "-c", CHILD, flag], capture_output=True, text=True, env=env, check=True)
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    import jax

    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, jax {jax.__version__}, "
          f"{platform.machine()}, {os.cpu_count()} cores, {args.runs} fresh processes")
    keys = ["import_jax", "import_jaxl1", "fit", "fit_path", "cross_validate"]
    print("| " + " | ".join(keys + ["three first calls"]) + " |")
    print("|" + " --- |" * (len(keys) + 1))
    for r in runs:
        print("| " + " | ".join(f"{r[k]:.3f}" for k in keys) + f" | {r['fit'] + r['fit_path'] + r['cross_validate']:.3f} |")
    first = [r["fit"] + r["fit_path"] + r["cross_validate"] for r in runs]
    print(f"median of the three first calls: {statistics.median(first):.3f} s; second calls (ms): "
          + ", ".join(f"{k} {1e3 * statistics.median(r[k + '_second'] for r in runs):.1f}"
                      for k in ("fit", "fit_path", "cross_validate")))
    if args.programs:
        print("\n| call | program | trace (s) | lower (s) | compile (s) |\n| --- | --- | --- | --- | --- |")
        table = {}
        for phase, step, name, secs in runs[-1]["programs"]:
            name = name.removeprefix("jit(").removesuffix(")")
            table.setdefault((phase, name), {})[step] = table.get((phase, name), {}).get(step, 0.0) + secs
        for (phase, name), t in table.items():
            print(f"| {phase} | {name} | " + " | ".join(f"{t.get(s, 0.0):.3f}" for s in ("trace", "lower", "compile"))
                  + " |")


if __name__ == "__main__":
    main()

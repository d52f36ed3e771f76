"""Step time of ``adam`` against ``chain(adam, proximal(L1))`` on an MLP of about 1M parameters.

Every variant is one jitted training step (forward, backward, optimizer update,
``apply_updates``) with the parameters and optimizer state donated.  The variants are
timed in interleaved rounds (so that a change of machine load hits all of them
alike) and each reports the median over all its timed steps; the overhead ratio is
``median(variant) / median(adam)``.  ``prox_adam`` (the per-coordinate threshold) is
timed as well, and so are the optimizer updates alone (no forward/backward), the
cost the proximal step adds to.

    python benchmarks/optax_step.py            # defaults: batch 128, 20 rounds of 25 steps
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxl1

SIZES = (784, 1024, 256, 10)  # 1,068,810 parameters


def init_params(seed: int = 0):
    rng = np.random.default_rng(seed)
    return [
        {
            "kernel": jnp.asarray(rng.standard_normal((a, b)) / np.sqrt(a), jnp.float32),
            "bias": jnp.zeros(b, jnp.float32),
        }
        for a, b in zip(SIZES[:-1], SIZES[1:], strict=True)
    ]


def apply(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["kernel"] + layer["bias"])
    return x @ params[-1]["kernel"] + params[-1]["bias"]


def loss_fn(params, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(apply(params, x), y).mean()


def kernels(params):
    return [{"kernel": True, "bias": False} for _ in params]


def make_step(tx, with_model: bool):
    def step(params, state, x, y):
        grads = jax.grad(loss_fn)(params, x, y) if with_model else jax.tree.map(lambda p: 1e-3 * p + x[0, 0], params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return jax.jit(step, donate_argnums=(0, 1))


def bench(variants, with_model, x, y, rounds, per_round):
    runs = {}
    for name, tx in variants.items():
        params = init_params()
        state = tx.init(params)
        step = make_step(tx, with_model)
        for _ in range(5):  # compile and warm up
            params, state = jax.block_until_ready(step(params, state, x, y))
        runs[name] = [step, params, state, []]
    for _ in range(rounds):
        for run in runs.values():
            step, params, state, times = run
            for _ in range(per_round):
                t0 = time.perf_counter()
                params, state = jax.block_until_ready(step(params, state, x, y))
                times.append(time.perf_counter() - t0)
            run[1], run[2] = params, state
    return {name: (statistics.median(run[3]), run[1]) for name, run in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=25)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--strength", type=float, default=1e-4)
    args = parser.parse_args()

    lr, lam = args.lr, args.strength
    variants = {
        "adam": optax.adam(lr),
        "chain(adam, proximal(L1))": optax.chain(optax.adam(lr), jaxl1.proximal(jaxl1.L1(lam), lr, mask=kernels)),
        "prox_adam(L1)": jaxl1.prox_adam(lr, jaxl1.L1(lam), mask=kernels),
    }
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal((args.batch, SIZES[0])), jnp.float32)
    y = jnp.asarray(rng.integers(0, SIZES[-1], args.batch))
    n_params = sum(p.size for p in jax.tree.leaves(init_params()))

    print(
        f"jax {jax.__version__} on {jax.devices()[0].platform} ({jax.devices()[0].device_kind}); "
        f"os.cpu_count()={os.cpu_count()}; {platform.processor() or platform.machine()}"
    )
    print(
        f"MLP {SIZES}: {n_params:,} parameters, batch {args.batch}, float32, "
        f"median of {args.rounds * args.per_round} steps per variant ({args.rounds} interleaved rounds)"
    )
    for title, with_model in [("full training step", True), ("optimizer update + apply_updates only", False)]:
        results = bench(variants, with_model, x, y, args.rounds, args.per_round)
        base = results["adam"][0]
        print(f"\n{title}:")
        for name, (median, params) in results.items():
            zeros = float(jaxl1.sparsity(params, mask=kernels).total)
            print(
                f"  {name:<28s} {1e3 * median:8.3f} ms/step   ratio {median / base:6.3f}   "
                f"kernel zeros {100 * zeros:5.1f}%"
            )


if __name__ == "__main__":
    main()

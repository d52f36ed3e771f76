"""The ``jaxl1`` command: fit a regularization path on a bundled dataset and print it.

Usage::

    jaxl1 path --dataset diabetes [--loss squared|logistic] [--l1-ratio R] [--n-lambdas K] [--eps E]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

DATASETS = {
    "diabetes": ("load_diabetes", "squared"),
    "breast_cancer": ("load_breast_cancer", "logistic"),
}


def _load(name):
    import sklearn.datasets

    loader, loss = DATASETS[name]
    data = getattr(sklearn.datasets, loader)()
    return np.asarray(data.data, float), np.asarray(data.target, float), list(data.feature_names), loss


def _parser():
    parser = argparse.ArgumentParser(prog="jaxl1", description="L1-regularized paths with jaxl1")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("path", help="fit a regularization path and print it")
    p.add_argument("--dataset", choices=sorted(DATASETS), default="diabetes")
    p.add_argument("--loss", choices=["squared", "logistic"], default=None)
    p.add_argument("--l1-ratio", type=float, default=1.0)
    p.add_argument("--n-lambdas", type=int, default=20)
    p.add_argument("--eps", type=float, default=1e-3)
    p.add_argument("--standardize", action="store_true", help="scale every feature to unit variance")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", True)
    import jaxl1

    X, y, names, default_loss = _load(args.dataset)
    loss = args.loss or default_loss
    if args.standardize:
        sd = X.std(0)
        X = (X - X.mean(0)) / np.where(sd > 0, sd, 1.0)
    try:
        path = jaxl1.fit_path(X, y, loss=loss, l1_ratio=args.l1_ratio, n_lambdas=args.n_lambdas, eps=args.eps)
    except ValueError as err:
        print(f"jaxl1: error: {err}", file=sys.stderr)
        return 2
    coef = np.asarray(path.coef)
    print(f"{args.dataset}: n={X.shape[0]} p={X.shape[1]} loss={loss} l1_ratio={args.l1_ratio}")
    print(f"{'lambda':>12} {'nonzeros':>8} {'gap':>10}  selected")
    for lam, row, gap in zip(np.asarray(path.lambdas), coef, np.asarray(path.gap)):
        sel = [names[j] for j in np.flatnonzero(row)]
        print(f"{lam:12.5g} {len(sel):8d} {gap:10.2e}  {', '.join(sel)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""jaxl1: L1-type regularization in JAX.

Penalties with exact proximal operators, a jitted and vmapped proximal-gradient
solver for whole regularization paths certified by a duality gap, and an optax
transformation that applies the proximal step in training.
"""

from ._validation import InvalidParameterError
from .criteria import ICResult, information_criterion
from .losses import LOSSES, Logistic, Loss, Multinomial, Poisson, Squared
from .path import CVResult, PathResult, cross_validate, fit_path, lambda_grid, lambda_max
from .penalties import L1, L2, Bounded, ColumnScaled, ElasticNet, GroupL1, SparseGroupL1, L21, MCP, SCAD, NonNegativeL1, soft_threshold
from .plotting import plot_cv, plot_path, plot_stability
from .relaxed import RelaxedCVResult, RelaxedPath, cross_validate_relaxed, relax
from .stability import StabilityResult, stability_selection
from .solver import STATUS, ConvergenceWarning, FitResult, default_tol, fit
from .transform import ProxAdamState, ProximalState, Sparsity, prox_adam, proximal, sparsity
from .tune import TuneResult, tune

__version__ = "0.1.0"

__all__ = [
    "soft_threshold",
    "L1",
    "L2",
    "ElasticNet",
    "NonNegativeL1",
    "GroupL1",
    "SparseGroupL1",
    "L21",
    "MCP",
    "SCAD",
    "ColumnScaled",
    "Bounded",
    "Loss",
    "Squared",
    "Logistic",
    "Multinomial",
    "Poisson",
    "LOSSES",
    "fit",
    "FitResult",
    "ConvergenceWarning",
    "InvalidParameterError",
    "STATUS",
    "default_tol",
    "lambda_max",
    "lambda_grid",
    "fit_path",
    "cross_validate",
    "PathResult",
    "CVResult",
    "relax",
    "RelaxedPath",
    "cross_validate_relaxed",
    "RelaxedCVResult",
    "stability_selection",
    "StabilityResult",
    "information_criterion",
    "ICResult",
    "tune",
    "TuneResult",
    "plot_path",
    "plot_cv",
    "plot_stability",
    "proximal",
    "prox_adam",
    "sparsity",
    "ProximalState",
    "ProxAdamState",
    "Sparsity",
]

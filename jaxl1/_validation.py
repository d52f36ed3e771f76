"""Checks at the public boundary that the compiled code cannot make (issue 19).

The public functions call these on their arguments before the jitted core.  Value
checks run on concrete inputs only (a tracer passes untouched: under a user's
``jit``, ``vmap`` or ``grad`` nothing here raises), type checks always.  Each
error names the argument it is about.
"""

from __future__ import annotations

import contextlib
import re

import jax
import numpy as np

from ._design import stored_values

__all__ = ["InvalidParameterError"]


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter of the wrong type (a string, ``None``, a bool for a number).

    Both a ``ValueError`` (the contract: bad input raises one naming the argument) and a
    ``TypeError`` (what Python raises for a wrong type), as scikit-learn's error of the same name.
    """


def _traced(x) -> bool:
    return isinstance(x, jax.core.Tracer)


# --------------------------------------------------------------------------- #
# hyperparameters
# --------------------------------------------------------------------------- #
def check_hyperparameter(name: str, value, *, lo: float | None = 0.0, hi: float | None = None) -> None:
    """A penalty's number (``strength``, ``alpha``, ``l1_ratio``, a leaf of ``weights``).

    A number or a numeric array: strings (``"0.1"``), ``None`` and bools (``True``) are refused
    whatever their value could be read as.  Concrete values must be finite and in ``[lo, hi]``.
    Tracers and abstract values (``jax.ShapeDtypeStruct``) are checked for their dtype only.
    """
    if _traced(value) or isinstance(value, jax.ShapeDtypeStruct):
        kind = np.dtype(value.dtype).kind
        if kind not in "fiu":
            raise InvalidParameterError(f"{name} must be numeric, got dtype {value.dtype}")
        return
    if value is None or isinstance(value, (bool, np.bool_, str, bytes)):
        raise InvalidParameterError(f"{name} must be a number or a numeric array, got {value!r}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be a number or a numeric array, got {value!r}") from None
    if arr.dtype.kind not in "fiu":
        raise InvalidParameterError(f"{name} must be numeric, got {value!r} (dtype {arr.dtype})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and np.any(arr < lo):
        raise ValueError(f"{name} must be >= {lo}, got {value!r}")
    if hi is not None and np.any(arr > hi):
        raise ValueError(f"{name} must be <= {hi}, got {value!r}")


def reject_bools(**named) -> None:
    """Refuse ``True``/``False`` given for a numeric option (``max_iter=True`` is not 1)."""
    for name, value in named.items():
        if isinstance(value, (bool, np.bool_)):
            raise InvalidParameterError(f"{name} must be a number, not a bool (got {value!r})")


def check_positive_int(name: str, value) -> int:
    """A positive integer (a Python or numpy integer, not a bool), as a Python ``int``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_lambdas_shape(lambdas) -> None:
    """``lambdas`` is a scalar or a 1-D sequence (a 2-D array is not silently flattened)."""
    if lambdas is not None and np.ndim(lambdas) > 1:
        raise ValueError(f"lambdas must be a 1-D sequence of strengths, got shape {np.shape(lambdas)}")


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #
def _from_pandas(x):
    """A pandas frame or series whose numpy form is ``object`` (bool next to float columns, nullable
    ``Int64``/``boolean``/``Float64``) as float64, missing values as NaN; anything else unchanged."""
    if x is None or isinstance(x, (np.ndarray, jax.Array, jax.core.Tracer)):
        return x
    to_numpy = getattr(x, "to_numpy", None)
    if to_numpy is None or not (hasattr(x, "dtypes") or hasattr(x, "dtype")):
        return x
    try:
        if np.asarray(x).dtype != object:
            return x
        return to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):  # text columns: left for the usual "must be numeric" error
        return x


def _normalized_weights(sample_weight):
    """Concrete weights divided by their largest value (so the largest is 1).

    The solver divides the weights by their sum; weights that are all subnormal (``1e-310``) pass a
    positive-sum test in numpy but are flushed to zero by XLA on CPU, and that sum is then 0.  Scaling
    by the largest weight changes nothing else: the objective is a weighted mean.
    """
    if sample_weight is None or _traced(sample_weight) or np.ndim(sample_weight) == 0:
        return sample_weight
    sw = np.asarray(sample_weight)
    if sw.dtype.kind != "f" or sw.size == 0 or not np.all(np.isfinite(sw)) or np.any(sw < 0):
        return sample_weight  # reported by validate_data
    top = sw.max()
    return sw / top if top > 0 else sample_weight


def prepare_inputs(X, y, sample_weight):
    """``(X, y, sample_weight)`` before the usual conversion: pandas' object columns and subnormal weights."""
    return _from_pandas(X), _from_pandas(y), _normalized_weights(_from_pandas(sample_weight))


def magnitude_limit(dtype, scaled: bool = True) -> float:
    """The largest ``|X|`` or ``|y|`` for which the solver is known to give a finite, correct answer.

    With a separable penalty the solver works on unit-norm columns, but squares of values above the
    square root of the largest float overflow on the way; without one (``GroupL1``, ``L2``) products of
    four such values appear (the power iteration on the Gram matrix), so the limit is a fourth root.
    Each limit keeps a margin below the measured failure.
    """
    big = float(np.finfo(dtype).max)
    return big**0.5 * 1e-3 if scaled else big**0.25 * 1e-2


def check_magnitude(X, y, *, scaled: bool = True) -> None:
    """Refuse data too large for ``dtype`` (see :func:`magnitude_limit`), naming ``X`` or ``y``."""
    for name, a in (("X", X), ("y", y)):
        a = stored_values(a)  # a sparse X: its stored values
        if _traced(a):
            continue
        a = np.asarray(a)
        top = float(np.max(np.abs(a))) if a.size else 0.0
        limit = magnitude_limit(a.dtype, scaled)
        if top > limit:
            what = "float32; pass float64 data with jax_enable_x64 on" if a.dtype == np.float32 else a.dtype
            raise ValueError(
                f"{name} has values of magnitude up to {top:.3g}, beyond {limit:.2g}, the largest the solver "
                f"handles in {what} (rescale: divide the large columns by a constant, or standardize)"
            )


def check_two_classes(y, s, loss, where: str = "") -> None:
    """The logistic loss needs both labels among the samples of positive weight (as scikit-learn).

    ``loss`` is the loss object (or its name).
    """
    loss_name = loss if isinstance(loss, str) else getattr(loss, "name", "")
    if loss_name != "logistic" or _traced(y) or _traced(s):
        return
    y, s = np.asarray(y), np.asarray(s)
    classes = np.unique(y[s > 0])
    if len(classes) < 2:
        only = f" ({classes[0]:g})" if len(classes) else ""
        raise ValueError(f"y has a single class{only}{where}; loss='logistic' needs samples of both labels 0 and 1")


def check_cv_folds(fold_ids, s, n_folds: int, y=None, loss_name: str = "squared") -> None:
    """Every fold needs training weight and held-out weight (and, for the logistic loss, two training classes).

    A fold whose training samples all have zero weight has no fit; one whose held-out samples all have zero
    weight has no score (averaging it in as 0 would bias the mean).  Both raise, naming ``sample_weight``.
    """
    if _traced(s):
        return
    s = np.asarray(s, np.float64)
    held = np.bincount(fold_ids, weights=s, minlength=n_folds)  # held-out weight of each fold
    weighted = np.bincount(fold_ids, weights=(s > 0).astype(np.float64), minlength=n_folds)
    train = (s > 0).sum() - weighted  # samples of positive weight outside each fold
    for k in range(n_folds):
        if train[k] == 0:
            raise ValueError(f"sample_weight is zero on every training sample of fold {k} (the samples outside "
                             "that fold), so the fold has nothing to fit on")
        if not held[k] > 0:
            raise ValueError(f"sample_weight is zero on every held-out sample of fold {k}, so the fold has no "
                             "score; give those samples to other folds (folds=...) or drop them")
    if y is not None:
        for k in range(n_folds):
            check_two_classes(y, np.where(fold_ids == k, 0.0, s), loss_name,
                              f" in the training samples of fold {k} (use shuffled or stratified folds)")


@contextlib.contextmanager
def renamed(**names):
    """Re-raise a ``ValueError`` from a shared check with the caller's argument names (``X`` -> ``X_val``)."""
    try:
        yield
    except ValueError as err:
        message = str(err)
        for old, new in names.items():
            message = re.sub(rf"\b{re.escape(old)}\b", new, message)
        raise type(err)(message) from None

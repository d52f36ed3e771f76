"""Every check at the public boundary, in one place (issues 13 and 19).

``fit``, ``fit_path``, ``cross_validate``, ``lambda_max``, ``lambda_grid`` and ``tune`` check and
resolve their arguments with the functions here, once, and hand the resolved values down: nothing
below them validates again.  Value checks run on concrete inputs only (a tracer passes untouched:
under a user's ``jit``, ``vmap`` or ``grad`` nothing here raises), type and shape checks always.
Each error names the argument it is about.

The names are public inside this private module.  The penalties' constructors use
:func:`check_hyperparameter` for their numbers as well.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re

import jax
import jax.numpy as jnp
import numpy as np

from .losses import get_loss
from .solvers._problem import choose_form, column_peaks, default_tol, default_ws_size
from ._design import as_bcoo, is_sparse, require_finite, stand_in, stored_values

__all__ = ["InvalidParameterError"]


class InvalidParameterError(ValueError, TypeError):
    """A hyperparameter of the wrong type (a string, ``None``, a bool for a number).

    Both a ``ValueError`` (the contract: bad input raises one naming the argument) and a
    ``TypeError`` (what Python raises for a wrong type), as scikit-learn's error of the same name.
    """


def concrete(x) -> bool:
    """``x`` holds values (it is not a tracer), so its values can be checked."""
    return not isinstance(x, jax.core.Tracer)


def as_arg(x, dtype):
    """``x`` as an array of ``dtype`` for a jitted call: by numpy when concrete, as eager ``jnp``
    conversions each compile a small program on first use."""
    if isinstance(x, (jax.core.Tracer, jax.Array)):
        return jnp.asarray(x, dtype)
    return np.asarray(x, dtype)


# --------------------------------------------------------------------------- #
# numbers
# --------------------------------------------------------------------------- #
def check_hyperparameter(name: str, value, *, lo: float | None = 0.0, hi: float | None = None) -> None:
    """A penalty's number (``strength``, ``alpha``, ``l1_ratio``, a leaf of ``weights``).

    A number or a numeric array: strings (``"0.1"``), ``None`` and bools (``True``) are refused
    whatever their value could be read as.  Concrete values must be finite and in ``[lo, hi]``.
    Tracers and abstract values (``jax.ShapeDtypeStruct``) are checked for their dtype only.
    """
    if not concrete(value) or isinstance(value, jax.ShapeDtypeStruct):
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


def _bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def reject_bools(**named) -> None:
    """Refuse ``True``/``False`` given for a numeric option (``max_iter=True`` is not 1)."""
    for name, value in named.items():
        if _bool(value):
            raise InvalidParameterError(f"{name} must be a number, not a bool (got {value!r})")


def check_integer(name: str, value, *, minimum: int = 1, or_none: bool = False) -> int:
    """An integer count (``max_iter``, ``check_every``, ``n_lambdas``, ``n_folds``, ...) as a Python ``int``.

    A Python or numpy integer of at least ``minimum``; a bool is refused as in :func:`reject_bools`.
    ``or_none`` only adds "or None" to the message (the caller handles ``None`` itself).
    """
    reject_bools(**{name: value})
    if not isinstance(value, (int, np.integer)) or value < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {what}{' or None' if or_none else ''}, got {value!r}")
    return int(value)


MAX_ITER_LIMIT = 2**31 - 1024  # iteration counts are int32; room for the sums in the loop tests


def check_tol(tol, default):
    """``tol``, or ``default`` for ``None``: a finite non-negative number (when concrete)."""
    if tol is None:
        tol = default
    if concrete(tol) and not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite non-negative number, got {tol!r}")
    return tol


def check_tol_iter(tol, max_iter, dtype):
    """``tol`` (its default for ``dtype`` when ``None``) after checking it and ``max_iter``."""
    tol = check_tol(tol, default_tol(dtype))
    check_integer("max_iter", max_iter, minimum=0)
    if max_iter > MAX_ITER_LIMIT:
        raise ValueError(f"max_iter must be at most {MAX_ITER_LIMIT}, got {max_iter!r}")
    return tol


def check_positive_number(name: str, value) -> None:
    """A finite number above zero (``init_lambda``)."""
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")


def check_l1_ratio(l1_ratio) -> float:
    """The elastic-net mixing of a path or a tuning run: a number in ``[0, 1]``, as a Python float."""
    if _bool(l1_ratio) or not (isinstance(l1_ratio, (int, float, np.floating, np.integer)) and 0 <= l1_ratio <= 1):
        raise ValueError(f"l1_ratio must be a number in [0, 1], got {l1_ratio!r}")
    return float(l1_ratio)


def check_has_lambda_max(l1_ratio: float) -> None:
    """A pure ridge penalty (``l1_ratio=0``) zeroes no coefficient at any finite strength."""
    if l1_ratio == 0:
        raise ValueError("l1_ratio must be > 0 for lambda_max (a pure ridge path has no finite lambda_max)")


def check_grid(n_lambdas, eps, *, l1_ratio: float = 1.0) -> int:
    """The default grid's size and range (``lambda_grid``, or ``fit_path`` without ``lambdas``)."""
    if l1_ratio == 0:
        raise ValueError("lambdas must be given when l1_ratio=0 (a ridge path has no lambda_max)")
    n_lambdas = check_integer("n_lambdas", n_lambdas)
    if not (np.isfinite(eps) and 0 < eps <= 1):
        raise ValueError(f"eps must be in (0, 1], got {eps!r}")
    return n_lambdas


def check_lambdas_shape(lambdas) -> None:
    """``lambdas`` is a scalar or a 1-D sequence (a 2-D array is not silently flattened)."""
    if lambdas is not None and np.ndim(lambdas) > 1:
        raise ValueError(f"lambdas must be a 1-D sequence of strengths, got shape {np.shape(lambdas)}")


def check_lambdas(lambdas, dtype) -> jax.Array:
    """Given strengths as a ``(K,)`` array of ``dtype``: at least one, finite, non-negative, decreasing (numbers:
    not strings or bools)."""
    if not isinstance(lambdas, (jax.Array, jax.core.Tracer)):
        kind = np.asarray(lambdas).dtype.kind
        if kind not in "iuf":
            raise ValueError(f"lambdas must be numbers (a 1-D array of strengths), got {lambdas!r}")
    lams = jnp.asarray(lambdas, dtype).reshape(-1)
    if lams.shape[0] < 1:
        raise ValueError("lambdas must hold at least one strength")
    if concrete(lams):
        ln = np.asarray(lams)
        if not np.all(np.isfinite(ln)) or np.any(ln < 0):
            raise ValueError("lambdas must be finite and non-negative")
        if np.any(np.diff(ln) > 0):
            raise ValueError("lambdas must be in decreasing order")
    return lams


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
    if sample_weight is None or not concrete(sample_weight) or np.ndim(sample_weight) == 0:
        return sample_weight
    sw = np.asarray(sample_weight)
    if sw.dtype.kind != "f" or sw.size == 0 or not np.all(np.isfinite(sw)) or np.any(sw < 0):
        return sample_weight  # reported by validate_data
    top = sw.max()
    return sw / top if top > 0 else sample_weight


def prepare_inputs(X, y, sample_weight):
    """``(X, y, sample_weight)`` before the usual conversion: pandas' object columns and subnormal weights."""
    return _from_pandas(X), _from_pandas(y), _normalized_weights(_from_pandas(sample_weight))


def as_float_array(name: str, x, dtype=None):
    """``x`` (numeric or bool) as a jax array of ``dtype`` (default: its own float dtype, or the default float)."""
    x = x if isinstance(x, jax.Array) else np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    if dtype is None:
        dtype = x.dtype if x.dtype.kind == "f" else jnp.result_type(float)
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    if isinstance(x, np.ndarray):  # converted by numpy and put: jnp.asarray compiles a program per shape
        # (on a CPU a 64-byte-aligned buffer is aliased, as jnp.asarray with a dtype aliased it: the public
        # functions wait for their results before they return, so a caller may change its arrays after)
        return jax.device_put(_aligned(x, dtype))
    return jnp.asarray(x, dtype=dtype)


ALIGNED_MIN_BYTES = 1 << 20  # numpy arrays from this size are put from a 64-byte-aligned buffer on a CPU


def _aligned(x: np.ndarray, dtype) -> np.ndarray:
    """``x`` as a C-ordered array of ``dtype`` whose buffer a CPU device can take without copying it.

    ``jax.device_put`` aliases a 64-byte-aligned C-ordered buffer and copies any other through a slow path:
    a 20000x1000 float64 array (numpy's allocations are 16-byte aligned) took 0.072 s to put, against
    0.015 s to copy into an aligned buffer and put that.  Small arrays, and other backends, are left as they are.
    """
    dtype = np.dtype(dtype)
    if x.size * dtype.itemsize < ALIGNED_MIN_BYTES or jax.default_backend() != "cpu":
        return np.asarray(x, dtype)
    if x.dtype == dtype and x.flags.c_contiguous and x.ctypes.data % 64 == 0:
        return x
    raw = np.empty(x.size * dtype.itemsize + 64, np.uint8)
    start = -raw.ctypes.data % 64
    out = raw[start:start + x.size * dtype.itemsize].view(dtype).reshape(x.shape)
    np.copyto(out, x, casting="unsafe")
    return out


def check_finite(name: str, x) -> None:
    """No NaN or infinity in a concrete ``x``."""
    if concrete(x):
        require_finite(name, np.asarray(x))


def _data_dtype(Xdt):
    """The float dtype the solve runs in: ``X``'s own (float32 or float64), else the default float."""
    dtype = jnp.dtype(Xdt) if jnp.issubdtype(Xdt, jnp.floating) else jnp.dtype(float)
    if dtype not in (jnp.float32, jnp.float64):
        dtype = jnp.dtype(float)
    return jax.dtypes.canonicalize_dtype(dtype)


def check_sample_weight(sample_weight, n: int, dtype):
    """``(n,)`` sample weights of ``dtype`` normalized to sum 1 (``1 / n`` each for ``None``).

    Concrete weights must be finite and non-negative with a positive sum; a scalar is one weight for
    every sample.
    """
    if sample_weight is None:
        # built by numpy and put: an eager jnp.full (or jnp.asarray) compiles a program per n
        return jax.device_put(np.full(n, 1.0 / n, dtype))
    sw = as_float_array("sample_weight", sample_weight, dtype)
    if sw.ndim == 0:
        sw = jnp.full(n, sw, dtype) if not concrete(sw) else jax.device_put(np.full(n, np.asarray(sw), sw.dtype))
    if sw.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    check_finite("sample_weight", sw)
    if concrete(sw):
        swn = np.asarray(sw)
        if np.any(swn < 0):
            raise ValueError("sample_weight must be non-negative")
        if not swn.sum() > 0:
            raise ValueError("sample_weight must have a positive sum")
        # normalized by numpy and put: the eager sum and division compiled two programs per n
        return jax.device_put(swn / swn.sum(dtype=swn.dtype))
    return sw / jnp.sum(sw)


def validate_data(X, y, sample_weight, loss):
    """Check and convert ``X``, ``y`` and ``sample_weight``; return ``(X, y, s)`` with ``s`` normalized.

    The one data check of every public function: ``X`` and ``y`` as float arrays of one dtype
    (``X``'s float32 or float64, else the default float), ``s`` the weights normalized to sum 1.
    Raises ``ValueError`` naming the argument.  Value checks run only on concrete inputs (under a
    user's ``jit`` the shapes are still checked).
    """
    loss = get_loss(loss)
    X, y, sample_weight = prepare_inputs(X, y, sample_weight)
    if is_sparse(X):  # a BCOO, checked on its own; y and the weights as beside a dense X
        X = as_bcoo(X)
        return (X, *validate_data(stand_in(X), y, sample_weight, loss)[1:])
    if not isinstance(X, (jax.core.Tracer, jax.Array)):
        X = np.asarray(X)
    if len(np.shape(X)) != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {np.shape(X)}")
    if getattr(X.dtype, "kind", "f") not in "fiub":
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    dtype = _data_dtype(X.dtype)
    n, p = np.shape(X)
    if n < 1 or p < 1:
        raise ValueError(f"X must have at least one sample and one feature, got shape {(n, p)}")
    multi = getattr(loss, "multi_output", False)
    if np.ndim(y) != 1 and not (multi and np.ndim(y) == 2):
        also = " or 2-D (n_samples, n_outputs)" if multi else ""
        raise ValueError(f"y must be 1-D{also}, got shape {np.shape(y)}")
    if np.ndim(y) == 2 and np.shape(y)[1] < 1:
        raise ValueError(f"y must have at least one column, got shape {np.shape(y)}")
    if np.shape(y)[0] != n:
        raise ValueError(f"X and y have inconsistent numbers of samples: {n} and {np.shape(y)[0]}")
    X = as_float_array("X", X, dtype)
    y = as_float_array("y", y, dtype)
    if concrete(X):  # from the columns' peaks, which the magnitude check and the host moments reuse
        require_finite("X", column_peaks(X, np, fresh=True))
    check_finite("y", y)
    if hasattr(loss, "encode_y"):  # labels to the form the loss computes with (multinomial: one-hot)
        y = as_float_array("y", loss.encode_y(y), dtype)
    elif concrete(y) and hasattr(loss, "validate_y"):
        loss.validate_y(np.asarray(y))
    return X, y, check_sample_weight(sample_weight, n, dtype)


def check_offset(offset, y):
    """``offset`` as an array shaped like ``y`` (an ``(n,)`` offset repeated over the columns of a 2-D ``y``),
    or ``None``; raises ``ValueError`` naming ``offset`` for a wrong length or non-finite values."""
    if offset is None:
        return None
    dtype = jnp.result_type(y)
    offset = as_float_array("offset", _from_pandas(offset), dtype)
    n = np.shape(y)[0]
    if np.shape(offset) not in {(n,), tuple(np.shape(y))}:
        want = f"({n},)" + (f" or {tuple(np.shape(y))}" if np.ndim(y) == 2 else "")
        raise ValueError(f"offset must have shape {want}, one entry per sample, got shape {np.shape(offset)}")
    check_finite("offset", offset)
    return jnp.broadcast_to(offset if offset.ndim == np.ndim(y) else offset.reshape(n, *(1,) * (np.ndim(y) - 1)),
                            np.shape(y))


def check_same_features(X_train, X_val) -> None:
    """The validation data have the training data's features."""
    if X_train.shape[1] != X_val.shape[1]:
        raise ValueError(f"X_val has {X_val.shape[1]} features, X_train has {X_train.shape[1]}")


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
    """Refuse data too large for ``dtype`` (see :func:`magnitude_limit`), or so small that its squares underflow
    (largest magnitude below ``1e3 sqrt(tiny)``: 1.5e-151 in float64, 1.1e-16 in float32), naming ``X`` or ``y``."""
    for name, a in (("X", X), ("y", y)):
        a = stored_values(a)  # a sparse X: its stored values
        if not concrete(a):
            continue
        # the extremes, not np.abs(a): no copy of a large X (20000x1000: 11 ms instead of 28 ms); a dense X's
        # from its columns' peaks (computed once per call: see column_peaks)
        if name == "X" and isinstance(a, jax.Array) and a.ndim == 2 and a.size:
            top = float(np.max(column_peaks(a, np)))
        else:
            a = np.asarray(a)
            top = max(abs(float(np.min(a))), abs(float(np.max(a)))) if a.size else 0.0
        limit = magnitude_limit(a.dtype, scaled)
        small = float(np.sqrt(np.finfo(a.dtype).tiny)) * 1e3 if np.issubdtype(a.dtype, np.floating) else 0.0
        if 0.0 < top < small:  # squares and products underflow: scales of 0, a tolerance of 0, silent wrong answers
            raise ValueError(
                f"{name} has values of magnitude at most {top:.3g}, below {small:.2g}, the smallest the solver handles "
                f"in {a.dtype} (their squares underflow; rescale: multiply {name} by a constant)"
            )
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
    if loss_name not in ("logistic", "multinomial", "poisson") or not concrete(y) or not concrete(s):
        return
    y, s = np.asarray(y), np.asarray(s)
    if loss_name == "poisson":
        if not np.sum(y[s > 0]) > 0:
            raise ValueError(f"y is all zero{where}; loss='poisson' needs a positive count among the samples of "
                             "positive weight (the null model's rate would be 0)")
        return
    if loss_name == "multinomial":  # y one-hot (n, K)
        present = np.flatnonzero((s > 0) @ (y > 0))
        if len(present) < 2:
            raise ValueError(f"y has a single class{where}; loss='multinomial' needs samples of at least two")
        return
    classes = np.unique(y[s > 0])
    if len(classes) < 2:
        only = f" ({classes[0]:g})" if len(classes) else ""
        raise ValueError(f"y has a single class{only}{where}; loss='logistic' needs samples of both labels 0 and 1")


# --------------------------------------------------------------------------- #
# the model and the solver's options
# --------------------------------------------------------------------------- #
def check_penalty(penalty, p: int, coef_shape=None) -> None:
    """A penalty object (``value`` and ``prox``) whose ``weights``, if any, have one factor per feature (or,
    for a ``(p, K)`` coefficient matrix, one per coefficient)."""
    if not (hasattr(penalty, "prox") and hasattr(penalty, "value")):
        raise ValueError(f"penalty must be a jaxl1 penalty (with value and prox), got {penalty!r}")
    weights = getattr(penalty, "weights", None)
    shapes = {(p,), tuple(coef_shape or (p,))}
    groups = getattr(penalty, "groups", None)
    if groups is not None:  # GroupL1, SparseGroupL1: one id per coefficient, the weights one per group (checked)
        if len(groups) != p or len(tuple(coef_shape or (p,))) > 1:
            raise ValueError(f"penalty groups must hold one id per coefficient ({p}) of a coefficient vector, got "
                             f"{len(groups)} ids")
        weights = None
    if weights is not None and np.shape(weights) not in shapes:
        raise ValueError(f"penalty weights must have shape {' or '.join(map(str, sorted(shapes)))}, got "
                         f"{np.shape(weights)}")
    for name in ("lower", "upper"):  # a Bounded penalty's box
        bound = getattr(penalty, name, None)
        if bound is not None and np.shape(bound) not in ((), (p,)):
            raise ValueError(f"penalty {name} bounds must be a number or have shape ({p},), got {np.shape(bound)}")
    inner = getattr(penalty, "penalty", None)  # a wrapper (Bounded, ColumnScaled): its penalty too
    if inner is not None and inner is not penalty:
        check_penalty(inner, p)


def entry_factors(weights, coef_shape):
    """``(p,)`` penalty factors of an entrywise penalty (``L1``, ``ElasticNet``) broadcast to a ``(p, K)``
    coefficient matrix: a feature's factor applies to its coefficient of every task or class.  ``None``, a
    coefficient vector and factors already of the matrix's shape are left as they are."""
    if weights is None or len(coef_shape) < 2 or np.ndim(weights) != 1:
        return weights
    w = jnp.asarray(weights)
    return jnp.broadcast_to(w.reshape(w.shape + (1,) * (len(coef_shape) - 1)), coef_shape)


def penalty_for(penalty, coef_shape):
    """``penalty`` with its ``(p,)`` factors broadcast by :func:`entry_factors` (a row-wise penalty, such as
    ``L21``, keeps one factor per row)."""
    weights = getattr(penalty, "weights", None)
    factors = entry_factors(weights, coef_shape)
    if getattr(penalty, "row_wise", False) or factors is weights:
        return penalty
    from .penalties import _rebuild

    return _rebuild(penalty, weights=factors)


def check_weights(weights, p: int, dtype):
    """A path's penalty factors as a ``(p,)`` array of ``dtype`` (``None`` stays ``None``): finite, non-negative."""
    if weights is None:
        return None
    w = jnp.asarray(weights, dtype)
    if w.shape != (p,):
        raise ValueError(f"weights must have shape ({p},), got {w.shape}")
    if concrete(w):
        wn = np.asarray(w)
        if not np.all(np.isfinite(wn)) or np.any(wn < 0):
            raise ValueError("weights must be finite and non-negative")
    return w


def check_standardize(standardize, penalty=None) -> None:
    """``standardize`` is a bool, and the penalty (when given) is one it can rescale (a separable one)."""
    if not isinstance(standardize, (bool, np.bool_)):
        raise InvalidParameterError(f"standardize must be True or False, got {standardize!r}")
    if standardize and penalty is not None and not hasattr(penalty, "scaled"):
        raise ValueError(f"standardize=True needs a separable penalty (L1, ElasticNet, NonNegativeL1, L2, L21), "
                         f"not {type(penalty).__name__}: standardize X by hand for it")


def check_bounds(bounds, p: int, dtype, positive=False, multi_output=False):
    """``bounds = (lower, upper)``, each ``None``, a number or a ``(p,)`` array, as two ``(p,)`` arrays (or ``None``).

    The box must hold 0 (``lower <= 0 <= upper``): every solve and path starts at ``w = 0``.
    """
    if multi_output and (bounds is not None or positive):
        what = "bounds" if bounds is not None else "positive=True"
        raise ValueError(f"{what}: box constraints are for a coefficient vector; a 2-D y (several responses, "
                         "or loss='multinomial') has a (p, K) coefficient matrix, which takes none yet")
    if bounds is None:
        return None
    if positive:
        raise ValueError("bounds and positive=True do not go together: use bounds=(0, upper)")
    if not (isinstance(bounds, (tuple, list)) and len(bounds) == 2):
        raise ValueError(f"bounds must be a pair (lower, upper), each None, a number or a ({p},) array, got {bounds!r}")
    out = []
    for name, value, default in (("lower", bounds[0], -np.inf), ("upper", bounds[1], np.inf)):
        if value is None:
            out.append(np.full(p, default, dtype))
            continue
        if _bool(value):
            raise InvalidParameterError(f"bounds: {name} must be a number, not a bool (got {value!r})")
        v = np.asarray(value, dtype=float)
        if v.ndim > 1 or (v.ndim == 1 and v.shape != (p,)):
            raise ValueError(f"bounds: {name} must be a number or have shape ({p},), got shape {v.shape}")
        if np.any(np.isnan(v)):
            raise ValueError(f"bounds: {name} contains NaN")
        out.append(np.broadcast_to(v, (p,)).astype(dtype))
    lo, hi = out
    if np.any(lo > 0) or np.any(hi < 0):
        raise ValueError("bounds must hold 0 (lower <= 0 <= upper for every coefficient): solves and paths start "
                         "at w = 0; shift y, or fit the part the bound excludes as an offset")
    return lo, hi


_FOLDED_SHAPES = {"mcp": ("gamma", 3.0, 1.0), "scad": ("gamma", 3.7, 2.0)}  # name, default, exclusive bound


def check_folded_shape(kind: str, gamma):
    """The shape parameter of a non-convex path penalty: MCP's ``gamma`` (> 1) or SCAD's ``a`` (> 2), as a float."""
    name, default, bound = _FOLDED_SHAPES[kind]
    if gamma is None:
        return default
    if isinstance(gamma, (bool, np.bool_)) or not isinstance(gamma, numbers.Real):
        raise InvalidParameterError(f"gamma must be a number, got {gamma!r}")
    if not (np.isfinite(gamma) and gamma > bound):
        raise ValueError(f"gamma must be finite and > {bound:g} for penalty={kind!r}, got {gamma!r}")
    return float(gamma)


def check_groups(groups, p: int):
    """A path's group ids as a tuple (``None`` stays ``None``): one integer per column, every id from 0 to
    the largest used (each group holds at least one column)."""
    if groups is None:
        return None
    ids = np.asarray(groups)
    if ids.dtype.kind not in "iu" or ids.ndim != 1:
        raise ValueError(f"groups must be a 1-D sequence of integer group ids, one per column of X, got "
                         f"{'dtype ' + str(ids.dtype) if ids.ndim == 1 else 'shape ' + str(ids.shape)}")
    if ids.shape[0] != p:
        raise ValueError(f"groups must hold one id per column of X ({p}), got {ids.shape[0]}")
    if p == 0:
        return ()
    if ids.min() < 0:
        raise ValueError(f"groups must be non-negative integer ids, got {int(ids.min())}")
    missing = np.setdiff1d(np.arange(ids.max() + 1), ids)
    if missing.size:
        raise ValueError(f"groups must use every id from 0 to {int(ids.max())} (a group of no column has no "
                         f"coefficient): id {int(missing[0])} has no column")
    return tuple(int(i) for i in ids)


def check_group_weights(weights, groups, dtype):
    """The groups' penalty factors as a ``(G,)`` array (``None`` stays ``None``: the square root of each
    group's size): finite, non-negative."""
    if weights is None:
        return None
    n_groups = max(groups) + 1 if groups else 0
    w = jnp.asarray(weights, dtype)
    if w.shape != (n_groups,):
        raise ValueError(f"weights must have one factor per group with groups, shape ({n_groups},), got {w.shape}")
    if concrete(w):
        wn = np.asarray(w)
        if not np.all(np.isfinite(wn)) or np.any(wn < 0):
            raise ValueError("weights must be finite and non-negative")
    return w


def resolve_l1_ratio(l1_ratio, groups):
    """``l1_ratio=None``: 1 (the lasso), or with ``groups`` 0 (the group lasso)."""
    if l1_ratio is None:
        return 0.0 if groups is not None else 1.0
    return l1_ratio


def check_group_options(groups, *, standardize, bounds, multi_output) -> None:
    """The group penalties take neither ``standardize`` (a group norm of rescaled coefficients is no longer
    a group norm), nor ``bounds``, nor a 2-D ``y``."""
    if groups is None:
        return
    if standardize:
        raise ValueError("standardize=True is not supported with groups: standardize the columns of X by hand "
                         "(the group norm is then taken on the standardized coefficients)")
    if bounds is not None:
        raise ValueError("bounds are not supported with groups")
    if multi_output:
        raise ValueError("groups are for a coefficient vector: a 2-D y (several responses, or loss='multinomial') "
                         "takes grouped=True for the rows of its coefficient matrix")


def is_group_kind(kind) -> bool:
    """A path penalty over groups of columns: ``("group", ids)`` or ``("sgl", ids)``."""
    return isinstance(kind, tuple)


def path_penalty_kind(l1_ratio: float, positive, weights, grouped=False, penalty="l1", groups=None):
    """The penalty along a path: ``"l1"`` (``L1``, with ``weights``), ``"nonneg"``, ``"enet"`` or ``"l21"``;
    with ``groups``, ``("group", groups)`` (``GroupL1``, ``l1_ratio = 0``) or ``("sgl", groups)``
    (``SparseGroupL1``).

    Refuses the combinations that have none: ``positive`` with ``l1_ratio < 1`` (there is no
    non-negative elastic net), ``weights`` with ``positive`` (``NonNegativeL1`` has no factors), and
    ``grouped`` (``L21``) with ``l1_ratio < 1`` or ``positive``.
    """
    if not isinstance(grouped, (bool, np.bool_)):
        raise InvalidParameterError(f"grouped must be True or False, got {grouped!r}")
    if not (isinstance(penalty, str) and penalty in ("l1", "mcp", "scad")):
        raise ValueError(f"penalty must be 'l1', 'mcp' or 'scad', got {penalty!r}")
    if groups is not None:
        if penalty != "l1" or positive or grouped:
            raise ValueError("groups (the group lasso) need penalty='l1', positive=False and grouped=False")
        return ("group", groups) if l1_ratio == 0 else ("sgl", groups)
    if penalty != "l1":
        if l1_ratio != 1.0 or positive or grouped:
            raise ValueError(f"penalty={penalty!r} needs l1_ratio=1, positive=False and grouped=False")
        return penalty
    if grouped:
        if l1_ratio != 1.0 or positive:
            raise ValueError("grouped=True (the L21 penalty on the coefficient matrix's rows) needs l1_ratio=1 and "
                             "positive=False")
        return "l21"
    if positive:
        if l1_ratio != 1.0:
            raise ValueError("positive=True needs l1_ratio=1")
        kind = "nonneg"
    else:
        kind = "l1" if l1_ratio == 1.0 else "enet"
    if weights is not None and kind == "nonneg":
        raise ValueError("weights are not supported with positive=True")
    return kind


def check_form(loss, n: int, p: int, form, sparse: bool = False, gram=None) -> str:
    """``form`` resolved to ``"gram"`` or ``"data"`` (the choice and its check are the solver's own; ``gram``: see
    :func:`jaxl1.solvers.choose_form`)."""
    return choose_form(loss, n, p, form, sparse=sparse, gram=gram)


def check_ws_size(ws_size, loss, n: int, p: int, form: str) -> int:
    """The working-set size, at most ``p`` (the solver's default for ``None``)."""
    if ws_size is None:
        return default_ws_size(loss, n, p, form)
    return min(check_integer("ws_size", ws_size, minimum=0, or_none=True), p)


def init_coef(init, p, dtype):
    """Starting coefficients: zeros for ``None``; a result's ``coef`` (anything with one), a tuple's first
    element or an array of the coefficients' shape ``p`` (``(p,)``, or a shape tuple such as ``(p, K)``), finite."""
    shape = tuple(p) if isinstance(p, tuple) else (p,)
    if init is None:
        return np.zeros(shape, dtype)
    if hasattr(init, "coef"):
        init = init.coef
    elif isinstance(init, tuple):
        init = init[0]
    w0 = jnp.asarray(init, dtype)
    if w0.shape != shape:
        raise ValueError(f"init must have shape {shape}, got {w0.shape}")
    check_finite("init", w0)
    return w0


def check_tune_weights(tune_weights, l1_ratio: float) -> None:
    """Penalty factors are tuned for the lasso only."""
    if tune_weights and l1_ratio != 1.0:
        raise ValueError("tune_weights needs l1_ratio=1")


# --------------------------------------------------------------------------- #
# cross-validation
# --------------------------------------------------------------------------- #
def check_folds(folds, n_folds, n: int):
    """``(fold_ids, n_folds)``: ``folds`` renumbered ``0..k-1``, or ``n_folds`` contiguous blocks.

    Without ``folds`` the blocks are scikit-learn's ``KFold(n_folds)`` without shuffling (the first
    ``n % n_folds`` one sample larger).  Every fold must leave training samples.
    """
    if folds is None:
        n_folds = check_integer("n_folds", n_folds, minimum=2)
        if n_folds > n:
            raise ValueError(f"n_folds={n_folds} is larger than the number of samples {n}")
        sizes = np.full(n_folds, n // n_folds)
        sizes[: n % n_folds] += 1
        fold_ids, k = np.repeat(np.arange(n_folds), sizes), n_folds
    else:
        f = np.asarray(folds)
        if f.shape != (n,) or f.dtype.kind not in "iu":
            raise ValueError(f"folds must be an integer array of shape ({n},) with fold ids")
        ids, f = np.unique(f, return_inverse=True)
        if len(ids) < 2:
            raise ValueError("folds must hold at least two distinct fold ids")
        fold_ids, k = f.reshape(n), len(ids)
    if np.any(np.bincount(fold_ids, minlength=k) == n):
        raise ValueError("every fold must leave training samples")
    return fold_ids, k


def check_cv_folds(fold_ids, s, n_folds: int, y=None, loss_name: str = "squared") -> None:
    """Every fold needs training weight and held-out weight (and, for the logistic loss, two training classes).

    A fold whose training samples all have zero weight has no fit; one whose held-out samples all have zero
    weight has no score (averaging it in as 0 would bias the mean).  Both raise, naming ``sample_weight``.
    """
    if not concrete(s):
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


def check_interpolation_strengths(lambdas):
    """The strengths of ``PathResult.interpolate``: 0-D or 1-D, and (when concrete) positive and finite."""
    if isinstance(lambdas, jax.core.Tracer):
        lam = lambdas
    else:
        lam = np.asarray(lambdas)
        if lam.dtype == bool or not np.issubdtype(lam.dtype, np.number):
            raise ValueError(f"lambdas must be positive numbers, got {lambdas!r}")
        if lam.ndim <= 1 and not (np.all(np.isfinite(lam)) and np.all(lam > 0)):
            raise ValueError(f"lambdas must be positive and finite, got {lambdas!r}")
    if lam.ndim > 1:
        raise ValueError(f"lambdas must be a number or a 1-D array, got shape {lam.shape}")
    return lam  # (numpy's, for concrete strengths: the caller's program takes it)


def check_shard(shard) -> str:
    """What ``fit_path`` spreads over its devices: ``"lambdas"`` (the grid) or ``"rows"`` (the samples)."""
    if not isinstance(shard, str) or shard not in ("lambdas", "rows"):
        raise ValueError(f"shard must be 'lambdas' or 'rows', got {shard!r}")
    return shard


def _committed(a) -> bool:
    """A concrete JAX array committed to devices (placed by ``jax.device_put`` or computed from such arrays)."""
    return isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer) and getattr(a, "committed", False)


def committed_devices(*inputs) -> set:
    """The devices of the committed JAX arrays among ``inputs`` (pytrees: a BCOO's leaves too)."""
    return {d for a in jax.tree.leaves(inputs) if _committed(a) for d in a.devices()}


def check_devices(devices, *inputs) -> tuple:
    """The devices a computation is spread over, distinct.

    Default: the one device that every committed JAX array among ``inputs`` is on, as JAX runs a computation
    where its committed arguments are; else all of ``jax.devices()``.
    """
    if devices is None:
        committed = committed_devices(*inputs)
        return tuple(committed) if len(committed) == 1 else tuple(jax.devices())
    devices = tuple(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ValueError(f"devices must be a non-empty sequence of jax devices, got {devices!r}")
    if len(set(devices)) != len(devices):
        raise ValueError("devices must not repeat a device")
    return devices


def on_devices(devices, *inputs):
    """``inputs`` with each committed JAX array that is not on all of ``devices`` copied to every one of them
    (replicated), so that a program spread over ``devices`` may take it; the others unchanged.  Only where every
    device belongs to this process (across processes the caller places the data)."""
    if len(devices) < 2 or any(d.process_index != jax.process_index() for d in devices):
        return inputs if len(inputs) != 1 else inputs[0]
    every = set(devices)
    sharding = jax.sharding.NamedSharding(jax.sharding.Mesh(np.array(devices), ("all",)),
                                          jax.sharding.PartitionSpec())

    def place(a):
        return jax.device_put(a, sharding) if _committed(a) and set(a.devices()) != every else a

    out = tuple(jax.tree.map(place, x) for x in inputs)
    return out if len(out) != 1 else out[0]


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


def check_path_stops(dfmax, pmax, early_stop):
    """``fit_path``'s stopping rules: ``dfmax``, ``pmax`` (``None`` or a non-negative integer) and ``early_stop``
    (a bool or a pair ``(fdev, devmax)``, ``fdev >= 0`` and ``devmax`` in (0, 1])."""
    reject_bools(dfmax=dfmax, pmax=pmax)
    for name, value in (("dfmax", dfmax), ("pmax", pmax)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 0):
            raise ValueError(f"{name} must be None or a non-negative integer, got {value!r}")
    if isinstance(early_stop, (bool, np.bool_)):
        early_stop = bool(early_stop)
    else:
        try:
            fdev, devmax = (float(v) for v in early_stop)
        except (TypeError, ValueError):
            raise ValueError(f"early_stop must be True, False or a pair (fdev, devmax), got {early_stop!r}") from None
        if not (math.isfinite(fdev) and fdev >= 0):
            raise ValueError(f"early_stop: fdev must be a finite number >= 0, got {fdev!r}")
        if not 0 < devmax <= 1:
            raise ValueError(f"early_stop: devmax must be in (0, 1], got {devmax!r}")
        early_stop = (fdev, devmax)
    return (None if dfmax is None else int(dfmax)), (None if pmax is None else int(pmax)), early_stop

"""Sparse designs at the public boundary: ``scipy.sparse`` matrices and ``jax.experimental.sparse.BCOO``.

Every public function converts a sparse ``X`` once, here, into a 2-D BCOO of the float dtype a
dense ``X`` would get (float32 unless ``jax_enable_x64``), and never into a dense array: the solvers
centre and scale it inside their products (:mod:`jaxl1.solvers._sparse`).  A ``scipy.sparse`` matrix
(CSR, CSC or any other format) is summed over duplicate entries and its number of stored entries
padded with zeros at an out-of-range position (BCOO's own convention) to one of four sizes per
octave, so that data sets of nearby sizes share one compiled program.  Neither ``scipy.sparse`` nor ``jax.experimental.sparse`` is imported unless a
sparse input is seen.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

from ._jit import jit
from .solvers._sparse import is_bcoo, stored_entries

__all__ = ["is_sparse", "is_scipy_sparse", "as_bcoo", "host_csr", "stand_in", "stored_values", "matmul", "shard_rows"]


def is_scipy_sparse(X) -> bool:
    module = sys.modules.get("scipy.sparse")
    return module is not None and module.issparse(X)


def is_sparse(X) -> bool:
    """``X`` is a ``scipy.sparse`` matrix or array, or a BCOO."""
    return is_scipy_sparse(X) or is_bcoo(X)


def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind not in "fiub":
        raise ValueError(f"X must be numeric, got dtype {dtype}")
    if dtype not in (np.float32, np.float64):
        dtype = np.dtype(float)
    return jax.dtypes.canonicalize_dtype(dtype)


NSE_MIN = 1024  # the smallest padded number of stored entries


def padded_size(m: int) -> int:
    """``m`` rounded up to ``NSE_MIN`` or, above it, to one of four sizes per octave (at most 25% more)."""
    if m <= NSE_MIN:
        return NSE_MIN
    q = 1 << max(0, (m - 1).bit_length() - 3)
    return -(-m // q) * q


def require_finite(name: str, values) -> None:
    """A ``ValueError`` naming ``name`` when the numpy ``values`` hold a NaN or an infinity (the one message of
    every finiteness check)."""
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinity")


def _from_scipy(X, dtype):
    from jax.experimental import sparse as jsparse

    csr = X.tocsr(copy=True)  # row-major order; the copy is ours to canonicalize
    csr.sum_duplicates()
    require_finite("X", csr.data)
    n, p = csr.shape
    index = np.int32 if max(n, p) < 2**31 else np.int64
    rows = np.repeat(np.arange(n, dtype=index), np.diff(csr.indptr))
    nse = csr.nnz
    size = padded_size(nse)
    # the padding: zeros at the out-of-range position (n, p), as BCOO itself pads (its products drop them)
    indices = np.empty((size, 2), index)
    indices[:nse, 0], indices[:nse, 1] = rows, csr.indices
    indices[nse:] = (n, p)
    data = np.zeros(size, dtype)
    data[:nse] = csr.data
    return jsparse.BCOO((jnp.asarray(data), jnp.asarray(indices)), shape=(n, p), indices_sorted=True,
                        unique_indices=True)


def _traced(X) -> bool:
    return isinstance(X.data, jax.core.Tracer) or isinstance(X.indices, jax.core.Tracer)


def as_bcoo(X):
    """A sparse ``X`` as a checked 2-D BCOO of a float dtype, with no repeated position.

    A ``scipy.sparse`` matrix, or a concrete BCOO that may repeat a position (``unique_indices=False``,
    through scipy), is summed over duplicate entries, laid out in row-major order and padded as the
    module says.  A BCOO with ``unique_indices=True``, or one under a trace (``jit``, ``vmap``), is only
    laid out as a plain 2-D matrix and cast: under a trace it must not repeat a position (repeated
    positions change the column scales, which changes the iterations but not the solution).

    Raises ``ValueError`` naming ``X`` for a non-numeric dtype, a shape without a sample or a feature,
    or NaN or infinity among the stored values (checked on concrete values only).
    """
    dtype = _float_dtype(X.dtype)
    if len(X.shape) != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {tuple(X.shape)}")
    if min(X.shape) < 1:
        raise ValueError(f"X must have at least one sample and one feature, got shape {tuple(X.shape)}")
    if is_bcoo(X) and (X.n_batch or X.n_dense):
        X = X.update_layout(n_batch=0, n_dense=0)
    if is_bcoo(X) and (_traced(X) or X.unique_indices):
        if not _traced(X):
            require_finite("X", np.asarray(X.data))
        return X if X.dtype == dtype else X.astype(dtype)
    if is_bcoo(X):  # concrete, perhaps with repeated positions: canonicalized by scipy
        X = _bcoo_to_coo(X)
    return _from_scipy(X, dtype)


def _bcoo_to_coo(X):
    """A concrete 2-D BCOO as a ``scipy.sparse`` COO matrix of its stored entries (its padding dropped)."""
    import scipy.sparse

    rows, cols, data = stored_entries(X)
    return scipy.sparse.coo_matrix((data, (rows, cols)), shape=X.shape)


def stand_in(X):
    """An ``(n, 1)`` array of zeros of ``X``'s dtype: what the dense checks of ``y`` and the weights need of ``X``."""
    return np.zeros((X.shape[0], 1), X.dtype)


def stored_values(X):
    """The stored values of a sparse ``X`` (what magnitude checks look at); ``X`` itself otherwise."""
    if is_bcoo(X):
        return X.data
    if is_scipy_sparse(X):
        return X.tocoo().data
    return X


PREDICT_BATCH = 8  # columns of W per product of a sparse X (each gathers nse x PREDICT_BATCH values)


def _cast(X, dtype):
    return X if dtype is None else X.astype(dtype)


def _dense_affine(X, W, b, *, dtype, transpose):
    out = _cast(X, dtype) @ (W.T if transpose else W)
    return out if b is None else out + b


def _dense_scores(X, W, b, *, dtype):
    # (L, p, T) coefficients: every strength's (n, T) scores in one product, laid out (n, L, T)
    L, p, T = W.shape
    return (_cast(X, dtype) @ W.transpose(1, 0, 2).reshape(p, L * T)).reshape(-1, L, T) + b


# one compiled program each (eagerly, the cast, the product and the sum compiled one each on a first call)
_dense_affine_jit = jit(_dense_affine, static_argnames=("dtype", "transpose"))
_dense_scores_jit = jit(_dense_scores, static_argnames=("dtype",))


def affine(X, W, b, dtype=None, transpose=False):
    """``X @ W + b`` (``W.T`` with ``transpose``), ``X`` dense or sparse (as ``dtype`` when given); a dense ``X``
    in one compiled program."""
    if is_sparse(X):
        return matmul(X, W.T if transpose else W, dtype) + b
    return _dense_affine_jit(_dense(X), W, b, dtype=_static(dtype), transpose=transpose)


def scores(X, W, b, dtype=None):
    """``(n, L, T)`` linear predictors of ``L`` coefficient matrices ``W`` of shape ``(L, p, T)`` with intercepts
    ``b`` of shape ``(L, T)`` (a path of a 2-D ``y``); a dense ``X`` in one compiled program."""
    if is_sparse(X):
        L, p, T = W.shape
        return matmul(X, W.transpose(1, 0, 2).reshape(p, L * T), dtype).reshape(-1, L, T) + b
    return _dense_scores_jit(_dense(X), W, b, dtype=_static(dtype))


def _dense(X):
    return X if isinstance(X, jax.Array) else np.asarray(X)


def _static(dtype):
    return None if dtype is None else np.dtype(dtype)


def host_csr(X, dtype=None):
    """A concrete sparse ``X`` as a ``scipy.sparse`` CSR matrix of its float dtype (``dtype`` when given): a
    scipy matrix as it is (converted to CSR), a BCOO from its stored entries (its padding dropped); repeated
    positions are summed, as the boundary sums them."""
    dtype = _float_dtype(X.dtype if dtype is None else dtype)
    X = (_bcoo_to_coo(X) if is_bcoo(X) else X).tocsr()
    return X if X.dtype == dtype else X.astype(dtype)


def _on_host(X, W) -> bool:
    """``X @ W`` by scipy: a concrete sparse ``X`` (and ``W``) on a CPU, where XLA's products scatter every stored
    entry once per column of ``W`` (a 50000x1000 ``X`` with 479,181 stored entries times 100 columns: 0.13 s,
    against 0.02 s for scipy's)."""
    if jax.default_backend() != "cpu" or isinstance(W, jax.core.Tracer):
        return False
    return is_scipy_sparse(X) or (is_bcoo(X) and not _traced(X) and X.n_batch == 0 and X.n_dense == 0)


def matmul(X, W, dtype=None):
    """``X @ W`` for a dense or sparse ``X`` (converted as at the boundary), ``W`` of shape ``(p,)`` or ``(p, K)``.

    A concrete sparse ``X`` on a CPU is multiplied by scipy (:func:`_on_host`).  Otherwise, for a sparse ``X`` and
    many columns the product runs a few columns at a time, so the gathered values take ``PREDICT_BATCH`` times
    the stored entries, not ``K`` times.
    """
    if not is_sparse(X):
        return _dense_affine_jit(_dense(X), W, None, dtype=_static(dtype), transpose=False)
    if _on_host(X, W):
        Xh = host_csr(X, dtype)
        require_finite("X", Xh.data)
        if np.shape(W)[0] != Xh.shape[1]:
            raise ValueError(f"X has {Xh.shape[1]} features, the coefficients {np.shape(W)[0]}")
        return jax.device_put(np.asarray(Xh @ np.asarray(W, Xh.dtype)))
    X = as_bcoo(X)
    if dtype is not None and X.dtype != dtype:
        X = X.astype(dtype)
    W = jnp.asarray(W, X.dtype)
    if W.ndim == 1 or W.shape[1] <= PREDICT_BATCH:
        return X @ W
    return jax.lax.map(lambda w: X @ w, W.T, batch_size=PREDICT_BATCH).T


def shard_rows(devices, X, y, s, offset=None):
    """``X``, ``y``, the sample weights ``s`` and ``offset`` with their rows spread over ``devices``.

    The rows are padded with zero rows of zero weight to a multiple of the device count (a zero weight
    takes a sample out of every sum the solvers form) and placed in contiguous blocks, one per device
    (a ``NamedSharding`` over a one-axis mesh named ``"rows"``): each device holds only its rows, and
    the compiled solve reduces the products over the rows across devices (JAX's sharding propagation).
    """
    if is_sparse(X):
        raise ValueError("shard='rows' needs a dense X: the rows of a sparse X are not sharded (pass a dense "
                         "array, or shard='lambdas')")
    mesh = jax.sharding.Mesh(np.array(devices), ("rows",))
    rows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("rows"))
    pad = -X.shape[0] % len(devices)

    def put(a):
        if a is None:
            return None
        a = np.asarray(a)
        if pad:
            a = np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)])
        return jax.device_put(a, rows)

    return put(X), put(y), put(s), put(offset)

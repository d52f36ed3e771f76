r"""A sparse design held as its nonzeros, centred and column-scaled implicitly.

The solvers see a sparse ``X`` (an ``(n, p)`` :class:`jax.experimental.sparse.BCOO`) through
:class:`SparseDesign`, which stands where a dense problem holds the matrix :math:`A = X_c D^{-1}`
(:math:`X_c = X - \mathbf 1 \bar x^\top` the centred design, :math:`D` the column scales).  Neither
the centring nor the scaling touches the nonzeros; each product folds them in:

.. math:: A v = X (v / d) - (\bar x^\top (v / d))\,\mathbf 1, \qquad
          u^\top A = \bigl(u^\top X - (\textstyle\sum_i u_i)\,\bar x^\top\bigr) / d,

so a product costs one pass over the nonzeros plus :math:`O(n + p)`, and no ``(n, p)`` array is
ever formed.  A working set asks for its columns as a dense ``(n, |W|)`` block
(:meth:`SparseDesign.columns`) when the block is small, or as the products of :class:`Columns`
otherwise.

The nonzeros must not repeat a position with a nonzero value (the boundary sums duplicates);
explicit zeros change nothing, and neither do entries at out-of-range positions (BCOO's padding):
their products are dropped.
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["SparseDesign", "Columns", "is_bcoo", "stored_entries", "sparse_design", "restrict_columns", "append_ones",
           "weighted_sq_norms"]


def is_bcoo(X) -> bool:
    """``X`` is a :class:`jax.experimental.sparse.BCOO` (checked without importing the module)."""
    module = sys.modules.get("jax.experimental.sparse")
    return module is not None and isinstance(X, module.BCOO)


def stored_entries(X):
    """``(rows, cols, data)`` of a concrete 2-D BCOO's stored entries as numpy arrays, its padding (entries at
    out-of-range positions) dropped."""
    n, p = X.shape
    idx, data = np.asarray(X.indices), np.asarray(X.data)
    rows, cols = idx[:, 0], idx[:, 1]
    real = (rows < n) & (cols < p)
    return (rows, cols, data) if np.all(real) else (rows[real], cols[real], data[real])


def _sum_rows(values, rows, n):
    return jax.ops.segment_sum(values, rows, num_segments=n)


@jax.tree_util.register_pytree_node_class
class SparseDesign:
    """The centred, column-scaled view ``(X - 1 x_mean') / d`` of a sparse ``X``, by products only.

    ``rows``, ``cols`` and ``data`` are the nonzeros of ``X`` (any order); ``x_mean`` and ``d`` are
    ``(p,)`` (zeros and ones for no centring and no scaling).  ``A @ v`` and ``u @ A`` take 1-D
    operands (``vmap`` batches them), or a ``(p, K)`` ``v`` and a ``(K, n)`` ``u``, one column or row at a time.
    """

    ndim = 2

    def __init__(self, rows, cols, data, x_mean, d, shape):
        self.rows, self.cols, self.data = rows, cols, data
        self.x_mean, self.d = x_mean, d
        self.shape = tuple(shape)

    def tree_flatten(self):
        return (self.rows, self.cols, self.data, self.x_mean, self.d), self.shape

    @classmethod
    def tree_unflatten(cls, shape, children):
        return cls(*children, shape)

    @property
    def dtype(self):
        return self.data.dtype

    def __matmul__(self, v):
        if jnp.ndim(v) == 2:  # (p, K): one product per column
            return jax.vmap(self.__matmul__, in_axes=1, out_axes=1)(v)
        if jnp.ndim(v) != 1:
            return NotImplemented
        v = v / self.d
        return _sum_rows(self.data * v[self.cols], self.rows, self.shape[0]) - jnp.vdot(self.x_mean, v)

    def __rmatmul__(self, u):
        if jnp.ndim(u) == 2:  # (K, n): one product per row
            return jax.vmap(self.__rmatmul__)(u)
        if jnp.ndim(u) != 1:
            return NotImplemented
        Xu = _sum_rows(self.data * u[self.rows], self.cols, self.shape[1])
        return (Xu - jnp.sum(u) * self.x_mean) / self.d

    def sq_norms(self, h):
        r"""``h @ A**2``: the ``h``-weighted squared norms of the columns of ``A`` (``h >= 0``).

        :math:`\sum_i h_i (x_{ij} - \bar x_j)^2` is summed as the nonzeros' terms plus
        :math:`\bar x_j^2` times the weight of the rows where column ``j`` has no entry; every term is
        non-negative (an explicit zero adds :math:`h_i \bar x_j^2` to the first sum and takes it from
        the second), so nothing cancels.
        """
        m = self.x_mean[self.cols]
        hr = h[self.rows]
        on = _sum_rows(hr * jnp.square(self.data - m), self.cols, self.shape[1])
        seen = _sum_rows(hr, self.cols, self.shape[1])
        total = on + jnp.square(self.x_mean) * (jnp.sum(h) - seen)
        return jnp.maximum(total, 0.0) / jnp.square(self.d)

    def columns(self, W=None):
        """The dense ``(n, |W|)`` block of columns ``W`` of ``A`` (every column for ``None``); ``W`` distinct but
        for padding entries ``p`` (dropped by the scatter: their columns are constant, for the caller to mask).

        One pass over the nonzeros scatters those of the chosen columns into the block.
        """
        n, p = self.shape
        if W is None:
            W = jnp.arange(p)
        k = W.shape[0]
        slot = jnp.full(p, k, W.dtype).at[W].set(jnp.arange(k, dtype=W.dtype))[self.cols]  # k: not chosen
        block = jnp.zeros((n, k), self.dtype).at[self.rows, slot].add(self.data, mode="drop")
        return (block - self.x_mean[W]) / self.d[W]


@jax.tree_util.register_pytree_node_class
class Columns:
    """Columns ``W`` of a :class:`SparseDesign` (all of them for ``None``) by products, with an
    optional trailing column of ones (``intercept``: the prox-Newton model's intercept variable)."""

    ndim = 2

    def __init__(self, design, W=None, intercept=False):
        self.design, self.W, self.intercept = design, W, intercept

    def tree_flatten(self):
        return (self.design, self.W), self.intercept

    @classmethod
    def tree_unflatten(cls, intercept, children):
        return cls(*children, intercept)

    @property
    def shape(self):
        k = self.design.shape[1] if self.W is None else self.W.shape[0]
        return (self.design.shape[0], k + int(self.intercept))

    @property
    def dtype(self):
        return self.design.dtype

    def __matmul__(self, v):
        if jnp.ndim(v) != 1:
            return NotImplemented
        b = v[-1] if self.intercept else 0.0
        v = v[:-1] if self.intercept else v
        if self.W is not None:
            v = jnp.zeros(self.design.shape[1], v.dtype).at[self.W].set(v)
        return self.design @ v + b

    def __rmatmul__(self, u):
        if jnp.ndim(u) != 1:
            return NotImplemented
        g = u @ self.design
        g = g if self.W is None else g[self.W]
        return jnp.concatenate([g, jnp.sum(u)[None]]) if self.intercept else g

    def sq_norms(self, h):
        g = self.design.sq_norms(h)
        g = g if self.W is None else g[self.W]
        return jnp.concatenate([g, jnp.sum(h)[None]]) if self.intercept else g


def sparse_design(X, s, *, fit_intercept, scale):
    """The :class:`SparseDesign` of a BCOO ``X`` for normalized weights ``s``: ``(A, x_mean, d)``.

    ``x_mean = s @ X`` when ``fit_intercept``; ``d`` the weighted norms of the centred columns when
    ``scale`` (``1`` for a zero column), as :func:`jaxl1.solvers.column_scales` gives for a dense ``X``.
    """
    n, p = X.shape
    rows, cols, data = X.indices[:, 0], X.indices[:, 1], X.data
    dtype = data.dtype
    x_mean = _sum_rows(data * s[rows], cols, p) if fit_intercept else jnp.zeros(p, dtype)
    ones = jnp.ones(p, dtype)
    A = SparseDesign(rows, cols, data, x_mean, ones, (n, p))
    if scale:
        d = jnp.sqrt(A.sq_norms(s))
        d = jnp.where((d > 0) & jnp.isfinite(d), d, 1.0).astype(dtype)
        A = SparseDesign(rows, cols, data, x_mean, d, (n, p))
    return A, x_mean, A.d


def restrict_columns(A, W, *, dense):
    """Columns ``W`` of the design ``A`` (all for ``None``): a dense array (``A[:, W]`` for a dense ``A``,
    the gathered block for a sparse one when ``dense``) or, for a sparse ``A``, a :class:`Columns`."""
    if not isinstance(A, SparseDesign):
        return A if W is None else A[:, W]
    return A.columns(W) if dense else Columns(A, W)


def append_ones(A):
    """``[A, 1]``: the design with a trailing column of ones."""
    if isinstance(A, Columns):
        return Columns(A.design, A.W, True)
    return jnp.concatenate([A, jnp.ones((A.shape[0], 1), A.dtype)], axis=1)


def weighted_sq_norms(A, h):
    """``h @ A**2`` for a dense array or a sparse view."""
    if isinstance(A, (SparseDesign, Columns)):
        return A.sq_norms(h)
    return h @ jnp.square(A)

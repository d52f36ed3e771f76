r"""Implicit differentiation of a solution.

At a solution :math:`\hat w` of :math:`\min_{w,b} F(Xw + b) + P(w)` with an
L1-type penalty, the support :math:`S = \{j : \hat w_j \ne 0\}` and the signs are
locally constant, and on :math:`S` the penalty is smooth:
:math:`P_S(w) = \sum_{j \in S} \tau_j\,\mathrm{sign}(\hat w_j)\,w_j + \tfrac{\mu}{2} w_j^2`.
The optimality conditions

.. math:: R(\theta, \phi) = M \odot \nabla_\theta \Phi(\theta; \phi) = 0, \qquad
          \Phi = F(Xw + b) + P_S(w), \quad \theta = (w, b),

with :math:`M` the mask of the support (and the intercept), define
:math:`\theta(\phi)` for the inputs :math:`\phi = (X, y, s, \text{penalty})`; by the
implicit function theorem its tangent is

.. math:: \dot\theta = -A^{-1}\,\bigl(M \odot \partial_\phi \nabla_\theta \Phi\,\dot\phi\bigr),
          \qquad A = M H M + (I - M), \quad H = \nabla^2_\theta \Phi,

zero off the support.  The solver's iterations are never differentiated, so
memory does not grow with ``max_iter``; reverse mode (``jax.grad``) is the
transpose of this linear map.  For a folded concave penalty (``MCP``, ``SCAD``) the penalty on the support is the penalty itself
(smooth away from zero; its curvature is negative below the flat part), as it is for the group penalties
(``GroupL1``, ``SparseGroupL1``: smooth where no group is zero, the support a union of whole groups for the
group lasso), and the solution must be a strict
local minimum on its support for :math:`A` to be invertible.  The system is solved densely up to
``DENSE_MAX`` unknowns and by conjugate gradients with Hessian-vector products
beyond.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .losses import get_loss
from .solvers import conjugate_gradient
from .solvers._sparse import is_bcoo

__all__ = ["solution_tangent", "differentiable_solve", "zero_tangent", "DENSE_MAX"]

DENSE_MAX = 2048


def _smooth_parts(pen, p, dtype):
    """``(tau, mu)``: per-coordinate L1 thresholds and L2 curvatures of a separable penalty."""
    if not hasattr(pen, "coordinate_parts"):
        raise NotImplementedError(
            f"differentiating a solution needs a separable penalty (one with coordinate_parts, such as L1, "
            f"NonNegativeL1, ElasticNet and L2), not {type(pen).__name__}"
        )
    return pen.coordinate_parts(p, dtype)


def _value_on_support(pen) -> bool:
    """A penalty smooth on its support that is not a sum of per-coordinate parts: a folded concave one (MCP,
    SCAD), or a group penalty (``GroupL1``, ``SparseGroupL1``: smooth where no group is zero).  The reduced
    objective then holds the penalty's own value on the support."""
    return not getattr(pen, "convex", True) or getattr(pen, "smooth_on_support", False)


def _reduced_objective(theta, X, y, s, pen, mask, signs, loss, fit_intercept, offset):
    p = X.shape[1]
    w, b = theta[:p], theta[p]
    b = b if fit_intercept else jnp.zeros_like(b)
    if _value_on_support(pen):  # MCP, SCAD, the group penalties: the penalty itself on the support
        penalty = pen.value(jnp.where(mask, w, 0.0))
    else:
        tau, mu = _smooth_parts(pen, p, X.dtype)
        penalty = jnp.sum(jnp.where(mask, tau * signs * w + 0.5 * mu * w * w, 0.0))
    return loss.value(y, X @ w + b + offset, s) + penalty


def solution_tangent(w, b, X, y, s, pen, dX, dy, ds, dpen, *, loss, fit_intercept, offset=None):
    """Tangent ``(dw, db)`` of the solution ``(w, b)`` for input tangents ``(dX, dy, ds, dpen)``.

    Linear in the input tangents (so JAX transposes it for reverse mode).  ``offset`` (shaped like
    ``y``) is added to the linear predictor; it is not differentiated.
    """
    loss = get_loss(loss)
    offset = jnp.zeros_like(y) if offset is None else jax.lax.stop_gradient(offset)
    if jnp.ndim(w) == 2:
        return _matrix_tangent(w, b, X, y, s, pen, dX, dy, ds, dpen, loss=loss, fit_intercept=fit_intercept,
                               offset=offset)
    p = X.shape[1]
    dtype = X.dtype
    if not _value_on_support(pen):
        _smooth_parts(pen, p, dtype)  # refuses a penalty it cannot differentiate through, naming it
    mask = (w != 0) | (not pen.sparse)  # a smooth penalty: every coordinate moves
    box = pen.bounds_parts(p, dtype) if getattr(pen, "bounds_parts", None) is not None else None
    if box is not None:  # a coordinate at an active bound is fixed, like a zero one
        mask = mask & (w > box[0]) & (w < box[1])
    signs = jnp.sign(w)
    theta = jnp.concatenate([w, jnp.reshape(b, (1,))])
    M = jnp.concatenate([mask, jnp.array([fit_intercept])]).astype(dtype)

    def grad_phi(theta, X, y, s, pen):
        return jax.grad(_reduced_objective)(theta, X, y, s, pen, mask, signs, loss, fit_intercept, offset)

    _, rhs = jax.jvp(lambda X, y, s, pen: grad_phi(theta, X, y, s, pen), (X, y, s, pen), (dX, dy, ds, dpen))
    rhs = -M * rhs
    # a sparse X is solved by products only: the dense system's batched products would gather
    # (p + 1) values per stored entry
    dtheta = _masked_solve(lambda v: jax.jvp(lambda t: grad_phi(t, X, y, s, pen), (theta,), (v,))[1], M, rhs,
                           dense=not is_bcoo(X))
    return dtheta[:p], dtheta[p]


def _matrix_tangent(W, b, X, y, s, pen, dX, dy, ds, dpen, *, loss, fit_intercept, offset):
    """:func:`solution_tangent` for a ``(p, K)`` coefficient matrix (several responses, or multinomial).

    On the support (the nonzero entries, or the nonzero rows for a row-wise penalty) the penalty is
    smooth, so the reduced objective is the loss plus the penalty of the coefficients masked to the
    support.  Directions along which the loss does not change (the multinomial's common shift of every
    class) are met by the solve's small ridge: the tangent is the one orthogonal to them.
    """
    p, K = W.shape
    mask = W != 0
    if getattr(pen, "row_wise", False):  # L21, and ColumnScaled(L21) with standardize
        mask = jnp.broadcast_to(jnp.any(mask, axis=1, keepdims=True), W.shape)
    M = jnp.concatenate([mask.reshape(-1), jnp.full(K, fit_intercept)]).astype(X.dtype)
    theta = jnp.concatenate([W.reshape(-1), jnp.reshape(b, (K,))])

    def objective(theta, X, y, s, pen):
        Wt = theta[:p * K].reshape(p, K)
        bt = theta[p * K:] if fit_intercept else jnp.zeros(K, X.dtype)
        return loss.value(y, X @ Wt + bt + offset, s) + pen.value(jnp.where(mask, Wt, 0.0))

    def grad_phi(theta, X, y, s, pen):
        return jax.grad(objective)(theta, X, y, s, pen)

    _, rhs = jax.jvp(lambda X, y, s, pen: grad_phi(theta, X, y, s, pen), (X, y, s, pen), (dX, dy, ds, dpen))
    dtheta = _masked_solve(lambda v: jax.jvp(lambda t: grad_phi(t, X, y, s, pen), (theta,), (v,))[1], M, -M * rhs,
                           dense=not is_bcoo(X))
    return dtheta[:p * K].reshape(p, K), dtheta[p * K:]


def zero_tangent(result):
    """A zero tangent for a result pytree: zeros for its floating arrays, ``float0`` for integers and booleans."""
    def zero(a):
        if jnp.issubdtype(jnp.result_type(a), jnp.inexact):
            return jnp.zeros_like(a)
        return np.zeros(np.shape(a), dtype=jax.dtypes.float0)
    return jax.tree.map(zero, result)


def differentiable_solve(impl, tangent):
    """``impl(cfg, *inputs) -> result`` made differentiable by implicit differentiation.

    The solve itself is never differentiated: forward mode runs ``impl`` and then
    ``tangent(cfg, result, inputs, input_tangents)``, which returns the result's tangent (a pytree
    like ``result``; start from :func:`zero_tangent`); reverse mode is its transpose.  ``cfg``
    (static options) is not differentiated.  ``fit`` and ``fit_path`` are both built this way.
    """
    f = jax.custom_jvp(impl, nondiff_argnums=(0,))

    @f.defjvp
    def jvp(cfg, primals, tangents):
        result = impl(cfg, *primals)
        return result, tangent(cfg, result, primals, tangents)

    return f


def _masked_solve(hvp, M, rhs, dense=True):
    """Solve ``(M H M + I - M) x = rhs`` for a symmetric PSD ``H`` given by its products (densely
    up to ``DENSE_MAX`` unknowns when ``dense``, else by conjugate gradients)."""
    m = rhs.shape[0]
    op = lambda v: M * hvp(M * v) + (1 - M) * v
    if dense and m <= DENSE_MAX:
        A = jax.vmap(op)(jnp.eye(m, dtype=rhs.dtype)).T
        # the system is solved with unit diagonal (D^-1 A D^-1, D^2 = diag A), so that columns on other
        # scales are resolved alike; collinear active columns (a duplicated feature) make A singular, the
        # right-hand side is then orthogonal to its null space and a small ridge gives the minimum-norm tangent
        dg = jnp.abs(jnp.diag(A))
        dg = jnp.sqrt(jnp.where((dg > 0) & jnp.isfinite(dg), dg, 1.0))
        As = A / dg[:, None] / dg[None, :] + jnp.eye(m, dtype=rhs.dtype) * 1e-10
        return jax.scipy.linalg.solve(As, rhs / dg, assume_a="pos") / dg
    solve = lambda matvec, b: conjugate_gradient(matvec, b, jnp.zeros_like(b), 10 * m, jnp.finfo(b.dtype).eps ** 0.75)
    # custom_linear_solve makes the solve transposable (reverse mode) and differentiable
    return jax.lax.custom_linear_solve(op, rhs, solve, symmetric=True)

"""Certificates: the duality gap at a dual point built from the loss's gradient, or the optimality measure.

For a loss with a conjugate, the dual point rescales the gradient of the loss into the penalty's
dual-norm ball (as scikit-learn and celer do); for one without, :func:`optimality` is the
objective decrease one proximal-gradient step is guaranteed to make.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..losses import get_loss, has_conjugate, intercept_of, is_quadratic
from ..losses import rows_of
from ._problem import null_dual, rmul


def _sum(u):
    """The derivative in the intercept: ``u`` summed over the samples (``()`` or ``(K,)``)."""
    return jnp.sum(u, axis=0)


def _centred(u, s, gb):
    """``u - s gb``: the dual point meeting the intercept's constraint ``sum(u) = 0``."""
    return u - rows_of(s, u) * gb


def smooth_grad(prob, w, b, *, loss, form, fit_b):
    if form == "gram":
        return prob.A @ w - prob.c, jnp.zeros_like(b)
    u = loss.grad(prob.y, prob.A @ w + b + prob.o, prob.s)
    return rmul(u, prob.A), (_sum(u) if fit_b else jnp.zeros_like(b))


def smooth_value(prob, w, b, *, loss, form, fit_b):
    """The loss at ``(w, b)`` (the step searches of a loss without a curvature bound; the monotone steps
    of a non-convex penalty)."""
    if form == "gram":
        return 0.5 * jnp.vdot(w, prob.A @ w) - jnp.vdot(w, prob.c) + prob.yy
    return loss.value(prob.y, prob.A @ w + b + prob.o, prob.s)


def nonconvex(pen) -> bool:
    """A penalty that says it is not convex (``MCP``, ``SCAD``): no duality gap, no working sets."""
    return not getattr(pen, "convex", True)


def free_mask(pen, w, v):
    """Coordinates whose dual constraint no rescaling of ``v`` can meet: the unpenalized ones
    (``pen.free``: their constraint is ``v_j = 0``) and those the penalty names (``pen.dual_free``)."""
    return pen.free(w) | pen.dual_free(w, v)


def free_term(free, w, v, L):
    """Correction for the coordinates of :func:`free_mask`, left out of the dual rescaling.

    ``P - D`` splits into per-coordinate Fenchel-Young terms ``P_j(w_j) + P_j^*(-v_j) + v_j w_j``; for
    these coordinates ``P_j^*(-v_j)`` is infinite (or, for a free coordinate, finite only at ``v_j = 0``),
    so their term is replaced by ``v_j^2 / L``, the decrease a gradient step on that coordinate could
    still make.  The dual point is the gradient rescaled by ``1 / sigma``, whose term holds ``v_j w_j / sigma``:
    the caller passes ``w / sigma`` (with ``w`` the gap could read 0 far from the solution).
    """
    return jnp.sum(jnp.where(free, v * v / L - v * w, 0.0))


class GapInfo(NamedTuple):
    """The duality gap at ``(w, b)`` and by-products the working-set solver reuses."""

    gap: jax.Array
    b: jax.Array  # the intercept refined to its optimum for ``Xw`` (logistic)
    v: jax.Array  # (p,) gradient of the loss in w
    z: jax.Array  # (n,) linear predictor (data form; empty for the Gram form)
    gb: jax.Array  # derivative of the loss in the intercept at ``b`` (0 without an intercept variable)


def gap_info(prob, pen, w, b, *, loss, form, fit_b):
    """Duality gap at ``(w, b)``, as an :class:`GapInfo`."""
    z = jnp.zeros(0, w.dtype)
    if form == "gram":
        v = prob.A @ w - prob.c
        if nonconvex(pen):
            return GapInfo(mapping_measure(prob, pen, w, v, jnp.zeros_like(b)), b, v, z, jnp.zeros_like(b))
        return GapInfo(gram_gap(prob, pen, w, v), b, v, z, jnp.zeros_like(b))
    else:
        Xw = prob.A @ w + prob.o  # the predictor without the intercept
        if fit_b:  # a few steps towards the intercept's optimum, kept unless they raise the loss beyond rounding
            # (near the optimum the two losses differ by about gb^2, below rounding: refusing the steps there
            # would leave a residual gb that moves the centred dual point, and the gap, at first order)
            b_new = intercept_of(loss, prob.y, Xw, prob.s, b0=b, n_newton=3)
            f_old = loss.value(prob.y, Xw + b, prob.s)
            slack = 16 * jnp.finfo(f_old.dtype).eps * jnp.abs(f_old)
            lower = loss.value(prob.y, Xw + b_new, prob.s) <= f_old + slack
            b = jnp.where(lower, b_new, b)
        z = Xw + b
        u = loss.grad(prob.y, z, prob.s)
        gb = _sum(u) if fit_b else jnp.zeros_like(b)
        if nonconvex(pen) or not has_conjugate(loss):
            return GapInfo(optimality(prob, pen, w, u, fit_b), b, rmul(u, prob.A), z, gb)
        f = loss.value(prob.y, z, prob.s)
        if fit_b:  # the intercept's dual constraint: sum(u) = 0
            u = _centred(u, prob.s, gb)
        v = rmul(u, prob.A)
        if fit_b and hasattr(loss, "DUAL_RANGE"):  # and back inside the conjugate's domain
            u, v = _inside_domain(loss, prob, u, v)
        free = free_mask(pen, w, v)
        sigma = jnp.maximum(1.0, pen.dual_norm(jnp.where(free, 0.0, -v)))
        u = loss.project_dual(prob.y, u / sigma, prob.s)
        # the conjugate of u -> F(u + o) is F*(u) - <u, o>
        dual = -loss.conjugate(prob.y, u, prob.s) + jnp.vdot(u, prob.o) - pen.conjugate(-v / sigma)
    primal = f + pen.value(w)
    gap = primal - dual + free_term(free, w / sigma, v, prob.L)
    return GapInfo(jnp.maximum(gap, 0.0), b, v, z, jnp.zeros_like(b) if form == "gram" else gb)


def _inside_domain(loss, prob, u, v):
    """The centred dual point ``u`` (and ``v = A'u``) moved towards the null model's ``u0 = s (ybar - y)`` until it is
    inside the conjugate's domain.

    Centring (``u - s gb``, for the intercept's constraint) can take ``u`` out of the domain where a probability or
    a mean is about 0 (``a = loss._a(y, u, s)`` outside ``loss.DUAL_RANGE``); projecting it back would break the
    constraint and leave ``v`` behind, and the gap could read below the true one (0 at a wrong point: a multinomial
    elastic net).  ``u0`` meets the constraint and lies inside the domain (its ``a`` is the weighted mean of ``y``),
    so ``theta u + (1 - theta) u0`` meets both for the largest ``theta`` in [0, 1] that keeps ``a`` in range (1 unless
    ``u`` is out; ``A'u0`` is ``prob.c``, computed once by ``prepare``).
    """
    s, y = prob.s, prob.y
    lo, hi = loss.DUAL_RANGE
    u0 = null_dual(y, s)
    a, a0 = loss._a(y, u, s), loss._a(y, u0, s)
    tiny = jnp.finfo(a.dtype).tiny
    cut = jnp.where(a < lo, (a0 - lo) / jnp.maximum(a0 - a, tiny), 1.0)
    if hi is not None:
        cut = jnp.minimum(cut, jnp.where(a > hi, (hi - a0) / jnp.maximum(a - a0, tiny), 1.0))
    theta = jnp.clip(jnp.min(cut), 0.0, 1.0)
    return theta * u + (1 - theta) * u0, theta * v + (1 - theta) * prob.c  # (prob.c = A'u0, from prepare)


def gram_gap(prob, pen, w, v):
    """The duality gap of the Gram form at ``w``, whose gradient ``v = A w - c`` the caller has."""
    f = 0.5 * jnp.vdot(w, v - prob.c) + prob.yy  # 0.5 w'Aw - c'w + yy
    free = free_mask(pen, w, v)
    sigma = jnp.maximum(1.0, pen.dual_norm(jnp.where(free, 0.0, -v)))
    conj_loss = (jnp.vdot(w, prob.c) - 2 * prob.yy) / sigma + f / sigma**2
    dual = -conj_loss - pen.conjugate(-v / sigma)
    gap = f + pen.value(w) - dual + free_term(free, w / sigma, v, prob.L)
    return jnp.maximum(gap, 0.0)


def optimality(prob, pen, w, u, fit_b):
    """The certificate of a loss without a conjugate: ``||G||^2 / (2L)``, ``G`` the prox-gradient mapping.

    ``G = L (w - prox(w - v / L, 1 / L))`` with ``v`` the gradient in ``w`` (and the intercept's
    derivative ``sum(u)`` as one more coordinate): zero exactly at a solution, and ``||G||^2 / (2L)``
    is the objective decrease one proximal-gradient step is guaranteed to make, in objective units
    like a duality gap.
    """
    gb = _sum(u) if fit_b else jnp.zeros(w.shape[1:], w.dtype)
    return mapping_measure(prob, pen, w, rmul(u, prob.A), gb)


def mapping_measure(prob, pen, w, v, gb):
    """``||G||^2 / (2L)`` for the gradient ``v`` in ``w`` and ``gb`` in the intercept (see :func:`optimality`)."""
    r = w - pen.prox(w - v / prob.L, 1.0 / prob.L)
    return 0.5 * prob.L * jnp.vdot(r, r) + 0.5 * jnp.vdot(gb, gb) / prob.L


def certificate_of(loss, pen=None) -> str:
    """``"duality_gap"`` for a loss with a conjugate (or quadratic) and a convex penalty, else ``"optimality"``
    (a loss without a conjugate, or a non-convex penalty: MCP, SCAD)."""
    loss = get_loss(loss)
    if pen is not None and nonconvex(pen):
        return "optimality"
    return "duality_gap" if (is_quadratic(loss) or has_conjugate(loss)) else "optimality"

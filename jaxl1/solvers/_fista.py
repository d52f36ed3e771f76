"""The loop every solver runs (:func:`iterate`), and FISTA with O'Donoghue-Candes gradient restart.

:func:`iterate` is the one place that decides between the plain loop shape and the batched one (under
``vmap``); :func:`momentum` is the one accelerated step (used here and by the quadratic subproblem);
:func:`run_pass` runs at most ``check_every`` iterations of a step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..losses import bounded_curvature, get_loss
from ._gap import gap_info, nonconvex, smooth_grad, smooth_value


def iterate(certify, advance, carry, tol, max_iter, *, batched=False):
    """Certify the current point; stop when the certificate is at most ``tol`` or ``max_iter`` is spent; advance.

    ``certify(carry, n_iter) -> (carry, value, n_used)`` evaluates the stopping test at the point held in
    ``carry`` (it may also refine the point, and report iterations it used); ``advance(carry, budget) ->
    (carry, n_run)`` takes at most ``budget`` iterations (none for a budget of 0).  Returns
    ``(carry, value, n_iter, converged)``.

    Two loop shapes, chosen by ``batched`` (both give the same sequence of points):

    * plain: the body certifies, then advances under a ``cond`` that skips the advance when stopping, so
      the certificate is compiled once and a stopped solve does no work;
    * batched, for a caller under ``vmap`` (where a ``cond`` on a batched predicate becomes a select that
      runs both branches): certify once, then the body advances and then certifies; the loop runs until
      every lane is done, and lanes that are done advance with a budget of 0.
    """
    zero = jnp.zeros([], jnp.int32)
    if batched:
        carry, value, n = certify(carry, zero)

        def batched_body(c):
            carry, value, n = c
            carry, n_run = advance(carry, jnp.where(value <= tol, 0, max_iter - n))
            carry, value, used = certify(carry, n + n_run)
            return carry, value, n + n_run + used

        # ~(value <= tol), not value > tol: a NaN certificate runs on to max_iter, as in the plain shape
        carry, value, n = jax.lax.while_loop(lambda c: ~(c[1] <= tol) & (c[2] < max_iter), batched_body,
                                             (carry, value, n))
        return carry, value, n, value <= tol

    def body(c):
        carry, _, n, _, _ = c
        carry, value, used = certify(carry, n)
        n = n + used
        done = value <= tol
        stop = done | (n >= max_iter)
        budget = jnp.where(stop, 0, max_iter - n)
        carry, n_run = jax.lax.cond(stop, lambda c: (c, zero), lambda c: advance(c, budget), carry)
        return carry, value, n + n_run, done, stop

    false = jnp.zeros([], bool)
    inf = jnp.full([], jnp.inf, jnp.result_type(tol))
    carry, value, n, done, _ = jax.lax.while_loop(lambda c: ~c[4], body, (carry, inf, zero, false, false))
    return carry, value, n, done


def momentum(x, y, x_new, t):
    """The extrapolation of FISTA after ``x_new``, the proximal-gradient step from ``y``: ``(y_next, t_next)``.

    ``x``, ``y`` and ``x_new`` are pytrees of the same structure.  The momentum restarts (``t = 1``,
    ``y_next = x_new``) when the step goes uphill, ``<y - x_new, x_new - x> > 0`` (O'Donoghue and
    Candes' gradient restart), which keeps the iteration monotone enough to converge linearly.
    """
    dx = jax.tree.map(jnp.subtract, x_new, x)
    uphill = sum(jnp.vdot(a - b, d) for a, b, d in
                 zip(jax.tree.leaves(y), jax.tree.leaves(x_new), jax.tree.leaves(dx))) > 0
    dtype = t.dtype
    t_next = jnp.where(uphill, 1.0, 0.5 * (1 + jnp.sqrt(1 + 4 * t * t))).astype(dtype)
    beta = jnp.where(uphill, 0.0, (t - 1) / t_next).astype(dtype)
    return jax.tree.map(lambda a, d: a + beta * d, x_new, dx), t_next


def run_pass(step, carry, budget, check_every):
    """At most ``check_every`` iterations of the scan-style ``step``, and no more than ``budget``.

    Returns the carry and the number of iterations run (the trip count is traced: a lane with no
    budget runs none).
    """
    n = jnp.minimum(check_every, budget)
    return jax.lax.fori_loop(0, n, lambda _, c: step(c, None)[0], carry), n


BACKTRACK_MAX = 60  # the most doublings of L in one step search


def solve_fista(prob, pen, w0, b0, tol, max_iter, *, loss, form, fit_b, check_every, batched=False):
    """One problem from ``(w0, b0)``: returns ``(w, b, gap, n_iter, converged)``.

    Each pass evaluates the certificate (:func:`jaxl1.solvers._gap.gap_info`) and, unless it is small
    enough or ``max_iter`` is spent, takes ``check_every`` proximal-gradient steps of size ``1 / L``
    with momentum (:func:`iterate` runs the loop).  For a loss without a curvature bound (Poisson) ``L``
    starts at ``prob.L`` and doubles until the step meets the sufficient-decrease condition
    ``f(x) <= f(y) + <g, x - y> + L/2 ||x - y||^2`` (Beck and Teboulle's backtracking; ``L`` never
    decreases, so the rate of FISTA holds).

    For a non-convex penalty (``MCP``, ``SCAD``) the iteration is kept monotone: a step that raises the
    objective is undone and the momentum restarts from the last point, where a proximal-gradient step of
    size ``1 / L`` cannot raise it (the prox is exact), so the objective decreases to a stationary value.
    """
    loss = get_loss(loss)
    kw = dict(loss=loss, form=form, fit_b=fit_b)
    dtype = w0.dtype
    backtrack = not bounded_curvature(loss)
    monotone = nonconvex(pen)  # F, the objective at w, is carried (and kept from rising) for these only

    def prox_step(yw, yb, gw, gb, L, b):
        step = (1.0 / L).astype(dtype)
        return pen.prox(yw - step * gw, step), (yb - step * gb if fit_b else b)

    def fista_step(carry, _):
        w, b, yw, yb, t, L, F = carry
        gw, gb = smooth_grad(prob, yw, yb, **kw)
        w_new, b_new = prox_step(yw, yb, gw, gb, L, b)
        if backtrack:
            f_y = smooth_value(prob, yw, yb, **kw)

            def too_long(c):
                L, w_new, b_new, k = c
                dw, db = w_new - yw, b_new - yb
                model = f_y + jnp.vdot(gw, dw) + jnp.vdot(gb, db) + 0.5 * L * (jnp.vdot(dw, dw) + jnp.vdot(db, db))
                # ~(<=): a non-finite loss at the trial point (exp overflowing) shortens the step too; near
                # the solution the test is within rounding of f(y), which must not shorten the step
                slack = 16 * jnp.finfo(dtype).eps * jnp.abs(f_y)
                return ~(smooth_value(prob, w_new, b_new, **kw) <= model + slack) & (k < BACKTRACK_MAX)

            def shorten(c):
                L, _, _, k = c
                return (2 * L, *prox_step(yw, yb, gw, gb, 2 * L, b), k + 1)

            L, w_new, b_new, _ = jax.lax.while_loop(too_long, shorten, (L, w_new, b_new, jnp.zeros([], jnp.int32)))
        (y_w, y_b), t_new = momentum((w, b), (yw, yb), (w_new, b_new), t)
        if not monotone:
            return (w_new, b_new, y_w, y_b, t_new, L, F), None
        # a non-convex penalty: a step that raises the objective is undone and the momentum restarts from w;
        # a step from w itself (t = 1) that raises it had too long a step, so L doubles
        F_new = objective(w_new, b_new)
        # within rounding of F, counted on P0's scale (the Gram form's F is P0 minus terms of that size)
        down = F_new <= F + 16 * jnp.finfo(dtype).eps * (jnp.abs(F) + prob.P0)
        keep = lambda new, old: jax.tree.map(lambda a, c: jnp.where(down, a, c), new, old)
        w_next, b_next, F_next = keep((w_new, b_new, F_new), (w, b, F))
        y_w, y_b = keep((y_w, y_b), (w, b))
        L = jnp.where(down | (t > 1), L, 2 * L)
        return (w_next, b_next, y_w, y_b, jnp.where(down, t_new, jnp.ones_like(t)), L, F_next), None

    def objective(w, b):
        return smooth_value(prob, w, b, **kw) + pen.value(w)

    def certify(carry, n):
        w, b, yw, yb, t, L, F = carry
        info = gap_info(prob, pen, w, b, **kw)
        yb = info.b if fit_b else yb  # keep the refined intercept
        F = objective(w, info.b) if monotone else F
        return (w, info.b, yw, yb, t, L, F), info.gap, jnp.zeros([], jnp.int32)

    def advance(carry, budget):
        return run_pass(fista_step, carry, budget, check_every)

    carry0 = (w0, b0, w0, b0, jnp.ones([], dtype), prob.L.astype(dtype), jnp.zeros([], dtype))
    (w, b, *_), gap, n_iter, done = iterate(certify, advance, carry0, tol * prob.P0, max_iter, batched=batched)
    return w, b, gap, n_iter, done

"""FISTA with O'Donoghue-Candes gradient restart, and the check-then-pass loop every solver runs.

:func:`momentum` is the one accelerated step (used here and by the quadratic subproblem);
:func:`run_pass` runs ``check_every`` iterations of a step, never past ``max_iter``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..losses import get_loss
from ._gap import gap_info, smooth_grad


class FistaState(NamedTuple):
    w: jax.Array
    b: jax.Array
    yw: jax.Array
    yb: jax.Array
    t: jax.Array
    n_iter: jax.Array
    gap: jax.Array
    done: jax.Array
    stop: jax.Array


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


def run_pass(step, carry, n_iter, max_iter, check_every, stop=False):
    """A pass of the scan-style ``step``: ``check_every`` iterations, none if ``stop``, never past ``max_iter``.

    Returns the carry and the number of iterations run (the trip count is traced: a stopped lane runs none).
    """
    n = jnp.where(stop, 0, jnp.minimum(check_every, max_iter - n_iter))
    return jax.lax.fori_loop(0, n, lambda _, c: step(c, None)[0], carry), n


def solve_fista(prob, pen, w0, b0, tol, max_iter, *, loss, form, fit_b, check_every):
    """One problem from ``(w0, b0)``: returns ``(w, b, gap, n_iter, converged)``.

    Each pass of the loop evaluates the duality gap and, unless it is small enough
    or ``max_iter`` is spent, takes ``check_every`` iterations; the gap is written
    once, so it is compiled once.  Vmapped over penalties (a path) the loop runs
    until every lane is done; done lanes are frozen by the batching rule of
    ``while_loop``.
    """
    loss = get_loss(loss)
    kw = dict(loss=loss, form=form, fit_b=fit_b)
    dtype = w0.dtype
    step = (1.0 / prob.L).astype(dtype)
    tol_abs = tol * prob.P0

    def fista_step(carry, _):
        w, b, yw, yb, t = carry
        gw, gb = smooth_grad(prob, yw, yb, **kw)
        w_new = pen.prox(yw - step * gw, step)
        b_new = yb - step * gb if fit_b else b
        (yw, yb), t = momentum((w, b), (yw, yb), (w_new, b_new), t)
        return (w_new, b_new, yw, yb, t), None

    def body(st):
        info = gap_info(prob, pen, st.w, st.b, **kw)
        b = info.b
        yb = st.yb if not fit_b else b  # keep the refined intercept
        done = info.gap <= tol_abs
        stop = done | (st.n_iter >= max_iter)
        (w, b, yw, yb, t), n_run = run_pass(fista_step, (st.w, b, st.yw, yb, st.t), st.n_iter, max_iter,
                                            check_every, stop)
        return FistaState(w, b, yw, yb, t, st.n_iter + n_run, info.gap, done, stop)

    one = jnp.ones([], dtype)
    false = jnp.zeros([], bool)
    st = FistaState(w0, b0, w0, b0, one, jnp.zeros([], jnp.int32), jnp.full([], jnp.inf, dtype), false, false)
    st = jax.lax.while_loop(lambda st: ~st.stop, body, st)
    return st.w, st.b, st.gap, st.n_iter, st.done

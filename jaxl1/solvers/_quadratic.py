"""The quadratic subproblem ``0.5 x'Hx - q'x + P(x)`` of a working-set round.

FISTA with restart until the proximal-gradient mapping is small, with an exact solve on the
support (Cholesky) when it has at most ``POLISH_MAX`` coordinates of a dense subproblem, and
conjugate-gradient steps on a larger support whose signs have settled.  Given ``low`` (a float32 copy
of ``H`` and the gradient at the start), the products act on the increment from the start in float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._fista import iterate, momentum, run_pass
from ._gap import nonconvex
from ._problem import L_SAFETY, power_iteration, start_vector


def top_indices(score, k):
    """Indices of the ``k`` largest entries of ``score``, ranked in float32.

    XLA:CPU has a fast top-k for float32 only; for float64 or integers it sorts
    the whole vector (1.6 ms against 0.05 ms for 5000 entries).  The ranking
    only chooses coordinates, so float32's resolution is enough.
    """
    score = score.astype(jnp.promote_types(score.dtype, jnp.float32))
    finite = jnp.isfinite(score)
    scale = jnp.max(jnp.where(finite, jnp.abs(score), 0.0))
    score = jnp.where(finite, score / jnp.where(scale > 0, scale, 1.0), score)  # no underflow or overflow in float32
    return jax.lax.top_k(score.astype(jnp.float32), k)[1]


def prox_part(pen, x, step, fit_b):
    """The prox on the penalized block of ``x``; the trailing intercept (``fit_b``) is free."""
    if not fit_b:
        return pen.prox(x, step)
    return jnp.concatenate([pen.prox(x[:-1], step), x[-1:]])


def prox_value(pen, x, fit_b):
    """The penalty of the penalized block of ``x`` (the trailing intercept, with ``fit_b``, is free)."""
    return pen.value(x[:-1] if fit_b else x)


def kkt_residual(pen, x, v, L, fit_b):
    """Largest entry of the prox-gradient mapping ``L (x - prox(x - v / L, 1 / L))`` (0 at a solution)."""
    return jnp.max(jnp.abs(L * (x - prox_part(pen, x - v / L, 1.0 / L, fit_b))))


CG_ITERS = 20  # the most conjugate-gradient steps of one solve on a larger support whose signs have settled


CG_TARGET = 0.03  # they stop at a residual (the optimality conditions' on the support) of this times kkt_tol


CALM_STEPS = 3  # the signs have settled when this many steps in a row changed none of them


STALL_CHECKS = 5  # below float64, a round ends after this many checks in a row without its residual falling
STALL_DROP = 0.5  # to this fraction of the best one so far (see quad_solve),
STALL_STEPS = 50  # and at least this many steps (a small check_every takes more checks)


POLISH_MAX = 96  # subproblems up to this size also try an exact solve on the support


def support_system(H, q, x, tau, mu_vec, on, box=None):
    """The minimizer of the quadratic model on the coordinates ``on`` with the signs of ``x``, or ``x``.

    With a ``box`` (``(lo, hi)``) the other coordinates are held at their values in ``x`` (zero, or an
    active bound), and the minimizer must stay inside the box.
    """
    m = x.shape[0]
    M = on.astype(x.dtype)
    sign = jnp.sign(x)
    if box is not None:
        off = (1 - M) * x
        q = q - H @ off
    A = M[:, None] * (H + jnp.diag(mu_vec)) * M[None, :] + jnp.diag(1 - M)
    A = A + jnp.eye(m, dtype=x.dtype) * (jnp.finfo(x.dtype).eps * jnp.max(jnp.abs(jnp.diag(A))))
    # A is symmetric positive definite (a PSD block, the identity elsewhere, a ridge): Cholesky, which also
    # compiles to far less code than a pivoted LU; a failed factorization gives NaN and ``x`` is kept
    C = jax.lax.linalg.cholesky(A, symmetrize_input=False)  # (the lower triangle; 29 -> 22 us at 96)
    rhs = (M * (q - tau * sign))[:, None]
    u = jax.lax.linalg.triangular_solve(C, rhs, left_side=True, lower=True)
    xs = jax.lax.linalg.triangular_solve(C, u, left_side=True, lower=True, transpose_a=True)[:, 0]
    if box is None:
        return jnp.where(signs_kept(xs, sign, on, tau), xs * M, x)
    return jnp.where(signs_kept(xs, sign, on, tau) & inside(xs, on, box), xs * M + off, x)


def inside(z, on, box):
    """``z`` lies in the box on the coordinates ``on``."""
    lo, hi = box
    return jnp.all(jnp.where(on, (z >= lo) & (z <= hi), True))


def box_of(pen, x, fit_b):
    """The penalty's box as ``(lo, hi)`` vectors for ``x`` (a trailing intercept is free), or ``None``."""
    parts = getattr(pen, "bounds_parts", None)
    box = None if parts is None else parts(x.shape[0] - 1 if fit_b else x.shape[0], x.dtype)
    if box is None or not fit_b:
        return box
    return tuple(jnp.append(b, v) for b, v in zip(box, (-jnp.inf, jnp.inf)))


def has_local_parts(pen) -> bool:
    """``pen`` (or the penalty a :class:`jaxl1.ColumnScaled` scales) gives ``local_parts`` (MCP, SCAD)."""
    return hasattr(getattr(pen, "penalty", pen), "local_parts")


def signs_kept(z, sign, on, tau):
    """``z`` is finite and keeps ``sign`` on the penalized coordinates of the support ``on``."""
    return jnp.all(jnp.where(on, (jnp.sign(z) == sign) | (tau == 0), True)) & jnp.all(jnp.isfinite(z))


def support_parts(pen, x, fit_b, local=False):
    """Per-coordinate L1 thresholds, L2 curvatures and the support of ``x`` (a trailing intercept is free and in).

    ``local``: a folded concave penalty's (``pen.local_parts``) on the pieces that hold ``x``'s coordinates.
    """
    k = x.shape[0] - 1 if fit_b else x.shape[0]
    tau, mu_vec = pen.local_parts(x[:k])[:2] if local else pen.coordinate_parts(k, x.dtype)
    on = x != 0
    if fit_b:
        tau, on, mu_vec = jnp.append(tau, 0.0), on.at[-1].set(True), jnp.append(mu_vec, 0.0)
    box = box_of(pen, x, fit_b)
    if box is not None:  # a coordinate at an active bound is held there, like a zero one
        on = on & (x > box[0]) & (x < box[1])
    return tau, mu_vec, on


SOLVE_SIZES = (16, 32, 64)  # a support this small is solved in a system of (the smallest such) size


def solve_sizes(m, sizes=True):
    """The sizes of system an exact solve on the support of an ``m``-coordinate subproblem may take: those of
    ``SOLVE_SIZES`` below ``min(m, POLISH_MAX)``, then that (only that one for ``sizes=False``).

    A Cholesky factorization costs about the cube of its size (XLA:CPU, float64: 1.0 us at 16, 3.2 us at 32,
    11.7 us at 64, 26.5 us at 96), and the solve of a 50-coordinate subproblem was half of a 200x50 path's
    time with a support of 5-30 coordinates solved in a system of 50.
    """
    top = min(m, POLISH_MAX)
    return ([s for s in SOLVE_SIZES if s < top] if sizes else []) + [top]


def support_solve(H, q, x, pen, fit_b, local=False, sizes=None):
    """Solve ``0.5 x'Hx - q'x + P(x)`` on the support and signs of ``x``, where it is a linear system.

    Returns ``x`` unchanged if the solution changes a sign (the support was not yet the right one), or if the
    support has more than ``POLISH_MAX`` coordinates.
    ``local``: ``P`` a folded concave penalty, taken on the pieces that hold ``x``'s coordinates (see
    :func:`support_parts`; the caller checks that the solution stays on them).
    ``sizes``: the sizes of system to choose from (:func:`solve_sizes`, under a ``switch``; by default the
    one of ``min(m, POLISH_MAX)``): the support is gathered into the smallest that holds it, so that the cost
    follows the support, not the problem (a system of the subproblem's own size ``m`` masks the other
    coordinates instead of gathering).
    """
    m = x.shape[0]
    tau, mu_vec, on = support_parts(pen, x, fit_b, local)
    box = box_of(pen, x, fit_b)
    sizes = solve_sizes(m, False) if sizes is None else list(sizes)
    count = jnp.sum(on)

    def whole():
        return support_system(H, q, x, tau, mu_vec, on, box)

    def gathered(k):
        # the coordinates held at a bound enter a gathered system through q
        q_held = q if box is None else q - H @ jnp.where(on, 0.0, x)
        # top_k of a 0/1 indicator: every support index when there are at most k of them
        S = top_indices(on, k)
        parts = jnp.stack([q_held, x, tau, mu_vec, on.astype(x.dtype)], axis=1)
        q_S, x_S, tau_S, mu_S, on_S = parts[S].T  # one gather
        H_S = H[S[:, None], S[None, :]]
        if box is None:
            x_S = support_system(H_S, q_S, x_S, tau_S, mu_S, on_S != 0)
        else:
            held = jnp.where(on_S != 0, x_S, 0.0)
            new = support_system(H_S, q_S, held, tau_S, mu_S, on_S != 0, (box[0][S], box[1][S]))
            x_S = jnp.where(on_S != 0, new, x_S)
        return x.at[S].set(x_S)

    branches = [whole if k == m else (lambda k=k: gathered(k)) for k in sizes]
    if len(branches) == 1:
        out = branches[0]()
    else:
        out = jax.lax.switch(jnp.sum(count > jnp.asarray(sizes[:-1])), branches)
    return out if sizes[-1] == m else jnp.where(count <= sizes[-1], out, x)


def quad_solve(H, q, x0, pen, kkt_tol, max_iter, *, fit_b, check_every, L=None, batched=False, low=None,
               local=False, many=False):
    """FISTA with restart on ``0.5 x'Hx - q'x + P(x)`` until the prox-gradient mapping is below ``kkt_tol``.

    ``low``: ``(H_low, g0, on)``, ``H`` in float32, the gradient ``H x0 - q`` at ``x0`` (float64) and whether
    to take ``H_low`` (else ``H``, under a ``cond``) for the FISTA and conjugate-gradient products, which then
    act on ``x - x0`` (see :func:`jaxl1.solvers._problem.low_gram`); the KKT tests and the exact solve on the
    support stay in float64.

    ``local``: for MCP and SCAD, the exact solve on the support too (on the penalty's pieces that hold the
    coordinates; see ``polish_point``).

    ``batched``: the caller runs this under ``vmap``, where every branch of a ``cond`` or ``switch`` runs
    on every pass: the loop then iterates before it tests (no ``cond``), and the solves on the support
    are limited to the exact one of a subproblem of at most ``POLISH_MAX`` coordinates.

    ``many``: this solve is one of many run one after the other (see :func:`jaxl1.solver._mapped_on_cpu`), so
    more compiled code for a faster run pays: the exact solve on the support takes a system of the size of
    the support (:func:`solve_sizes`), not of the subproblem (each size costs about 0.1-0.2 s of compile).
    """
    dtype = x0.dtype
    hvp = H if callable(H) else (lambda v: H @ v)
    if low is None:
        exact_grad = grad = lambda v: hvp(v) - q
    else:  # ``(H_low, g0, on)``: H in float32, the gradient at x0, and whether to use H_low (else H): the
        H_low, g0, on = low  # products act on the increment from x0, whose gradient is known in float64
        lo = H_low.dtype
        product = lambda v: jax.lax.cond(on, lambda v: (H_low @ v.astype(lo)).astype(dtype), lambda v: H @ v, v)
        grad = lambda v: g0 + product(v - x0)
        exact_grad = lambda v: g0 + hvp(v - x0)  # float64 (the KKT tests)
    if L is None:
        L = power_iteration(hvp, start_vector(x0.shape[0], dtype), n_iter=30) * L_SAFETY
    L = jnp.maximum(L, jnp.finfo(dtype).tiny)
    step = 1.0 / L

    monotone = nonconvex(pen)  # MCP, SCAD: no step that raises the objective, no conjugate gradients

    def objective(x):
        Hx = hvp(x)
        return 0.5 * jnp.vdot(x, Hx) - jnp.vdot(q, x) + prox_value(pen, x, fit_b), jnp.abs(jnp.vdot(q, x))

    def fista_step(carry, _):
        x, y, t, F, calm = carry
        x_new = prox_part(pen, y - step * grad(y), step, fit_b)
        y_new, t_new = momentum(x, y, x_new, t)
        # steps in a row that kept every sign (the solve on the support waits for them)
        calm = jnp.where(jnp.all(jnp.sign(x_new) == jnp.sign(x)), calm + 1, 0)
        if not monotone:
            return (x_new, y_new, t_new, F, calm), None
        F_new, scale = objective(x_new)
        down = F_new <= F + 16 * jnp.finfo(dtype).eps * (jnp.abs(F) + scale)
        # a step that raised the objective is undone, and the momentum restarts from x
        return (jnp.where(down, x_new, x), jnp.where(down, y_new, x), jnp.where(down, t_new, jnp.ones_like(t)),
                jnp.where(down, F_new, F), calm), None

    # the solves on the support need the penalty's per-coordinate parts (not the group penalties); for MCP
    # and SCAD those of the pieces the coordinates are on (``local_parts``), with only the exact solve
    separable = hasattr(pen, "coordinate_parts")
    local = local and monotone and has_local_parts(pen)
    polish = not callable(H) and not (batched and x0.shape[0] > POLISH_MAX) and (separable and not monotone or local)
    # a dense subproblem of at most POLISH_MAX coordinates always takes the exact solve instead
    use_cg = not batched and not (polish and x0.shape[0] <= POLISH_MAX) and not monotone and separable

    def keep_better(c, xn):
        """``xn`` in place of ``x`` (momentum restarted) if its KKT residual is smaller."""
        x, y, t, kkt = c
        kkt_n = kkt_at(xn)
        better = kkt_n < kkt
        x, y = jnp.where(better, xn, x), jnp.where(better, xn, y)
        return x, y, jnp.where(better, 1.0, t).astype(dtype), jnp.minimum(kkt, kkt_n)

    def polish_point(x):
        xn = support_solve(H, q, x, pen, fit_b, local, sizes=solve_sizes(x.shape[0], many and not batched))
        if not local:
            return xn
        # the solution of the pieces' system is the stationary point there if every coordinate stays on its
        # piece (and keeps its sign: support_solve checks); the system is positive definite (else Cholesky
        # gave NaN and xn is x), so on the coordinates' pieces and signs, which hold x too, the objective is
        # a convex quadratic that xn minimizes: no higher at xn than at x (the monotone iteration holds)
        k = x.shape[0] - 1 if fit_b else x.shape[0]
        same = jnp.all(pen.local_parts(xn[:k])[2] == pen.local_parts(x[:k])[2])
        return jnp.where(same, xn, x)

    def cg_point(x):
        """Conjugate gradients on the support and signs of ``x`` (the same system as the exact solve), until
        the residual (the optimality conditions' on the support) is ``CG_TARGET * kkt_tol``, or ``CG_ITERS``
        steps; returns the point and the steps taken (the overshoot below ``kkt_tol`` is what lets the outer
        duality gap pass at small strengths, where the gap weighs a violation by 1 / lambda)."""
        tau, mu_vec, on = support_parts(pen, x, fit_b)
        M = on.astype(dtype)
        sign = jnp.sign(x)
        op = lambda v: M * (hvp(M * v) + mu_vec * v) + (1 - M) * v
        box = box_of(pen, x, fit_b)
        off = 0.0 if box is None else (1 - M) * x  # zeros and coordinates at an active bound are held
        if low is None or box is not None:
            rhs = M * (q - tau * sign) if box is None else M * (q - tau * sign - hvp(off))
            z, steps = cg_steps(op, rhs, M * x, CG_ITERS, CG_TARGET * kkt_tol)
        else:  # on the increment: float32 products, the residual at x in float64
            op_low = lambda v: M * (product(M * v) + mu_vec * v) + (1 - M) * v
            r0 = -M * (grad(x) + tau * sign + mu_vec * x)
            dz, steps = cg_steps(op_low, r0, jnp.zeros_like(x), CG_ITERS, CG_TARGET * kkt_tol)
            z = M * x + dz
        z = z * M + off
        ok = signs_kept(z, sign, on, tau) if box is None else signs_kept(z, sign, on, tau) & inside(z, on, box)
        return jnp.where(ok, z, x), steps

    def kkt_at(x):  # (in float64: a round ends on the problem's own optimality, not its float32 rounding)
        return kkt_residual(pen, x, exact_grad(x), L, fit_b)

    def certify(c, it):
        """The KKT residual at ``x``, after a solve on its support if that gives a smaller one.

        The solve on the support is exact (Cholesky) for a support of at most ``POLISH_MAX`` coordinates
        of a dense subproblem, else at most ``CG_ITERS`` conjugate-gradient steps once the last
        ``CALM_STEPS`` steps changed no sign (a support still changing would make them wasted work).
        Batched, only the exact solve is tried (both branches of a ``cond`` would run).  For MCP and SCAD
        only the exact one, on the pieces of the penalty that hold the coordinates (see ``polish_point``).
        Returns ``((x, y, t, kkt) after, calm, steps used, (x, y, t, kkt) before the solve)``.
        """
        x, y, t, calm = c
        kkt = kkt_at(x)
        zero = jnp.zeros([], jnp.int32)
        if batched:
            if polish:
                c = (x, y, t, kkt)
                return keep_better(c, polish_point(x)), calm, zero, c
            return (x, y, t, kkt), calm, zero, (x, y, t, kkt)
        small = (jnp.sum(x != 0) <= POLISH_MAX) if polish else jnp.zeros([], bool)
        settled = ((calm >= CALM_STEPS) & (it + CG_ITERS <= max_iter)) if use_cg else jnp.zeros([], bool)
        branch = jnp.where(small, 1, jnp.where(settled, 2, 0))
        # branches 1 and 2 share one keep-the-better step; only the chosen branch runs
        solves = ([lambda x: (polish_point(x), zero)] if polish else []) + ([cg_point] if use_cg else [])
        before = (x, y, t, kkt)
        if not solves:
            return before, calm, zero, before

        def improve(c):
            xn, steps = solves[0](c[0]) if len(solves) == 1 else jax.lax.switch(branch - 1, solves, c[0])
            return keep_better(c, xn), steps

        after, used = jax.lax.cond(branch > 0, improve, lambda c: (c, zero), before)
        return after, calm, used, before

    def advance(c, budget):  # (the stall test's state passes by the steps)
        inner, n = run_pass(fista_step, c[:5], budget, check_every)
        return inner + c[5:], n

    def certify_carrying(c, it):
        x, y, t, F, calm, best, stalled = c
        (xn, yn, tn, kkt), calm, used, before = certify((x, y, t, calm), it)
        if local:  # the objective at a point the solve on the support gave: in exact arithmetic no higher
            # (see polish_point); the ridge and the rounding of a nearly singular solve are checked for
            def moved():
                F_n, scale = objective(xn)
                up = F_n > F + 16 * jnp.finfo(dtype).eps * (jnp.abs(F) + scale)
                return jax.tree.map(lambda a, b: jnp.where(up, a, b), (before, F), ((xn, yn, tn, kkt), F_n))

            (xn, yn, tn, kkt), F = jax.lax.cond(jnp.all(xn == x), lambda: ((xn, yn, tn, kkt), F), moved)
        # below float64 a residual can stall at the products' rounding, above a tolerance set from the outer
        # residual: the round then ends after stall_checks checks without a drop to STALL_DROP of the best
        # (float32 200x5000 path: a strength's round ran its whole budget of 20,000 iterations).  The round
        # gives its last point (that of its smallest residual can be its start, where the next round would
        # then start again); the outer duality gap still decides when the solve is done
        if not stall_stop:
            return (xn, yn, tn, F, calm, best, stalled), kkt, used
        dropped = kkt < STALL_DROP * best
        stalled = jnp.where(dropped, 0, stalled + 1)
        best = jnp.where(dropped, kkt, best)
        value = jnp.where(stalled >= stall_checks, jnp.zeros_like(kkt), kkt)
        return (xn, yn, tn, F, calm, best, stalled), value, used

    F0 = objective(x0)[0] if monotone else jnp.zeros([], dtype)
    stall_stop = bool(jnp.finfo(dtype).eps > 1e-10)  # float32, bfloat16
    stall_checks = max(STALL_CHECKS, -(-STALL_STEPS // max(check_every, 1)))  # (at least STALL_STEPS steps)
    # no steps yet: no conjugate gradients at the first check
    carry = (x0, x0, jnp.ones([], dtype), F0, jnp.zeros([], jnp.int32), jnp.full([], jnp.inf, dtype),
             jnp.zeros([], jnp.int32))
    (x, *_), _, it, _ = iterate(certify_carrying, advance, carry, kkt_tol, max_iter, batched=batched)
    return x, it


def conjugate_gradient(matvec, rhs, x0, max_steps, rtol=0.0):
    """Conjugate gradients from ``x0`` on ``matvec(x) = rhs`` (symmetric positive semi-definite).

    Stops after ``max_steps`` steps or when the residual norm is at most ``rtol * ||rhs||``; a direction
    without curvature (``d'Ad <= 0``) or a zero residual makes the remaining steps no-ops.  Used by
    implicit differentiation (and, through :func:`cg_steps`, by the quadratic subproblem).
    """
    return cg_steps(matvec, rhs, x0, max_steps, rtol * jnp.linalg.norm(rhs))[0]


def cg_steps(matvec, rhs, x0, max_steps, stop_at):
    """:func:`conjugate_gradient` until the residual norm is at most ``stop_at``: ``(x, steps taken)``."""
    r = rhs - matvec(x0)

    def cond(c):
        _, _, _, rr, k = c
        return (jnp.sqrt(rr) > stop_at) & (k < max_steps)

    def body(c):
        z, r, d, rr, k = c
        Ad = matvec(d)
        dAd = jnp.vdot(d, Ad)
        a = jnp.where(dAd > 0, rr / jnp.where(dAd > 0, dAd, 1.0), 0.0)
        z, r = z + a * d, r - a * Ad
        rr_new = jnp.vdot(r, r)
        beta = jnp.where(rr > 0, rr_new / jnp.where(rr > 0, rr, 1.0), 0.0)
        return z, r, r + beta * d, rr_new, k + 1

    z, _, _, _, k = jax.lax.while_loop(cond, body, (x0, r, r, jnp.vdot(r, r), jnp.zeros([], jnp.int32)))
    return z, k

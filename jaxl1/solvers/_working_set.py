"""The working-set solver for separable L1-type penalties and the group penalties (prox-Newton for
non-quadratic losses)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..losses import bounded_curvature, get_loss, is_quadratic
from ._fista import iterate
from ._gap import GapInfo, gap_info, nonconvex
from ._quadratic import POLISH_MAX, kkt_residual, prox_part, quad_solve, top_indices
from ._sparse import SparseDesign, append_ones, restrict_columns, weighted_sq_norms


def ws_supported(pen) -> bool:
    """Separable penalties with exact zeros, whose subproblem on a set of coordinates is ``pen.restrict``."""
    if not getattr(pen, "convex", True):  # MCP, SCAD: monotone subproblems (exact solves on the pieces' parts)
        return getattr(pen, "sparse", False) and all(hasattr(pen, name) for name in ("screen", "restrict"))
    return getattr(pen, "sparse", False) and all(
        hasattr(pen, name) for name in ("coordinate_parts", "screen", "restrict"))


def group_ws_supported(pen) -> bool:
    """Group penalties (``GroupL1`` with ``groups``, ``SparseGroupL1``) with a scalar strength: working sets of
    whole groups, whose subproblem is ``pen.restrict_groups``."""
    return (getattr(pen, "sparse", False) and getattr(pen, "convex", True)
            and all(hasattr(pen, name) for name in ("group_ids", "group_screen", "restrict_groups"))
            and pen.group_ids() is not None and jnp.ndim(getattr(pen, "strength", 0.0)) == 0)


def first_groups(k, ids) -> int:
    """The groups in a round of the first size: as many as hold ``k`` coordinates on average."""
    n_groups = max(ids) + 1
    return max(1, round(min(k, len(ids)) * n_groups / len(ids)))


def group_rounds_apply(pen, ws_size, batched) -> bool:
    """Working sets of whole groups for ``pen``: a group penalty, one problem at a time on a CPU (where a
    round takes the size it needs: :func:`round_sizes`), and a first round that holds fewer slots than
    there are coordinates (uneven groups pad every group to the largest one's size)."""
    if not (ws_size and group_ws_supported(pen)) or batched or jax.default_backend() != "cpu":
        return False
    ids = pen.group_ids()
    return first_groups(ws_size, ids) * int(np.bincount(ids).max()) < len(ids)


def multiple_sizes(batched) -> bool:
    """Rounds of several sizes (a ``switch``): for one problem at a time on a CPU.  Under ``vmap`` (a path
    chunk's lanes, or a user's vmap on an accelerator, where the batch is kept) a switch becomes a select
    that runs every size in every round."""
    return not batched and jax.default_backend() == "cpu"


def group_layout(ids):
    """The ``(G, m)`` table of the columns of each group (``m`` the largest group's size), padded with ``p``."""
    ids = np.asarray(ids)
    p, sizes = ids.size, np.bincount(ids)
    order = np.argsort(ids, kind="stable")
    slot = np.arange(p) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    table = np.full((sizes.size, sizes.max()), p, np.int32)
    table[ids[order], slot] = order
    return table


def gather(a, W, padded):
    """``a[W]`` along the first axis; with ``padded``, the slots ``W == len(a)`` read 0."""
    return a.at[W].get(mode="fill", fill_value=0) if padded else a[W]


class _Shape(NamedTuple):
    partial: bool       # a subset of the coordinates (else the whole problem)
    padded: bool        # group layouts with padding slots
    k: int              # coordinates (slots) of the subproblem
    k_groups: int | None
    matrix_free: bool   # the subproblem by products, not as a matrix


def round_sizes(k, total):
    """The sizes of round a solve may take: ``k``, ``4k`` (when below ``total``) and ``total``.

    A round takes the smallest size that holds the nonzero coordinates (groups) and the reserved share
    of the worst violations, so that rounds stay small while the support is and the support never
    outgrows them (then a round would be a block step on a part of the support, and the rounds crawl).
    """
    sizes = [min(k, total)]
    if 4 * k < total:
        sizes.append(4 * k)
    if sizes[-1] < total:
        sizes.append(total)
    return sizes


WS_RESERVED = 8  # 1/8 of a working set goes to the coordinates with the largest prox-gradient residual


def working_set(pen, w, v, L, k, screen=None):
    """``k`` coordinate indices for the next round.

    First the ``k // WS_RESERVED`` coordinates (at least one) with the largest
    prox-gradient residual ``|w_j - prox(w - v / L)_j|``, zero or not; then the
    rest by ``pen.screen`` (nonzero coordinates, then the zero ones
    closest to their threshold).  The reserved part makes every round work on
    the worst violations of the optimality conditions even when the support
    is larger than ``k``, so that the rounds converge whatever its size.
    ``screen``: ``pen.screen(w, v)`` when the caller has it already.
    """
    q = max(1, k // WS_RESERVED)
    V = top_indices(jnp.abs(w - pen.prox(w - v / L, 1.0 / L)), q)
    screen = pen.screen(w, v) if screen is None else screen
    R = top_indices(screen.at[V].set(-jnp.inf), k - q)
    return jnp.concatenate([V, R])


def group_working_set(pen, w, v, L, k, ids, n_groups, screen=None):
    """``k`` group indices for the next round, chosen as :func:`working_set` chooses coordinates: first the
    groups with the largest prox-gradient residual, then by ``pen.group_screen`` (``screen``, when the caller
    has it already)."""
    q = max(1, k // WS_RESERVED)
    residual = jnp.abs(w - pen.prox(w - v / L, 1.0 / L))
    V = top_indices(jax.ops.segment_max(residual, ids, num_segments=n_groups), q)
    if k == q:
        return V
    screen = pen.group_screen(w, v) if screen is None else screen
    R = top_indices(screen.at[V].set(-jnp.inf), k - q)
    return jnp.concatenate([V, R])


# inner KKT tolerance relative to the outer one: a quadratic subproblem is the restricted problem itself,
# so it is solved closely (a round costs a gap and a new subproblem, an inner iteration little); a
# prox-Newton model is only a model, so it is solved loosely
INNER_RATIO_QUADRATIC = 0.01


INNER_RATIO_NEWTON = 0.3


# a quadratic round on part of the coordinates also aims where the outer gap should pass: the gap falls about
# as the square of the KKT residual, so a round from a gap far above the target (the warm start of a strength
# whose support grows) takes its residual down by INNER_GAP_RATIO * sqrt(target / gap) too, within
# [INNER_RATIO_MIN, the ratio].  Column-scaled 2000x500 path: 125 rounds -> 91 (the second round of most late
# strengths gone), 200x5000: 134 -> 108.  A round on every coordinate keeps the plain ratio: there the gap
# already fell below the target (20000x1000: 1,119 iterations, 1,306 with the rule)
INNER_GAP_RATIO = 0.03
INNER_RATIO_MIN = 1e-4


def gap_ratio(ratio, gap, target):
    """The inner tolerance's ratio to the outer KKT residual for a round that starts at duality gap ``gap``
    (``target``: the gap to reach): ``ratio``, or less when the gap is far above the target (see
    ``INNER_GAP_RATIO``); ``ratio`` itself for a gap that is not finite or a target of 0."""
    scaled = INNER_GAP_RATIO * jnp.sqrt(target / jnp.where(gap > target, gap, jnp.where(target > 0, target, 1.0)))
    aimed = jnp.clip(scaled, INNER_RATIO_MIN, ratio)
    return jnp.where(jnp.isfinite(gap) & (target > 0), aimed, ratio)


NEWTON_INNER_MAX = 500  # the most inner iterations of one prox-Newton round


LOW_ROUND_MAX = 500  # the most inner iterations of one round with float32 products (see low_gram)


SPARSE_BLOCK_MAX = 2**24  # the most entries of a dense block of a sparse X's columns (128 MiB in float64)


def solve_ws(prob, pen, w0, b0, tol, max_iter, *, loss, form, fit_b, check_every, ws_size, batched=False,
             many=False):
    """Working-set solver: returns ``(w, b, gap, n_iter, converged)`` like :func:`solve_fista`.

    Each round chooses ``ws_size`` coordinates (:func:`working_set`: the worst
    violations of the optimality conditions, then the nonzero coordinates, then
    the zero ones closest to their threshold), solves the problem restricted to
    them with the other coordinates held fixed, and checks the duality gap of the
    full problem.  The restricted problem is a dense quadratic of size
    ``ws_size``: the squared loss itself, or for other losses its second-order
    model at the current point followed by a backtracking line search
    (prox-Newton).  With ``ws_size < p`` a round is a block-coordinate step on a
    block that holds the worst violations, so the rounds converge even when the
    support is larger than ``ws_size`` (more slowly: choose it larger).

    For a group penalty (:func:`group_ws_supported`) a round takes whole groups
    (:func:`group_working_set`), as many as hold ``ws_size`` coordinates on average,
    laid out in a ``(groups, largest size)`` table whose padding slots are held at
    zero.  A round takes the smallest of the sizes :func:`round_sizes` offers that
    holds the nonzero (and free) groups, for the group penalties, and coordinates in the
    Gram form; that needs one problem at a time on a CPU (:func:`multiple_sizes`), else
    the Gram form takes every coordinate in every round (the group penalties then run
    FISTA: :func:`group_rounds_apply`).

    ``many``: the solve is one of many run one after the other; a round on every coordinate of a problem of at
    most ``POLISH_MAX`` of them then solves on the support at the support's size (see :func:`quad_solve`).
    """
    loss = get_loss(loss)
    kw = dict(loss=loss, form=form, fit_b=fit_b)
    dtype = w0.dtype
    p = w0.shape[0]
    k = min(ws_size, p)
    squared = is_quadratic(loss)
    tol_abs = tol * prob.P0
    grouped = group_ws_supported(pen) and not ws_supported(pen)
    n = prob.y.shape[0]

    def shape_of(k, k_groups=None):
        """A round's static shape: ``k`` coordinates (for groups, ``k_groups`` groups of ``m`` slots)."""
        partial = k < p if k_groups is None else k_groups * m < p
        k = p if not partial else (k if k_groups is None else k_groups * m)
        # the subproblem as a dense matrix when it is small or no larger than the data, else by products
        # (a sparse X's columns are gathered into a dense block only up to POLISH_MAX of them and
        # SPARSE_BLOCK_MAX entries)
        if isinstance(prob.A, SparseDesign):
            matrix_free = k + 1 > POLISH_MAX or n * (k + 1) > SPARSE_BLOCK_MAX
        else:
            # (also when it is far wider than the data: a product costs 2nk there, a matrix k^2 to hold)
            matrix_free = form == "data" and k + 1 > POLISH_MAX and (n > 2 * k or 2 * n < k)
        padded = partial and k_groups is not None and table.size != p
        return _Shape(partial, padded, k, k_groups, matrix_free)

    if grouped:  # rounds on whole groups, as many as hold k coordinates on average, each laid out in m slots
        table = group_layout(pen.group_ids())  # (padded when the sizes differ)
        n_groups, m = table.shape
        ids = jnp.asarray(pen.group_ids())
        shapes = [shape_of(k, kg) for kg in round_sizes(first_groups(k, pen.group_ids()), n_groups)]
    elif form == "gram" and multiple_sizes(batched):
        # the Gram form: a matrix product costs k^2, so small rounds first, then larger ones
        shapes = [shape_of(kk) for kk in round_sizes(k, p)]
    elif form == "gram":
        shapes = [shape_of(p)]  # one size: every coordinate
    else:
        shapes = [shape_of(k)]

    def subproblem(shape, w, b, info, screen):
        """The restricted problem ``(W, pen_W, H, q, x0, A)``; with ``padded`` its padding slots read zero in
        ``H`` and ``q``, so that they stay at zero."""
        out = restricted(shape, w, b, info, screen)
        if not shape.padded:
            return out
        W, pen_W, H, q, x0, A = out
        on = (W < p).astype(dtype)
        if x0.shape[0] > W.shape[0]:  # the intercept, free in a prox-Newton model
            on = jnp.append(on, 1.0)
        if callable(H):
            hvp = H
            H = lambda v: on * hvp(on * v)
        else:
            H = H * on[:, None] * on[None, :]
        return W, pen_W, H, q * on, x0, A

    def restricted(shape, w, b, info, screen):
        padded, matrix_free = shape.padded, shape.matrix_free
        if not shape.partial:
            W, pen_W = None, pen
        elif grouped:
            sel = group_working_set(pen, w, info.v, prob.L, shape.k_groups, ids, n_groups, screen)
            W = jnp.asarray(table)[sel].reshape(-1)
            pen_W = pen.restrict_groups(sel, m)
        else:
            W = working_set(pen, w, info.v, prob.L, shape.k, screen)
            pen_W = pen.restrict(W)
        take = (lambda a: a) if W is None else (lambda a: gather(a, W, padded))
        cols = None if W is None else jnp.minimum(W, p - 1)  # a padding slot reads some column: masked later
        w_W = take(w)
        if form == "gram":
            if W is None:
                H, q = prob.A, prob.c
            else:  # q = c_W - (G w)_W + H w_W, with the gradient G w - c that the gap computed at w
                # two gathers of rows (G is symmetric), kept apart: XLA would fuse A[W][:, W] into one gather
                # of single entries and transpose it twice (60-70 us more per round of 256)
                H = jax.lax.optimization_barrier(prob.A[cols]).T[cols]
                q = H @ w_W - take(info.v)
            if low_apply and not padded:  # the inner products in float32 (see low_gram)
                # (a round's block by a cast of its float64 block: one gather, not two, 85 us each at 256 of 500)
                H_low = prob.A_low[0] if W is None else H.astype(prob.A_low[0].dtype)
                return W, pen_W, (H, H_low, take(info.v)), q, w_W, None
            return W, pen_W, H, q, w_W, None
        # a sparse view scatters W: its padding index p is dropped there (a repeated p - 1 would overwrite)
        X_W = restrict_columns(prob.A, W if isinstance(prob.A, SparseDesign) else cols, dense=not matrix_free)
        if squared:  # the restricted least-squares problem, exactly
            z_off = info.z - X_W @ w_W
            q = (prob.s * (prob.y - z_off)) @ X_W
            if matrix_free:
                return W, pen_W, lambda v: (prob.s * (X_W @ v)) @ X_W, q, w_W, None
            return W, pen_W, X_W.T @ (X_W * prob.s[:, None]), q, w_W, None
        # second-order model of the loss at z (prox-Newton), with the intercept as a free last coordinate
        h = loss.hess(prob.y, info.z, prob.s)
        g_W = take(info.v)
        A = append_ones(X_W) if fit_b else X_W
        x0 = jnp.concatenate([w_W, b[None]]) if fit_b else w_W
        g = jnp.concatenate([g_W, info.gb[None]]) if fit_b else g_W  # about 0 at the refined b
        tiny = jnp.finfo(dtype).tiny
        if matrix_free:
            ridge = 1e-10 * jnp.max(weighted_sq_norms(A, h)) + tiny
            hvp = lambda v: (h * (A @ v)) @ A + ridge * v
            return W, pen_W, hvp, hvp(x0) - g, x0, A
        H = A.T @ (A * h[:, None])
        H = H + jnp.eye(H.shape[0], dtype=dtype) * (1e-10 * jnp.max(jnp.diag(H)) + tiny)
        return W, pen_W, H, H @ x0 - g, x0, A

    def line_search(shape, w, b, info, W, pen_W, x0, x, A):
        """Backtracking on the true objective along ``d = x - x0`` (Armijo on the model decrease)."""
        d = x - x0
        Ad = A @ d
        v_W = info.v if W is None else gather(info.v, W, shape.padded)
        g = jnp.concatenate([v_W, info.gb[None]]) if fit_b else v_W
        pen_part = lambda xx: pen_W.value(xx[:-1] if fit_b else xx)
        f0 = loss.value(prob.y, info.z, prob.s) + pen_part(x0)
        decrease = jnp.vdot(g, d) + pen_part(x) - pen_part(x0)
        ts = 0.5 ** jnp.arange(12, dtype=dtype)
        objs = jax.vmap(lambda t: loss.value(prob.y, info.z + t * Ad, prob.s) + pen_part(x0 + t * d))(ts)
        # near the solution the decrease is below the resolution of f0: accept steps within rounding
        ok = objs <= f0 + 1e-4 * ts * decrease + 16 * jnp.finfo(dtype).eps * jnp.abs(f0)
        t = jnp.where(jnp.any(ok), ts[jnp.argmax(ok)], 0.0)
        # keep the exact zeros of the prox: blend, then zero what the full step zeroed
        x_new = jnp.where(x == 0, jnp.where(t == 1, 0.0, x0 + t * d), x0 + t * d)
        # no step of the direction decreases the objective (a model without curvature in some direction,
        # as a loss with linear pieces gives): a proximal-gradient step, which always does
        # (or one that does better than the accepted step: near rounding level it can accept a step of no use)
        x_pg = prox_part(pen_W, x0 - g / prob.L, 1.0 / prob.L, fit_b)
        obj_pg = loss.value(prob.y, info.z + A @ (x_pg - x0), prob.s) + pen_part(x_pg)
        obj_t = jnp.where(jnp.any(ok), objs[jnp.argmax(ok)], jnp.inf)
        return jnp.where(obj_pg < obj_t, x_pg, x_new)

    # batched lanes wait for the slowest one: there the looser ratio keeps rounds short
    inner_ratio = INNER_RATIO_QUADRATIC if (squared and not batched) else INNER_RATIO_NEWTON

    def solve_round(shape, w, b, info, low_on, budget, screen=None):
        """One working-set round from ``(w, b)``, whose gap and gradient are ``info``, of at most ``budget`` iterations.

        Under ``vmap`` (lanes of a path chunk) the round also runs for lanes that have stopped, whose
        result is then discarded: they get a budget of 0, so they do not hold the other lanes up.
        """
        # the inner tolerance follows the outer optimality (celer/skglm practice)
        kkt_out = kkt_residual(pen, w, info.v, prob.L, False)
        W, pen_W, H, q, x0, A = subproblem(shape, w, b, info, screen)
        # prob.L bounds a subproblem's curvature for a quadratic loss (a principal submatrix's largest
        # eigenvalue is at most the whole matrix's: no power iteration of 30 products per round, 0.2-0.8 ms
        # at 256-500 coordinates), and a matrix-free model's for a loss with a curvature bound
        L_sub = prob.L if (squared or (shape.matrix_free and bounded_curvature(loss))) else None
        if not squared:  # a model is only a model: a singular one (flat pieces of the loss) must not take
            budget = jnp.minimum(budget, NEWTON_INNER_MAX)  # every iteration left; the line search follows
        low = None
        if isinstance(H, tuple):  # float32 products on the increment (see low_gram): a round that does not
            H, H_low, g0 = H  # meet its tolerance in LOW_ROUND_MAX iterations hit float32's limit (an ill-
            budget = jnp.where(low_on, jnp.minimum(budget, LOW_ROUND_MAX), budget)  # conditioned subproblem):
            low = (H_low, g0, low_on)  # the solve's later rounds then take float64 products
        # (the tolerance aimed at the outer gap: see INNER_GAP_RATIO)
        plain = batched or not squared or nonconvex(pen) or not shape.partial
        ratio = inner_ratio if plain else gap_ratio(inner_ratio, info.gap, tol_abs)
        # MCP and SCAD take the exact solve on the support in the data form (p > n, or a sparse X), where
        # the restricted problems are nearly singular and the monotone steps slow (200x2000: 16,820 -> 6,367
        # iterations); on the Gram form's problems it saved no time and cost 1.2 s of compile (2000x500)
        x, it = quad_solve(H, q, x0, pen_W, ratio * kkt_out, budget, fit_b=fit_b and not squared,
                           check_every=check_every, L=L_sub, batched=batched, low=low, local=form == "data",
                           many=many and not shape.partial and shape.k <= POLISH_MAX)
        if not squared:
            x = line_search(shape, w, b, info, W, pen_W, x0, x, A)
        if low is not None:  # a round that ended non-finite (out of float32's range) is undone; after it, or
            bad = low_on & ~jnp.all(jnp.isfinite(x))  # after one that hit the cap, float64 products
            x = jnp.where(bad, x0, x)
            low_on = low_on & (it < LOW_ROUND_MAX) & ~bad
        if fit_b and not squared:
            x, b = x[:-1], x[-1]
        w = x if W is None else w.at[W].set(x, mode="drop")  # padding slots (index p) are dropped
        # a round always costs at least one iteration, so max_iter bounds the loop
        return w, b, jnp.maximum(it, 1), low_on

    def certify(carry, n):
        w, b, last, low_on = carry
        info = gap_info(prob, pen, w, b, **kw)
        if low_apply:  # a round in float32 after which the gap did not fall: float64 products from here on
            low_on = low_on & ~(info.gap >= last.gap)
        return (w, info.b, info, low_on), info.gap, jnp.zeros([], jnp.int32)

    def advance(carry, budget):
        w, b, info, low_on = carry
        if len(shapes) == 1:
            w, b, it, low_on = solve_round(shapes[0], w, b, info, low_on, budget)
            return (w, b, info, low_on), it
        # the smallest size where what the screen ranks first (nonzero or free coordinates, or groups) fits
        # beside the reserved share of a round; the round reuses the screen
        screen = pen.group_screen(w, info.v) if grouped else pen.screen(w, info.v)
        units = [s.k if s.k_groups is None else s.k_groups for s in shapes[:-1]]
        need = jnp.asarray([u - max(1, u // WS_RESERVED) for u in units])
        size = jnp.sum(jnp.sum(jnp.isinf(screen)) > need)
        rounds = [lambda a, s=s: solve_round(s, *a) for s in shapes]
        w, b, it, low_on = jax.lax.switch(size, rounds, (w, b, info, low_on, budget, screen))
        return (w, b, info, low_on), it

    z0 = jnp.zeros(0 if form == "gram" else n, dtype)
    info0 = GapInfo(jnp.full([], jnp.inf, dtype), b0, jnp.zeros_like(w0), z0, jnp.zeros([], dtype))
    # float32 inner products (see low_gram) while they reach each round's tolerance; not for lanes in lockstep
    # (there the switch back to float64 would run both products)
    low_apply = prob.A_low is not None and not batched and not nonconvex(pen)
    low_on = prob.A_low[1] if low_apply else jnp.zeros([], bool)
    carry = (w0, b0, info0, low_on)
    (w, b, _, _), gap, n_iter, done = iterate(certify, advance, carry, tol_abs, max_iter, batched=batched)
    return w, b, gap, n_iter, done

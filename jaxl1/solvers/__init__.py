"""The solver core: a problem (:mod:`._problem`), its certificate (:mod:`._gap`), FISTA (:mod:`._fista`),
the quadratic subproblem (:mod:`._quadratic`), working sets (:mod:`._working_set`) and the sparse
design that stands for a centred, scaled sparse ``X`` (:mod:`._sparse`).

:func:`solve` is the one entry point of :func:`jaxl1.fit` and :func:`jaxl1.fit_path`: it picks the
working-set solver for separable L1-type penalties and plain FISTA for the others, and maps the
column scaling of the problem in and out.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..losses import get_loss, is_quadratic

from ._fista import solve_fista
from ._gap import certificate_of
from ._problem import (
    GRAM_BLOCK_MIN,
    Problem,
    choose_form,
    column_scales,
    default_tol,
    default_ws_size,
    gram,
    init_intercept,
    intercept_out,
    prepare,
    rmul,
    rows_of,
    scalable,
    standardizing_scale,
    weighted_gram,
)
from ._quadratic import POLISH_MAX, conjugate_gradient, quad_solve, support_solve
from ._working_set import group_rounds_apply, group_ws_supported, solve_ws, ws_supported

__all__ = [
    "solve", "Problem", "prepare", "choose_form", "column_scales", "default_tol", "default_ws_size", "gram",
    "weighted_gram", "init_intercept", "intercept_out", "scalable", "rmul", "rows_of", "standardizing_scale", "certificate_of", "POLISH_MAX",
    "quad_solve", "support_solve", "solve_fista", "solve_ws", "ws_supported", "group_ws_supported", "conjugate_gradient", "GRAM_BLOCK_MIN",
]


def solve(prob, pen, w0, b0, tol, max_iter, *, loss, form, fit_b, check_every, ws_size, batched=False, many=False):
    """The working-set solver for separable L1-type penalties, plain FISTA for the others.

    ``w0`` and the returned coefficients are on the user's scale; the solve runs in the scaled
    coordinates of ``prob`` (``u = d * w``, the penalty ``pen.scaled(d)``) when the problem was scaled.
    ``many``: the solve is one of many run one after the other (see :func:`solve_ws`).
    """
    parts = getattr(pen, "bounds_parts", None)
    box = None if parts is None else parts(w0.shape[0], w0.dtype)
    d = rows_of(prob.d, w0)  # (p,), or (p, 1) for a (p, K) coefficient matrix
    if scalable(pen):
        pen = pen.scaled(d)
        w0 = w0 * d
    # working sets for a coefficient vector (for a non-convex penalty, with the squared loss: its subproblem is
    # the restricted problem itself, where a prox-Newton model's line search would need a convex penalty)
    # (or, for the group penalties, working sets of whole groups where :func:`group_rounds_apply` says so)
    supported = ws_supported(pen) or group_rounds_apply(pen, ws_size, batched)
    if ws_size and supported and w0.ndim == 1 and (getattr(pen, "convex", True) or is_quadratic(get_loss(loss))):
        out = solve_ws(prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b,
                       check_every=check_every, ws_size=ws_size, batched=batched, many=many)
    else:
        out = solve_fista(prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b,
                          check_every=check_every, batched=batched)
    w, b, gap, n_iter, conv = out
    w = w / d
    if box is not None:  # a coordinate at a bound in the scaled coordinates is at it on the user's scale too:
        lo, hi = box     # the division by d may leave it a few units of rounding off, on either side
        eps = 8 * jnp.finfo(w.dtype).eps
        w = jnp.where(jnp.isfinite(lo) & (jnp.abs(w - lo) <= eps * jnp.abs(lo)), lo, w)
        w = jnp.where(jnp.isfinite(hi) & (jnp.abs(w - hi) <= eps * jnp.abs(hi)), hi, w)
        w = jnp.clip(w, lo, hi)
    return w, b, gap, n_iter, conv

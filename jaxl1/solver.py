r"""``fit``: proximal-gradient solvers certified by a duality gap.

The problem is

.. math:: \min_{w,\,b}\; F(Xw + b) + P(w)

with :math:`F` a loss from :mod:`jaxl1.losses` (a weighted mean over samples) and
:math:`P` a penalty from :mod:`jaxl1.penalties`.  Every solve stops when the
duality gap, at a dual point built by rescaling the gradient of the loss (as
scikit-learn and celer do), is at most ``tol * P0``, ``P0`` the objective at
:math:`w = 0` with the intercept at its optimum.

* Separable L1-type penalties (``L1``, ``ElasticNet``, ``NonNegativeL1``) use
  working sets: each round ranks the coordinates, solves the problem restricted
  to the best ``ws_size`` of them (a dense quadratic: the squared loss itself, or
  a prox-Newton model of the logistic loss followed by a line search) by FISTA
  with restart.  When the subproblem is held as a matrix and its support has at
  most ``POLISH_MAX`` coordinates, an exact solve on the support is tried too (a
  small Cholesky factorization: on a path with warm starts this often finishes a
  strength in one step); on a larger support whose signs have settled, a few
  conjugate-gradient steps on the same linear system are tried instead.
* Other penalties (``GroupL1``, ``L2``) use FISTA with O'Donoghue–Candès gradient
  restart and a fixed step :math:`1/L`, :math:`L` a Lipschitz bound of the
  gradient from power iteration.

Two forms of the smooth part are used, chosen by ``form="auto"``:

* ``"gram"`` (squared loss, ``n >= p``): the data enter through
  :math:`G = X_c^\top S X_c` and :math:`c = X_c^\top S y_c` (centred when an
  intercept is fitted, so the intercept leaves the iteration); an iteration costs
  :math:`p^2`.
* ``"data"``: the iteration multiplies by :math:`X` and :math:`X^\top` (cost :math:`np`).

Each loop evaluates its stopping test (gap or KKT residual) once per pass, then
iterates unless it is done, so that the test is compiled once.  Everything here
is pure and jit-compiled once per shape, static options and penalty type: new
strengths, data or initial points of the same shapes reuse the compiled code.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validation
from ._jit import jit
from .implicit import solution_tangent
from .losses import get_loss

__all__ = ["FitResult", "fit", "default_tol", "ConvergenceWarning", "STATUS", "status_of", "warn_if_stopped"]

PyTree = Any


class ConvergenceWarning(UserWarning):
    """A solve stopped before its tolerance was met (at ``max_iter``, or on non-finite values).

    ``fit``, ``fit_path`` and ``cross_validate`` emit it when called with concrete inputs; nothing is
    emitted under a trace (``jit``, ``vmap``, ``grad``), where ``converged`` and ``status`` tell.
    """


STATUS = ("converged", "max_iter", "nonfinite")  # the names of the codes of ``status``


def status_of(converged, coef, intercept, gap):
    """Why each solve stopped, as an index into :data:`STATUS` (``coef`` has the lanes' axes first)."""
    finite = jnp.isfinite(gap) & jnp.all(jnp.isfinite(coef), axis=-1) & jnp.isfinite(intercept)
    return jnp.where(converged, 0, jnp.where(finite, 1, 2)).astype(jnp.int32)


def warn_if_stopped(what, status, max_iter, *, stacklevel=3):
    """Warn (:class:`ConvergenceWarning`) if a concrete ``status`` holds a solve that did not converge."""
    if isinstance(status, jax.core.Tracer):
        return
    status = np.asarray(status).reshape(-1)
    short, bad = int(np.sum(status == 1)), int(np.sum(status == 2))
    if not (short or bad):
        return
    of = f" of {status.size}" if status.size > 1 else ""
    parts = []
    if short:
        parts.append(f"{short}{of} solve{'s' if short > 1 or of else ''} stopped at max_iter={int(max_iter)} "
                     "before the duality gap met tol (increase max_iter or loosen tol)")
    if bad:
        parts.append(f"{bad}{of} solve{'s' if bad > 1 or of else ''} met non-finite values")
    warnings.warn(f"{what}: " + "; ".join(parts), ConvergenceWarning, stacklevel=stacklevel)


# --------------------------------------------------------------------------- #
# results
# --------------------------------------------------------------------------- #
@partial(
    jax.tree_util.register_dataclass,
    data_fields=["coef", "intercept", "gap", "n_iter", "converged"],
    meta_fields=[],
)
@dataclass(frozen=True)
class FitResult:
    """The result of :func:`fit` (a pytree, so it passes through ``jit`` and ``vmap``).

    Attributes:
      coef: ``(p,)`` coefficients, exact zeros where the solution is zero.
      intercept: scalar intercept (``0`` without ``fit_intercept``).
      gap: the duality gap at ``coef`` (absolute, in objective units).
      n_iter: the number of iterations taken (proximal-gradient and conjugate-gradient steps).
      converged: ``gap <= tol * P0`` was reached before ``max_iter``.
      status: why the solve stopped, an index into ``jaxl1.STATUS``: ``0`` converged, ``1`` stopped at
        ``max_iter``, ``2`` non-finite values (a property, computed from the fields).
    """

    coef: jax.Array
    intercept: jax.Array
    gap: jax.Array
    n_iter: jax.Array
    converged: jax.Array

    @property
    def status(self):
        return status_of(self.converged, self.coef, self.intercept, self.gap)

    def predict(self, X):
        """Linear predictor ``X @ coef + intercept``."""
        return jnp.asarray(X) @ self.coef + self.intercept


def default_tol(dtype) -> float:
    """The default relative duality gap: ``1e-6`` in float64, ``1e-4`` in lower precision."""
    return 1e-6 if jnp.dtype(dtype) == jnp.float64 else 1e-4


# --------------------------------------------------------------------------- #
# problem data in the two forms
# --------------------------------------------------------------------------- #
class _Problem(NamedTuple):
    """Everything an iteration needs; a pytree of arrays (``fit_b`` marks an intercept variable)."""

    A: jax.Array  # (p, p) Gram matrix, or (n, p) design (centred for the squared loss)
    c: jax.Array  # (p,) X_c' S y_c for the Gram form; unused (zeros) otherwise
    y: jax.Array  # (n,) targets (centred for the squared loss with intercept)
    s: jax.Array  # (n,) normalized sample weights
    yy: jax.Array  # 0.5 * sum s y_c^2 (Gram form)
    x_mean: jax.Array  # (p,) weighted column means removed from X (zeros if none)
    y_mean: jax.Array  # weighted mean removed from y (0 if none)
    L: jax.Array  # Lipschitz constant of the gradient
    P0: jax.Array  # objective at w = 0, intercept optimal
    d: jax.Array  # (p,) column scales: A holds the columns divided by d (ones when not scaled)


def _power_iteration(matvec, v0, n_iter=50):
    """Largest eigenvalue of a PSD operator (Rayleigh quotient after ``n_iter`` steps)."""

    def body(v, _):
        mv = matvec(v)
        return mv / jnp.maximum(jnp.linalg.norm(mv), jnp.finfo(mv.dtype).tiny), None

    v, _ = jax.lax.scan(body, v0 / jnp.linalg.norm(v0), None, length=n_iter)
    return jnp.vdot(v, matvec(v))


def _start_vector(p, dtype):
    """A fixed start for power iteration with no zero entry and no special direction (no PRNG: cheap to compile)."""
    return 1.0 + 0.5 * jnp.sin(1.618034 * jnp.arange(1, p + 1, dtype=dtype))


_L_SAFETY = 1.05  # the Rayleigh quotient underestimates the top eigenvalue slightly


GRAM_BLOCKS = 4  # column blocks of the Gram matrix when p >= GRAM_BLOCK_MIN
GRAM_BLOCK_MIN = 256


def _gram(X, Xs):
    """``X' Xs`` for a symmetric result: only the blocks on and above the diagonal are multiplied.

    Block row ``i`` is one product with the columns from block ``i`` on; with 4 blocks that is 10/16 of
    the full product's work (XLA does not exploit the symmetry of ``X' X`` itself).  The upper part
    ``U`` (diagonal blocks halved) gives ``G = U + U'``, exactly symmetric.
    """
    p = X.shape[1]
    if p < GRAM_BLOCK_MIN:
        return X.T @ Xs
    e = [round(i * p / GRAM_BLOCKS) for i in range(GRAM_BLOCKS + 1)]
    rows = []
    for i in range(GRAM_BLOCKS):
        R = X[:, e[i]:e[i + 1]].T @ Xs[:, e[i]:]
        half = jnp.arange(p - e[i]) < e[i + 1] - e[i]
        rows.append(jnp.pad(jnp.where(half, 0.5 * R, R), ((0, 0), (e[i], 0))))
    U = jnp.concatenate(rows, axis=0)
    return U + U.T


# from this size of product (n p^2) the Gram matrix on a CPU is numpy's ``X'X`` on the host: the BLAS's
# symmetric rank-k update does half the work at a higher rate (20000x1000: 0.75 s with the transfer, against
# 1.3 s for the blocks above in XLA; 2000x500: 22 ms against 35 ms).  Smaller products stay in XLA, where the
# persistent compilation cache can keep the program (JAX does not cache programs with host callbacks).
GRAM_HOST_MIN = 2.5e8


def _host_gram(X, s):
    """``X' diag(s) X`` computed by numpy on the host (``s >= 0``)."""

    def product(x, s):
        x, s = np.asarray(x), np.asarray(s)
        if np.all(s == s[0]):  # no sample weights: no weighted copy of X
            return (x.T @ x) * s[0]  # numpy sees the transposed operand and calls the BLAS's syrk
        z = x * np.sqrt(s)[:, None]
        return z.T @ z

    out = jax.ShapeDtypeStruct((X.shape[1], X.shape[1]), X.dtype)
    return jax.pure_callback(product, out, X, s, vmap_method="sequential")


def _weighted_gram(Xc, s):
    """``Xc' diag(s) Xc``: in XLA, or for a large product on a CPU by the host's BLAS."""
    n, p = Xc.shape
    in_xla = lambda Xc, s: _gram(Xc, Xc * s[:, None])
    # chosen when tracing, for the default backend: both compute the same matrix, so a program placed on
    # another backend is still right (lowering both branches with ``platform_dependent`` cost 0.15 s)
    if n * p * p < GRAM_HOST_MIN or jax.default_backend() != "cpu":
        return in_xla(Xc, s)
    return _host_gram(Xc, s)


def column_scales(Xc, s):
    """Weighted column norms ``sqrt(sum_i s_i Xc_ij^2)``, computed without overflow; ``1`` for a zero column.

    Each column is divided by its largest entry before it is squared, so values up to the dtype's
    largest number give a finite scale.
    """
    def guarded():  # two more passes over X: only when the plain sums overflowed
        m = jnp.max(jnp.abs(Xc), axis=0)
        m = jnp.where((m > 0) & jnp.isfinite(m), m, 1.0)
        return m * jnp.sqrt(s @ jnp.square(Xc / m))

    d = jnp.sqrt(s @ jnp.square(Xc))
    d = jax.lax.cond(jnp.all(jnp.isfinite(d)), lambda: d, guarded)
    return jnp.where((d > 0) & jnp.isfinite(d), d, 1.0).astype(Xc.dtype)


def scalable(pen) -> bool:
    """The solver works on unit-norm columns for a separable penalty (one with ``scaled``)."""
    return hasattr(pen, "scaled") and hasattr(pen, "coordinate_parts")


def _prepare(X, y, s, *, loss, fit_intercept, form, scale=True):
    """Centre, scale the columns to unit norm (``scale``), build the Gram matrix if asked, bound ``L``.

    With ``scale`` the problem is held in the coordinates ``u = d * w`` (``d`` from :func:`column_scales`):
    column ``j`` of ``A`` is divided by ``d_j``, and the penalty is taken in the same coordinates by the
    solver (``pen.scaled(d)``).  Every coordinate then has unit curvature in the squared loss, so the
    step sizes, the working-set ranking and the inner tolerances do not depend on the columns' units.
    """
    loss = get_loss(loss)
    dtype = X.dtype
    p = X.shape[1]
    zero = jnp.zeros([], dtype)
    squared = loss.name == "squared"
    # with an intercept the columns are centred (the intercept absorbs x_mean . w), which keeps the
    # problem well conditioned when features sit far from zero; the squared loss also centres y
    x_mean = s @ X if fit_intercept else jnp.zeros(p, dtype)
    y_mean = s @ y if (squared and fit_intercept) else zero
    Xc, yc = (X - x_mean if fit_intercept else X), y - y_mean
    d = column_scales(Xc, s) if scale else jnp.ones(p, dtype)
    if scale:
        Xc = Xc / d
    if form == "gram":
        A = _weighted_gram(Xc, s)
        c = (s * yc) @ Xc
        yy = 0.5 * jnp.sum(s * yc * yc)
        L = _power_iteration(lambda v: A @ v, _start_vector(p, dtype)) * _L_SAFETY
        return _Problem(A, c, yc, s, yy, x_mean, y_mean, L, yy, d)
    fit_b = fit_intercept and not squared
    if fit_b:
        def op(v):
            z = Xc @ v[:-1] + v[-1]
            return jnp.concatenate([(s * z) @ Xc, jnp.sum(s * z)[None]])

        L0 = _power_iteration(op, _start_vector(p + 1, dtype))
        b0 = loss.intercept(yc, jnp.zeros_like(yc), s)
    else:
        L0 = _power_iteration(lambda v: (s * (Xc @ v)) @ Xc, _start_vector(p, dtype))
        b0 = zero
    L = loss.curvature * L0 * _L_SAFETY
    P0 = loss.value(yc, jnp.zeros_like(yc) + b0, s)
    return _Problem(Xc, jnp.zeros(p, dtype), yc, s, zero, x_mean, y_mean, L, P0, d)


def _choose_form(loss, n, p, form):
    if form not in ("auto", "gram", "data"):
        raise ValueError(f"form must be 'auto', 'gram' or 'data', got {form!r}")
    squared = get_loss(loss).name == "squared"
    if form == "gram" and not squared:
        raise ValueError("form='gram' needs loss='squared'")
    if form == "auto":
        return "gram" if (squared and n >= p) else "data"
    return form


# --------------------------------------------------------------------------- #
# smooth part: gradient and duality gap, per form
# --------------------------------------------------------------------------- #
def _grad(prob, w, b, *, loss, form, fit_b):
    if form == "gram":
        return prob.A @ w - prob.c, jnp.zeros_like(b)
    u = loss.grad(prob.y, prob.A @ w + b, prob.s)
    return u @ prob.A, (jnp.sum(u) if fit_b else jnp.zeros_like(b))


def _free_mask(pen, w, v):
    """Coordinates whose dual constraint no rescaling of ``v`` can meet: the unpenalized ones
    (``pen.free``: their constraint is ``v_j = 0``) and those the penalty names (``pen.dual_free``)."""
    return pen.free(w) | pen.dual_free(w, v)


def _free_term(free, w, v, L):
    """Correction for the coordinates of :func:`_free_mask`, left out of the dual rescaling.

    ``P - D`` splits into per-coordinate Fenchel-Young terms ``P_j(w_j) + P_j^*(-v_j) + v_j w_j``; for
    these coordinates ``P_j^*(-v_j)`` is infinite (or, for a free coordinate, finite only at ``v_j = 0``),
    so their term is replaced by ``v_j^2 / L``, the decrease a gradient step on that coordinate could
    still make.
    """
    return jnp.sum(jnp.where(free, v * v / L - v * w, 0.0))


class _Info(NamedTuple):
    """The duality gap at ``(w, b)`` and by-products the working-set solver reuses."""

    gap: jax.Array
    b: jax.Array  # the intercept refined to its optimum for ``Xw`` (logistic)
    v: jax.Array  # (p,) gradient of the loss in w
    z: jax.Array  # (n,) linear predictor (data form; empty for the Gram form)


def _gap(prob, pen, w, b, *, loss, form, fit_b):
    """Duality gap at ``(w, b)``, as an :class:`_Info`."""
    z = jnp.zeros(0, w.dtype)
    if form == "gram":
        Gw = prob.A @ w
        v = Gw - prob.c
        f = 0.5 * jnp.vdot(w, Gw) - jnp.vdot(w, prob.c) + prob.yy
        free = _free_mask(pen, w, v)
        sigma = jnp.maximum(1.0, pen.dual_norm(jnp.where(free, 0.0, -v)))
        conj_loss = (jnp.vdot(w, prob.c) - 2 * prob.yy) / sigma + f / sigma**2
        dual = -conj_loss - pen.conjugate(-v / sigma)
    else:
        Xw = prob.A @ w
        if fit_b:
            b = loss.intercept(prob.y, Xw, prob.s, b0=b, n_newton=3)
        z = Xw + b
        f = loss.value(prob.y, z, prob.s)
        u = loss.grad(prob.y, z, prob.s)
        if fit_b:  # the intercept's dual constraint: sum(u) = 0
            u = u - prob.s * jnp.sum(u)
        v = u @ prob.A  # u @ A rather than A.T @ u: XLA:CPU runs the transposed product far slower
        free = _free_mask(pen, w, v)
        sigma = jnp.maximum(1.0, pen.dual_norm(jnp.where(free, 0.0, -v)))
        u = loss.project_dual(prob.y, u / sigma, prob.s)
        dual = -loss.conjugate(prob.y, u, prob.s) - pen.conjugate(-v / sigma)
    primal = f + pen.value(w)
    gap = primal - dual + _free_term(free, w, v, prob.L)
    return _Info(jnp.maximum(gap, 0.0), b, v, z)


# --------------------------------------------------------------------------- #
# FISTA with restart
# --------------------------------------------------------------------------- #
class _State(NamedTuple):
    w: jax.Array
    b: jax.Array
    yw: jax.Array
    yb: jax.Array
    t: jax.Array
    n_iter: jax.Array
    gap: jax.Array
    done: jax.Array
    stop: jax.Array


def _run_pass(step, carry, n_iter, max_iter, check_every, stop=False):
    """A pass of the scan-style ``step``: ``check_every`` iterations, none if ``stop``, never past ``max_iter``.

    Returns the carry and the number of iterations run (the trip count is traced: a stopped lane runs none).
    """
    n = jnp.where(stop, 0, jnp.minimum(check_every, max_iter - n_iter))
    return jax.lax.fori_loop(0, n, lambda _, c: step(c, None)[0], carry), n


def _solve(prob, pen, w0, b0, tol, max_iter, *, loss, form, fit_b, check_every):
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
        gw, gb = _grad(prob, yw, yb, **kw)
        w_new = pen.prox(yw - step * gw, step)
        b_new = yb - step * gb if fit_b else b
        dw, db = w_new - w, b_new - b
        restart = jnp.vdot(yw - w_new, dw) + (yb - b_new) * db > 0
        t_new = jnp.where(restart, 1.0, 0.5 * (1 + jnp.sqrt(1 + 4 * t * t))).astype(dtype)
        beta = jnp.where(restart, 0.0, (t - 1) / t_new).astype(dtype)
        return (w_new, b_new, w_new + beta * dw, b_new + beta * db, t_new), None

    def body(st):
        info = _gap(prob, pen, st.w, st.b, **kw)
        b = info.b
        yb = st.yb if not fit_b else b  # keep the refined intercept
        done = info.gap <= tol_abs
        stop = done | (st.n_iter >= max_iter)
        (w, b, yw, yb, t), n_run = _run_pass(fista_step, (st.w, b, st.yw, yb, st.t), st.n_iter, max_iter,
                                             check_every, stop)
        return _State(w, b, yw, yb, t, st.n_iter + n_run, info.gap, done, stop)

    one = jnp.ones([], dtype)
    false = jnp.zeros([], bool)
    st = _State(w0, b0, w0, b0, one, jnp.zeros([], jnp.int32), jnp.full([], jnp.inf, dtype), false, false)
    st = jax.lax.while_loop(lambda st: ~st.stop, body, st)
    return st.w, st.b, st.gap, st.n_iter, st.done


# --------------------------------------------------------------------------- #
# working sets: small dense subproblems, prox-Newton for non-quadratic losses
# --------------------------------------------------------------------------- #
def _ws_supported(pen) -> bool:
    """Separable penalties with exact zeros, whose subproblem on a set of coordinates is ``pen.restrict``."""
    return getattr(pen, "sparse", False) and all(
        hasattr(pen, name) for name in ("coordinate_parts", "screen", "restrict"))


def _top_indices(score, k):
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


WS_RESERVED = 8  # 1/8 of a working set goes to the coordinates with the largest prox-gradient residual


def _working_set(pen, w, v, L, k):
    """``k`` coordinate indices for the next round.

    First the ``k // WS_RESERVED`` coordinates (at least one) with the largest
    prox-gradient residual ``|w_j - prox(w - v / L)_j|``, zero or not; then the
    rest by ``pen.screen`` (nonzero coordinates, then the zero ones
    closest to their threshold).  The reserved part makes every round work on
    the worst violations of the optimality conditions even when the support
    is larger than ``k``, so that the rounds converge whatever its size.
    """
    q = max(1, k // WS_RESERVED)
    V = _top_indices(jnp.abs(w - pen.prox(w - v / L, 1.0 / L)), q)
    R = _top_indices(pen.screen(w, v).at[V].set(-jnp.inf), k - q)
    return jnp.concatenate([V, R])


def _prox_part(pen, x, step, fit_b):
    """The prox on the penalized block of ``x``; the trailing intercept (``fit_b``) is free."""
    if not fit_b:
        return pen.prox(x, step)
    return jnp.concatenate([pen.prox(x[:-1], step), x[-1:]])


def _kkt(pen, x, v, L, fit_b):
    """Largest entry of the prox-gradient mapping ``L (x - prox(x - v / L, 1 / L))`` (0 at a solution)."""
    return jnp.max(jnp.abs(L * (x - _prox_part(pen, x - v / L, 1.0 / L, fit_b))))


# inner KKT tolerance relative to the outer one: a quadratic subproblem is the restricted problem itself,
# so it is solved closely (a round costs a gap and a new subproblem, an inner iteration little); a
# prox-Newton model is only a model, so it is solved loosely
INNER_RATIO_QUADRATIC = 0.01
INNER_RATIO_NEWTON = 0.3
CG_ITERS = 10  # conjugate-gradient steps on a larger support whose signs held since the last check
POLISH_MAX = 96  # subproblems up to this size also try an exact solve on the support


def _support_system(H, q, x, tau, mu_vec, on):
    """The minimizer of the quadratic model on the coordinates ``on`` with the signs of ``x``, or ``x``."""
    m = x.shape[0]
    M = on.astype(x.dtype)
    sign = jnp.sign(x)
    A = M[:, None] * (H + jnp.diag(mu_vec)) * M[None, :] + jnp.diag(1 - M)
    A = A + jnp.eye(m, dtype=x.dtype) * (jnp.finfo(x.dtype).eps * jnp.max(jnp.abs(jnp.diag(A))))
    # A is symmetric positive definite (a PSD block, the identity elsewhere, a ridge): Cholesky, which also
    # compiles to far less code than a pivoted LU; a failed factorization gives NaN and ``x`` is kept
    C = jnp.linalg.cholesky(A)
    rhs = (M * (q - tau * sign))[:, None]
    u = jax.lax.linalg.triangular_solve(C, rhs, left_side=True, lower=True)
    xs = jax.lax.linalg.triangular_solve(C, u, left_side=True, lower=True, transpose_a=True)[:, 0]
    return jnp.where(_signs_kept(xs, sign, on, tau), xs * M, x)


def _signs_kept(z, sign, on, tau):
    """``z`` is finite and keeps ``sign`` on the penalized coordinates of the support ``on``."""
    return jnp.all(jnp.where(on, (jnp.sign(z) == sign) | (tau == 0), True)) & jnp.all(jnp.isfinite(z))


def _support_parts(pen, x, fit_b):
    """Per-coordinate L1 thresholds, L2 curvatures and the support of ``x`` (a trailing intercept is free and in)."""
    k = x.shape[0] - 1 if fit_b else x.shape[0]
    tau, mu_vec = pen.coordinate_parts(k, x.dtype)
    on = x != 0
    if fit_b:
        tau, on, mu_vec = jnp.append(tau, 0.0), on.at[-1].set(True), jnp.append(mu_vec, 0.0)
    return tau, mu_vec, on


def _support_solve(H, q, x, pen, fit_b):
    """Solve ``0.5 x'Hx - q'x + P(x)`` on the support and signs of ``x``, where it is a linear system.

    Returns ``x`` unchanged if the solution changes a sign (the support was not yet the right one).
    Above ``POLISH_MAX`` coordinates the support (when it has at most ``POLISH_MAX`` of them) is gathered
    into a system of that size, so the cost does not grow with the problem.
    """
    m = x.shape[0]
    tau, mu_vec, on = _support_parts(pen, x, fit_b)
    if m <= POLISH_MAX:
        return _support_system(H, q, x, tau, mu_vec, on)
    # top_k of a 0/1 indicator: every support index when there are at most POLISH_MAX of them
    S = _top_indices(on, POLISH_MAX)
    q_S, x_S, tau_S, mu_S, on_S = jnp.stack([q, x, tau, mu_vec, on.astype(x.dtype)], axis=1)[S].T  # one gather
    x_S = _support_system(H[S[:, None], S[None, :]], q_S, x_S, tau_S, mu_S, on_S != 0)
    return jnp.where(jnp.sum(on) <= POLISH_MAX, x.at[S].set(x_S), x)


def _quad_solve(H, q, x0, pen, kkt_tol, max_iter, *, fit_b, check_every, L=None, batched=False):
    """FISTA with restart on ``0.5 x'Hx - q'x + P(x)`` until the prox-gradient mapping is below ``kkt_tol``.

    ``batched``: the caller runs this under ``vmap``, where every branch of a ``cond`` or ``switch`` runs
    on every pass: the loop then iterates before it tests (no ``cond``), and the solves on the support
    are limited to the exact one of a subproblem of at most ``POLISH_MAX`` coordinates.
    """
    dtype = x0.dtype
    hvp = H if callable(H) else (lambda v: H @ v)
    if L is None:
        L = _power_iteration(hvp, _start_vector(x0.shape[0], dtype), n_iter=30) * _L_SAFETY
    L = jnp.maximum(L, jnp.finfo(dtype).tiny)
    step = 1.0 / L

    def fista_step(carry, _):
        x, y, t = carry
        x_new = _prox_part(pen, y - step * (hvp(y) - q), step, fit_b)
        dx = x_new - x
        restart = jnp.vdot(y - x_new, dx) > 0
        t_new = jnp.where(restart, 1.0, 0.5 * (1 + jnp.sqrt(1 + 4 * t * t))).astype(dtype)
        beta = jnp.where(restart, 0.0, (t - 1) / t_new).astype(dtype)
        return (x_new, x_new + beta * dx, t_new), None

    polish = not callable(H) and not (batched and x0.shape[0] > POLISH_MAX)
    # a dense subproblem of at most POLISH_MAX coordinates always takes the exact solve instead
    use_cg = not batched and not (polish and x0.shape[0] <= POLISH_MAX)

    def keep_better(c, xn):
        """``xn`` in place of ``x`` (momentum restarted) if its KKT residual is smaller."""
        x, y, t, kkt = c
        kkt_n = _kkt(pen, xn, hvp(xn) - q, L, fit_b)
        better = kkt_n < kkt
        x, y = jnp.where(better, xn, x), jnp.where(better, xn, y)
        return x, y, jnp.where(better, 1.0, t).astype(dtype), jnp.minimum(kkt, kkt_n)

    def polish_point(x):
        return _support_solve(H, q, x, pen, fit_b)

    def cg_point(x):
        """Conjugate gradients on the support and signs of ``x`` (the same system as the exact solve)."""
        tau, mu_vec, on = _support_parts(pen, x, fit_b)
        M = on.astype(dtype)
        sign = jnp.sign(x)
        op = lambda v: M * (hvp(M * v) + mu_vec * v) + (1 - M) * v
        r = M * (q - tau * sign) - op(x)

        def cg_step(carry, _):
            z, r, d, rr = carry
            Ad = op(d)
            dAd = jnp.vdot(d, Ad)
            a = jnp.where(dAd > 0, rr / jnp.where(dAd > 0, dAd, 1.0), 0.0)
            z, r = z + a * d, r - a * Ad
            rr_new = jnp.vdot(r, r)
            beta = jnp.where(rr > 0, rr_new / jnp.where(rr > 0, rr, 1.0), 0.0)
            return (z, r, r + beta * d, rr_new), None

        z = jax.lax.scan(cg_step, (x, r, r, jnp.vdot(r, r)), None, length=CG_ITERS)[0][0] * M
        return jnp.where(_signs_kept(z, sign, on, tau), z, x)

    def body(c):
        """The KKT residual at ``x`` (after a solve on its support, if that is better), then iterations.

        The solve on the support is exact (Cholesky) for a support of at most ``POLISH_MAX`` coordinates
        of a dense subproblem, else ``CG_ITERS`` conjugate-gradient steps once the signs have held for a
        whole pass (a support still changing would make them wasted work).
        """
        x, y, t, _, it, _, sign_prev = c
        kkt = _kkt(pen, x, hvp(x) - q, L, fit_b)
        sign = jnp.sign(x)
        small = (jnp.sum(x != 0) <= POLISH_MAX) if polish else jnp.zeros([], bool)
        settled = (jnp.all(sign == sign_prev) & (it + CG_ITERS <= max_iter)) if use_cg else jnp.zeros([], bool)
        branch = jnp.where(small, 1, jnp.where(settled, 2, 0))
        # branches 1 and 2 share one keep-the-better step; only the chosen branch runs (this loop is not vmapped)
        solves = ([polish_point] if polish else []) + ([cg_point] if use_cg else [])
        if solves:
            def improve(c):
                xn = solves[0](c[0]) if len(solves) == 1 else jax.lax.switch(branch - 1, solves, c[0])
                return keep_better(c, xn)

            x, y, t, kkt = jax.lax.cond(branch > 0, improve, lambda c: c, (x, y, t, kkt))
        it = it + jnp.where(branch == 2, CG_ITERS, 0)
        stop = (kkt <= kkt_tol) | (it >= max_iter)
        (x, y, t), n_run = _run_pass(fista_step, (x, y, t), it, max_iter, check_every, stop)
        return x, y, t, kkt, it + n_run, stop, sign

    if batched:  # under vmap: iterate, then test (a cond on a batched predicate becomes a select)
        def bbody(c):
            x, y, t, _, it = c
            (x, y, t), n_run = _run_pass(fista_step, (x, y, t), it, max_iter, check_every)
            kkt = _kkt(pen, x, hvp(x) - q, L, fit_b)
            if polish:
                x, y, t, kkt = keep_better((x, y, t, kkt), polish_point(x))
            return x, y, t, kkt, it + n_run

        kkt0 = _kkt(pen, x0, hvp(x0) - q, L, fit_b)
        c0 = (x0, x0, jnp.ones([], dtype), kkt0, jnp.zeros([], jnp.int32))
        x, _, _, _, it = jax.lax.while_loop(lambda c: (c[3] > kkt_tol) & (c[4] < max_iter), bbody, c0)
        return x, it

    false = jnp.zeros([], bool)
    no_signs = jnp.full_like(x0, 2.0)  # matches no sign pattern: no conjugate gradients at the first check
    c0 = (x0, x0, jnp.ones([], dtype), jnp.full([], jnp.inf, dtype), jnp.zeros([], jnp.int32), false, no_signs)
    x, _, _, _, it, _, _ = jax.lax.while_loop(lambda c: ~c[5], body, c0)
    return x, it


class _WSState(NamedTuple):
    w: jax.Array
    b: jax.Array
    info: _Info
    n_iter: jax.Array
    done: jax.Array
    stop: jax.Array


def _solve_ws(prob, pen, w0, b0, tol, max_iter, *, loss, form, fit_b, check_every, ws_size, batched=False):
    """Working-set solver: returns ``(w, b, gap, n_iter, converged)`` like :func:`_solve`.

    Each round chooses ``ws_size`` coordinates (:func:`_working_set`: the worst
    violations of the optimality conditions, then the nonzero coordinates, then
    the zero ones closest to their threshold), solves the problem restricted to
    them with the other coordinates held fixed, and checks the duality gap of the
    full problem.  The restricted problem is a dense quadratic of size
    ``ws_size``: the squared loss itself, or for other losses its second-order
    model at the current point followed by a backtracking line search
    (prox-Newton).  With ``ws_size < p`` a round is a block-coordinate step on a
    block that holds the worst violations, so the rounds converge even when the
    support is larger than ``ws_size`` (more slowly: choose it larger).
    """
    loss = get_loss(loss)
    kw = dict(loss=loss, form=form, fit_b=fit_b)
    dtype = w0.dtype
    p = w0.shape[0]
    k = min(ws_size, p)
    squared = loss.name == "squared"
    tol_abs = tol * prob.P0
    # the subproblem as a dense matrix when it is small or no larger than the data, else by products
    n = prob.y.shape[0]
    matrix_free = form == "data" and k + 1 > POLISH_MAX and n > 2 * k

    def subproblem(w, b, info):
        if k < p:
            W = _working_set(pen, w, info.v, prob.L, k)
            pen_W = pen.restrict(W)
        else:
            W, pen_W = None, pen
        take = (lambda a: a) if W is None else (lambda a: a[W])
        w_W = take(w)
        if form == "gram":
            if W is None:
                H, q = prob.A, prob.c
            else:
                G_W = prob.A[W]
                H = G_W[:, W]
                q = prob.c[W] - (G_W @ w - H @ w_W)
            return W, pen_W, H, q, w_W, None
        X_W = prob.A if W is None else prob.A[:, W]
        if squared:  # the restricted least-squares problem, exactly
            z_off = info.z - X_W @ w_W
            q = (prob.s * (prob.y - z_off)) @ X_W
            if matrix_free:
                return W, pen_W, lambda v: (prob.s * (X_W @ v)) @ X_W, q, w_W, None
            return W, pen_W, X_W.T @ (X_W * prob.s[:, None]), q, w_W, None
        # second-order model of the loss at z (prox-Newton), with the intercept as a free last coordinate
        h = loss.hess(prob.y, info.z, prob.s)
        g_W = take(info.v)
        A = jnp.concatenate([X_W, jnp.ones((X_W.shape[0], 1), dtype)], axis=1) if fit_b else X_W
        x0 = jnp.concatenate([w_W, b[None]]) if fit_b else w_W
        g = jnp.concatenate([g_W, jnp.zeros(1, dtype)]) if fit_b else g_W  # sum(u) = 0 at the refined b
        tiny = jnp.finfo(dtype).tiny
        if matrix_free:
            ridge = 1e-10 * jnp.max(h @ jnp.square(A)) + tiny
            hvp = lambda v: (h * (A @ v)) @ A + ridge * v
            return W, pen_W, hvp, hvp(x0) - g, x0, A
        H = A.T @ (A * h[:, None])
        H = H + jnp.eye(H.shape[0], dtype=dtype) * (1e-10 * jnp.max(jnp.diag(H)) + tiny)
        return W, pen_W, H, H @ x0 - g, x0, A

    def line_search(w, b, info, W, pen_W, x0, x, A):
        """Backtracking on the true objective along ``d = x - x0`` (Armijo on the model decrease)."""
        d = x - x0
        Ad = A @ d
        g = jnp.concatenate([info.v if W is None else info.v[W], jnp.zeros(1, dtype)]) if fit_b else (
            info.v if W is None else info.v[W])
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
        return x_new

    # batched lanes wait for the slowest one: there the looser ratio keeps rounds short
    inner_ratio = INNER_RATIO_QUADRATIC if (squared and not batched) else INNER_RATIO_NEWTON

    def solve_round(w, b, info, budget):
        """One working-set round from ``(w, b)``, whose gap and gradient are ``info``, of at most ``budget`` iterations.

        Under ``vmap`` (lanes of a path chunk) the round also runs for lanes that have stopped, whose
        result is then discarded: they get a budget of 0, so they do not hold the other lanes up.
        """
        # the inner tolerance follows the outer optimality (celer/skglm practice)
        kkt_out = _kkt(pen, w, info.v, prob.L, False)
        W, pen_W, H, q, x0, A = subproblem(w, b, info)
        L_sub = prob.L if ((W is None and form == "gram") or matrix_free) else None
        x, it = _quad_solve(H, q, x0, pen_W, inner_ratio * kkt_out, budget,
                            fit_b=fit_b and not squared, check_every=check_every, L=L_sub, batched=batched)
        if not squared:
            x = line_search(w, b, info, W, pen_W, x0, x, A)
        if fit_b and not squared:
            x, b = x[:-1], x[-1]
        w = x if W is None else w.at[W].set(x)
        # a round always costs at least one iteration, so max_iter bounds the loop
        return w, b, jnp.maximum(it, 1)

    def body(st):
        """The gap at the current point; then a round, unless it is small enough or ``max_iter`` is spent."""
        info = _gap(prob, pen, st.w, st.b, **kw)
        done = info.gap <= tol_abs
        stop = done | (st.n_iter >= max_iter)
        budget = jnp.where(stop, 0, max_iter - st.n_iter)
        w, b, it = jax.lax.cond(stop, lambda: (st.w, info.b, jnp.zeros([], jnp.int32)),
                                lambda: solve_round(st.w, info.b, info, budget))
        return _WSState(w, b, info, st.n_iter + it, done, stop)

    false = jnp.zeros([], bool)
    if batched:  # under vmap: a round, then the gap (a cond on a batched predicate becomes a select)
        def batched_body(st):
            # lanes that are done run too (their result is dropped): no budget, so they end at once
            w, b, it = solve_round(st.w, st.b, st.info, jnp.where(st.done, 0, max_iter - st.n_iter))
            info = _gap(prob, pen, w, b, **kw)
            return _WSState(w, info.b, info, st.n_iter + it, info.gap <= tol_abs, false)

        info0 = _gap(prob, pen, w0, b0, **kw)
        st = _WSState(w0, info0.b, info0, jnp.zeros([], jnp.int32), info0.gap <= tol_abs, false)
        st = jax.lax.while_loop(lambda st: ~st.done & (st.n_iter < max_iter), batched_body, st)
        return st.w, st.b, st.info.gap, st.n_iter, st.done

    z0 = jnp.zeros(0 if form == "gram" else n, dtype)
    info0 = _Info(jnp.full([], jnp.inf, dtype), b0, jnp.zeros_like(w0), z0)
    st = _WSState(w0, b0, info0, jnp.zeros([], jnp.int32), false, false)
    st = jax.lax.while_loop(lambda st: ~st.stop, body, st)
    return st.w, st.b, st.info.gap, st.n_iter, st.done


def _solve_any(prob, pen, w0, b0, tol, max_iter, *, loss, form, fit_b, check_every, ws_size, batched=False):
    """The working-set solver for separable L1-type penalties, plain FISTA for the others.

    ``w0`` and the returned coefficients are on the user's scale; the solve runs in the scaled
    coordinates of ``prob`` (``u = d * w``, the penalty ``pen.scaled(d)``) when the problem was scaled.
    """
    if scalable(pen):
        pen = pen.scaled(prob.d)
        w0 = w0 * prob.d
    if ws_size and _ws_supported(pen):
        out = _solve_ws(prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b,
                        check_every=check_every, ws_size=ws_size, batched=batched)
    else:
        out = _solve(prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b, check_every=check_every)
    w, b, gap, n_iter, conv = out
    return w / prob.d, b, gap, n_iter, conv


def default_ws_size(loss, n, p, form) -> int:
    """The working-set size used when ``ws_size=None``: every coordinate when the Gram form is used."""
    if form == "gram":
        return p
    return int(min(p, max(64, 1 << int(np.ceil(np.log2(max(min(n, p), 2)))))))


def _intercept_out(prob, w, b, fit_intercept, squared):
    if not fit_intercept:
        return jnp.zeros_like(b)
    if squared:
        return prob.y_mean - jnp.vdot(prob.x_mean, w)
    return b - jnp.vdot(prob.x_mean, w)


def _init_b(prob, loss, fit_b, w0):
    loss = get_loss(loss)
    if not fit_b:
        return jnp.zeros([], w0.dtype)
    return loss.intercept(prob.y, prob.A @ (w0 * prob.d), prob.s)


def _fit_impl(X, y, s, pen, w0, tol, max_iter, *, loss, fit_intercept, form, check_every, ws_size):
    loss_c = get_loss(loss)
    squared = loss_c.name == "squared"
    fit_b = fit_intercept and not squared
    prob = _prepare(X, y, s, loss=loss, fit_intercept=fit_intercept, form=form, scale=scalable(pen))
    b0 = _init_b(prob, loss, fit_b, w0) if form == "data" else jnp.zeros([], X.dtype)
    w, b, gap, n_iter, conv = _solve_any(
        prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b, check_every=check_every,
        ws_size=ws_size,
    )
    return FitResult(w, _intercept_out(prob, w, b, fit_intercept, squared), gap, n_iter, conv)


def float0_zeros(x):
    """A zero tangent for an integer or boolean output."""
    return np.zeros(np.shape(x), dtype=jax.dtypes.float0)


_CFG = ("loss", "fit_intercept", "form", "check_every", "ws_size")


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _fit_diff(cfg, X, y, s, pen, w0, tol, max_iter):
    return _fit_impl(X, y, s, pen, w0, tol, max_iter, **dict(zip(_CFG, cfg)))


@_fit_diff.defjvp
def _fit_diff_jvp(cfg, primals, tangents):
    """Implicit differentiation at the solution (see :mod:`jaxl1.implicit`); the loop is not differentiated."""
    X, y, s, pen, w0, tol, max_iter = primals
    dX, dy, ds, dpen = tangents[:4]
    kw = dict(zip(_CFG, cfg))
    res = _fit_impl(X, y, s, pen, w0, tol, max_iter, **kw)
    dw, db = solution_tangent(res.coef, res.intercept, X, y, s, pen, dX, dy, ds, dpen,
                              loss=kw["loss"], fit_intercept=kw["fit_intercept"])
    tangent = FitResult(dw, db, jnp.zeros_like(res.gap), float0_zeros(res.n_iter), float0_zeros(res.converged))
    return res, tangent


@partial(jit, static_argnames=_CFG)
def _fit_jit(X, y, s, pen, w0, tol, max_iter, *, loss, fit_intercept, form, check_every, ws_size):
    return _fit_diff((loss, fit_intercept, form, check_every, ws_size), X, y, s, pen, w0, tol, max_iter)


# --------------------------------------------------------------------------- #
# validation at the public boundary
# --------------------------------------------------------------------------- #
def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def _as_float_array(name, x, dtype=None):
    x = x if isinstance(x, jax.Array) else np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
    if dtype is None:
        dtype = x.dtype if x.dtype.kind == "f" else jnp.result_type(float)
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    return jnp.asarray(x, dtype=dtype)


def _check_finite(name, x):
    if _concrete(x) and not bool(np.all(np.isfinite(np.asarray(x)))):
        raise ValueError(f"{name} contains NaN or infinity")


def validate_data(X, y, sample_weight, loss):
    """Check and convert ``X``, ``y`` and ``sample_weight``; return ``(X, y, s)`` with ``s`` normalized.

    Raises ``ValueError`` naming the argument.  Value checks run only on concrete
    inputs (under a user's ``jit`` the shapes are still checked).
    """
    loss = get_loss(loss)
    X, y, sample_weight = _validation.prepare_inputs(X, y, sample_weight)
    if isinstance(X, jax.core.Tracer) or isinstance(X, jax.Array):
        Xdt = X.dtype
    else:
        X = np.asarray(X)
        Xdt = X.dtype
    if len(np.shape(X)) != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {np.shape(X)}")
    if Xdt.kind not in "fiub" if hasattr(Xdt, "kind") else False:
        raise ValueError(f"X must be numeric, got dtype {Xdt}")
    dtype = jnp.dtype(Xdt) if jnp.issubdtype(Xdt, jnp.floating) else jnp.dtype(float)
    if dtype not in (jnp.float32, jnp.float64):
        dtype = jnp.dtype(float)
    dtype = jax.dtypes.canonicalize_dtype(dtype)
    n, p = np.shape(X)
    if n < 1 or p < 1:
        raise ValueError(f"X must have at least one sample and one feature, got shape {(n, p)}")
    if np.ndim(y) != 1:
        raise ValueError(f"y must be 1-D, got shape {np.shape(y)}")
    if np.shape(y)[0] != n:
        raise ValueError(f"X and y have inconsistent numbers of samples: {n} and {np.shape(y)[0]}")
    X = _as_float_array("X", X, dtype)
    y = _as_float_array("y", y, dtype)
    _check_finite("X", X)
    _check_finite("y", y)
    if _concrete(y):
        loss.validate_y(np.asarray(y))
    if sample_weight is None:
        s = jnp.asarray(np.full(n, 1.0 / n, dtype))  # built by numpy: an eager jnp.full compiles per n
    else:
        sw = _as_float_array("sample_weight", sample_weight, dtype)
        if sw.ndim == 0:
            sw = jnp.full(n, sw, dtype)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
        _check_finite("sample_weight", sw)
        if _concrete(sw):
            swn = np.asarray(sw)
            if np.any(swn < 0):
                raise ValueError("sample_weight must be non-negative")
            if not swn.sum() > 0:
                raise ValueError("sample_weight must have a positive sum")
        s = sw / jnp.sum(sw)
    return X, y, s


def _check_tol_iter(tol, max_iter, dtype):
    if tol is None:
        tol = default_tol(dtype)
    if _concrete(tol) and not (np.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite non-negative number, got {tol!r}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative integer, got {max_iter!r}")
    if max_iter > MAX_ITER_LIMIT:
        raise ValueError(f"max_iter must be at most {MAX_ITER_LIMIT}, got {max_iter!r}")
    return tol


MAX_ITER_LIMIT = 2**31 - 1024  # iteration counts are int32; room for the sums in the loop tests


def _check_penalty(penalty, p):
    if not (hasattr(penalty, "prox") and hasattr(penalty, "value")):
        raise ValueError(f"penalty must be a jaxl1 penalty (with value and prox), got {penalty!r}")
    w = weights = getattr(penalty, "weights", None)
    if weights is not None and np.shape(w) != (p,):
        raise ValueError(f"penalty weights must have shape ({p},), got {np.shape(w)}")


def _check_ws_size(ws_size, loss, n, p, form):
    if ws_size is None:
        return default_ws_size(loss, n, p, form)
    if not isinstance(ws_size, (int, np.integer)) or ws_size < 0:
        raise ValueError(f"ws_size must be a non-negative integer or None, got {ws_size!r}")
    return int(min(ws_size, p))


def _arg(x, dtype):
    """``x`` as an array of ``dtype`` for a jitted call: by numpy when concrete, as eager ``jnp``
    conversions each compile a small program on first use."""
    if isinstance(x, (jax.core.Tracer, jax.Array)):
        return jnp.asarray(x, dtype)
    return np.asarray(x, dtype)


def _init_coef(init, p, dtype):
    if init is None:
        return np.zeros(p, dtype)
    if isinstance(init, FitResult):
        init = init.coef
    elif isinstance(init, tuple):
        init = init[0]
    w0 = jnp.asarray(init, dtype)
    if w0.shape != (p,):
        raise ValueError(f"init must have shape ({p},), got {w0.shape}")
    _check_finite("init", w0)
    return w0


def fit(
    X,
    y,
    penalty,
    loss: str = "squared",
    fit_intercept: bool = True,
    sample_weight=None,
    tol: float | None = None,
    max_iter: int = 20_000,
    init=None,
    *,
    form: str = "auto",
    check_every: int = 10,
    ws_size: int | None = None,
) -> FitResult:
    r"""Fit a penalized linear model by accelerated proximal gradient.

    Minimizes :math:`\sum_i s_i\,\ell(y_i, x_i^\top w + b) + P(w)` with
    :math:`s_i` the normalized sample weights (:math:`1/n` by default), so for the
    squared loss and ``L1(alpha)`` this is scikit-learn's
    ``Lasso(alpha=alpha)`` objective :math:`\frac{1}{2n}\|y - Xw - b\|^2 + \alpha\|w\|_1`,
    and for the logistic loss (labels in {0, 1}) it is
    ``LogisticRegression(penalty="l1", C=1 / (n * alpha))`` rescaled by :math:`1/n`.
    The intercept is never penalized.

    Args:
      X: ``(n, p)`` design matrix.
      y: ``(n,)`` targets (labels in {0, 1} for ``loss="logistic"``).
      penalty: a penalty from :mod:`jaxl1.penalties` (``L1``, ``ElasticNet``, ...).
      loss: ``"squared"`` or ``"logistic"``.
      fit_intercept: fit an unpenalized intercept.
      sample_weight: optional ``(n,)`` non-negative weights (weighted means).
      tol: stop when the duality gap is at most ``tol * P0``, ``P0`` the objective
        at ``w = 0`` with the intercept at its optimum.  Default ``1e-6`` in float64,
        ``1e-4`` in float32.
      max_iter: the most iterations (proximal-gradient and conjugate-gradient steps).
      init: optional starting coefficients (``(p,)`` array or a ``FitResult``).
      form: ``"auto"`` (the Gram matrix for the squared loss when ``n >= p``),
        ``"gram"`` or ``"data"``.
      check_every: iterations between duality-gap evaluations.
      ws_size: working-set size for L1-type penalties (``L1``, ``ElasticNet``,
        ``NonNegativeL1``): each round solves a dense subproblem on this many
        coordinates (prox-Newton for the logistic loss). ``None`` picks it from
        the shapes (all coordinates in the Gram form); ``0`` turns working sets off.

    Returns:
      A :class:`FitResult` with ``coef``, ``intercept``, ``gap``, ``n_iter``,
      ``converged`` and ``status``; ``converged`` is ``False`` when ``max_iter`` was
      reached, and then (with concrete inputs) a :class:`ConvergenceWarning` is emitted.

    Raises:
      ValueError: bad shapes, NaN/inf, negative weights, unknown ``loss``, labels
        outside {0, 1} for the logistic loss, a single class among the samples of
        positive weight (logistic), a negative ``tol``, a bool for a number, values
        of ``X`` or ``y`` beyond what the solver handles in their dtype (about 1e151
        in float64 and 1e16 in float32; 1e75 and 4e7 for a penalty without
        ``scaled``, such as ``GroupL1``).  A hyperparameter of the wrong type raises
        :class:`jaxl1.InvalidParameterError`, both a ``ValueError`` and a ``TypeError``.

    Examples:
      >>> import numpy as np, jaxl1
      >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
      >>> y = np.array([1.0, 0.0, 1.0, 2.0])
      >>> res = jaxl1.fit(X, y, jaxl1.L1(0.1))
      >>> res.coef.round(3), bool(res.converged)
      (Array([0.8, 0. ], dtype=float32), True)
    """
    X, y, s = validate_data(X, y, sample_weight, loss)
    n, p = X.shape
    _validation.reject_bools(tol=tol, max_iter=max_iter, ws_size=ws_size)
    tol = _check_tol_iter(tol, max_iter, X.dtype)
    _check_penalty(penalty, p)
    check_every = _validation.check_positive_int("check_every", check_every)
    _validation.check_magnitude(X, y, scaled=scalable(penalty))
    _validation.check_two_classes(y, s, get_loss(loss).name)
    form = _choose_form(loss, n, p, form)
    ws_size = _check_ws_size(ws_size, loss, n, p, form)
    w0 = _init_coef(init, p, X.dtype)
    penalty = jax.tree.map(lambda a: _arg(a, X.dtype), penalty)
    res = _fit_jit(
        X, y, s, penalty, w0, _arg(tol, X.dtype), _arg(max_iter, np.int32),
        loss=get_loss(loss).name, fit_intercept=bool(fit_intercept), form=form, check_every=check_every,
        ws_size=ws_size,
    )
    warn_if_stopped("jaxl1.fit", res.status, max_iter)
    return res

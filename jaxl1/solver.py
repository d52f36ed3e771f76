r"""``fit``: accelerated proximal gradient certified by a duality gap.

The problem is

.. math:: \min_{w,\,b}\; F(Xw + b) + P(w)

with :math:`F` a loss from :mod:`jaxl1.losses` (a weighted mean over samples) and
:math:`P` a penalty from :mod:`jaxl1.penalties`.  The solver is FISTA with
O'Donoghue–Candès gradient restart and a fixed step :math:`1/L`, :math:`L` a
Lipschitz bound of the gradient from power iteration.  Every ``check_every``
iterations it builds a dual point by rescaling the gradient of the loss (as
scikit-learn and celer do) and stops when the duality gap is at most
``tol * P0``, ``P0`` the objective at :math:`w = 0` with the intercept at its optimum.

Two forms of the smooth part are used, chosen by ``form="auto"``:

* ``"gram"`` (squared loss, ``n >= p``): the data enter through
  :math:`G = X_c^\top S X_c` and :math:`c = X_c^\top S y_c` (centred when an
  intercept is fitted, so the intercept leaves the iteration); an iteration costs
  :math:`p^2`.
* ``"data"``: the iteration multiplies by :math:`X` and :math:`X^\top` (cost :math:`np`).

Everything here is pure and jit-compiled once per shape, static options and
penalty type: new strengths, data or initial points of the same shapes reuse the
compiled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .losses import get_loss

__all__ = ["FitResult", "fit", "default_tol"]

PyTree = Any


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
      n_iter: the number of proximal-gradient iterations taken.
      converged: ``gap <= tol * P0`` was reached before ``max_iter``.
    """

    coef: jax.Array
    intercept: jax.Array
    gap: jax.Array
    n_iter: jax.Array
    converged: jax.Array

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


def _power_iteration(matvec, v0, n_iter=50):
    """Largest eigenvalue of a PSD operator (Rayleigh quotient after ``n_iter`` steps)."""

    def body(v, _):
        mv = matvec(v)
        return mv / jnp.maximum(jnp.linalg.norm(mv), jnp.finfo(mv.dtype).tiny), None

    v, _ = jax.lax.scan(body, v0 / jnp.linalg.norm(v0), None, length=n_iter)
    return jnp.vdot(v, matvec(v))


def _start_vector(p, dtype):
    return jax.random.normal(jax.random.PRNGKey(0), (p,), dtype) + 1.0


_L_SAFETY = 1.05  # the Rayleigh quotient underestimates the top eigenvalue slightly


def _prepare(X, y, s, *, loss, fit_intercept, form):
    """Centre, build the Gram matrix if asked, and bound the Lipschitz constant."""
    loss = get_loss(loss)
    dtype = X.dtype
    p = X.shape[1]
    zero = jnp.zeros([], dtype)
    squared = loss.name == "squared"
    if squared and fit_intercept:
        x_mean = s @ X
        y_mean = s @ y
        Xc, yc = X - x_mean, y - y_mean
    else:
        x_mean, y_mean, Xc, yc = jnp.zeros(p, dtype), zero, X, y
    if form == "gram":
        Xs = Xc * s[:, None]
        A = Xc.T @ Xs
        c = Xs.T @ yc
        yy = 0.5 * jnp.sum(s * yc * yc)
        L = _power_iteration(lambda v: A @ v, _start_vector(p, dtype)) * _L_SAFETY
        return _Problem(A, c, yc, s, yy, x_mean, y_mean, L, yy)
    fit_b = fit_intercept and not squared
    if fit_b:
        def op(v):
            z = Xc @ v[:-1] + v[-1]
            return jnp.concatenate([Xc.T @ (s * z), jnp.sum(s * z)[None]])

        L0 = _power_iteration(op, _start_vector(p + 1, dtype))
        b0 = loss.intercept(yc, jnp.zeros_like(yc), s)
    else:
        L0 = _power_iteration(lambda v: Xc.T @ (s * (Xc @ v)), _start_vector(p, dtype))
        b0 = zero
    L = loss.curvature * L0 * _L_SAFETY
    P0 = loss.value(yc, jnp.zeros_like(yc) + b0, s)
    return _Problem(Xc, jnp.zeros(p, dtype), yc, s, zero, x_mean, y_mean, L, P0)


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
    return prob.A.T @ u, (jnp.sum(u) if fit_b else jnp.zeros_like(b))


def _free_term(pen, w, v, L):
    """Correction for unpenalized coordinates, whose dual constraint ``v_j = 0`` no rescaling meets.

    ``P - D`` splits into per-coordinate Fenchel-Young terms ``P_j(w_j) + P_j^*(-v_j) + v_j w_j``; for a
    free coordinate ``P_j^*`` is the indicator of ``v_j = 0``, so its term is replaced by ``v_j^2 / L``,
    the decrease a gradient step on that coordinate could still make.
    """
    free = pen.free(w)
    return jnp.sum(jnp.where(free, v * v / L - v * w, 0.0))


def _gap(prob, pen, w, b, *, loss, form, fit_b):
    """Duality gap at ``(w, b)``; returns ``(gap, primal, b)`` with ``b`` refined to its optimum."""
    if form == "gram":
        Gw = prob.A @ w
        v = Gw - prob.c
        f = 0.5 * jnp.vdot(w, Gw) - jnp.vdot(w, prob.c) + prob.yy
        sigma = jnp.maximum(1.0, pen.dual_norm(-v))
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
        v = prob.A.T @ u
        sigma = jnp.maximum(1.0, pen.dual_norm(-v))
        u = loss.project_dual(prob.y, u / sigma, prob.s)
        dual = -loss.conjugate(prob.y, u, prob.s) - pen.conjugate(-v / sigma)
    primal = f + pen.value(w)
    gap = primal - dual + _free_term(pen, w, v, prob.L)
    return jnp.maximum(gap, 0.0), primal, b


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


def _solve(prob, pen, w0, b0, tol, max_iter, *, loss, form, fit_b, check_every):
    """One problem from ``(w0, b0)``: returns ``(w, b, gap, n_iter, converged)``.

    Vmapped over penalties (a path) the loop runs until every lane is done; done
    lanes are frozen by the batching rule of ``while_loop``.
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

    def cond(st):
        return ~st.done & (st.n_iter < max_iter)

    def body(st):
        (w, b, yw, yb, t), _ = jax.lax.scan(
            fista_step, (st.w, st.b, st.yw, st.yb, st.t), None, length=check_every
        )
        gap, _, b = _gap(prob, pen, w, b, **kw)
        yb = yb if not fit_b else b  # keep the refined intercept
        return _State(w, b, yw, yb, t, st.n_iter + check_every, gap, gap <= tol_abs)

    gap0, _, b0 = _gap(prob, pen, w0, b0, **kw)
    one = jnp.ones([], dtype)
    st = _State(w0, b0, w0, b0, one, jnp.zeros([], jnp.int32), gap0, gap0 <= tol_abs)
    st = jax.lax.while_loop(cond, body, st)
    return st.w, st.b, st.gap, st.n_iter, st.done


def _intercept_out(prob, w, b, fit_intercept, squared):
    if not fit_intercept:
        return jnp.zeros_like(b)
    if squared:
        return prob.y_mean - jnp.vdot(prob.x_mean, w)
    return b


def _init_b(prob, loss, fit_b, w0):
    loss = get_loss(loss)
    if not fit_b:
        return jnp.zeros([], w0.dtype)
    return loss.intercept(prob.y, prob.A @ w0, prob.s)


@partial(jax.jit, static_argnames=("loss", "fit_intercept", "form", "check_every"))
def _fit_jit(X, y, s, pen, w0, tol, max_iter, *, loss, fit_intercept, form, check_every):
    loss_c = get_loss(loss)
    squared = loss_c.name == "squared"
    fit_b = fit_intercept and not squared
    prob = _prepare(X, y, s, loss=loss, fit_intercept=fit_intercept, form=form)
    b0 = _init_b(prob, loss, fit_b, w0) if form == "data" else jnp.zeros([], X.dtype)
    w, b, gap, n_iter, conv = _solve(
        prob, pen, w0, b0, tol, max_iter, loss=loss, form=form, fit_b=fit_b, check_every=check_every
    )
    return FitResult(w, _intercept_out(prob, w, b, fit_intercept, squared), gap, n_iter, conv)


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
        s = jnp.full(n, 1.0 / n, dtype)
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
    return tol


def _check_penalty(penalty, p):
    if not (hasattr(penalty, "prox") and hasattr(penalty, "value")):
        raise ValueError(f"penalty must be a jaxl1 penalty (with value and prox), got {penalty!r}")
    w = weights = getattr(penalty, "weights", None)
    if weights is not None and np.shape(w) != (p,):
        raise ValueError(f"penalty weights must have shape ({p},), got {np.shape(w)}")


def _init_coef(init, p, dtype):
    if init is None:
        return jnp.zeros(p, dtype)
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
      max_iter: the most proximal-gradient iterations.
      init: optional starting coefficients (``(p,)`` array or a ``FitResult``).
      form: ``"auto"`` (the Gram matrix for the squared loss when ``n >= p``),
        ``"gram"`` or ``"data"``.
      check_every: iterations between duality-gap evaluations.

    Returns:
      A :class:`FitResult` with ``coef``, ``intercept``, ``gap``, ``n_iter`` and
      ``converged``; ``converged`` is ``False`` when ``max_iter`` was reached.

    Raises:
      ValueError: bad shapes, NaN/inf, negative weights, unknown ``loss``, labels
        outside {0, 1} for the logistic loss, a negative ``tol``.

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
    tol = _check_tol_iter(tol, max_iter, X.dtype)
    _check_penalty(penalty, p)
    if not isinstance(check_every, int) or check_every < 1:
        raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
    form = _choose_form(loss, n, p, form)
    w0 = _init_coef(init, p, X.dtype)
    penalty = jax.tree.map(lambda a: jnp.asarray(a, X.dtype), penalty)
    return _fit_jit(
        X, y, s, penalty, w0, jnp.asarray(tol, X.dtype), jnp.asarray(max_iter, jnp.int32),
        loss=get_loss(loss).name, fit_intercept=bool(fit_intercept), form=form, check_every=check_every,
    )

r"""Penalties and their proximal operators.

Every penalty is a frozen dataclass registered as a pytree whose hyperparameters
(``strength``, ``weights``, ``alpha``, ``l1_ratio``) are *data*, so ``jax.vmap``
over a strength, ``jax.grad`` with respect to it and ``jax.jit`` without
retracing all work.  Each penalty has

* ``value(w)``: the penalty of an array or of any pytree of arrays (summed over
  leaves);
* ``prox(w, step)``: :math:`\operatorname{argmin}_z \tfrac12\|z - w\|^2 + \text{step}\,P(z)`,
  exact, leaf by leaf, keeping each leaf's dtype;
* the pieces the solver needs for its duality gap: ``dual_norm(v)`` (the gauge of
  the set where the conjugate :math:`P^*` is finite; ``0`` when it is finite
  everywhere), ``conjugate(v)`` (the finite part of :math:`P^*(v)`), and
  ``free(w)`` (a boolean pytree marking the unpenalized coordinates).

The solvers ask a penalty for what they need and never for its class.  Every
penalty also has ``dual_free(w, v)`` (the coordinates whose dual constraint no
rescaling of the gradient ``v`` can meet) and the class attribute ``sparse``
(its solutions have exact zeros, so working sets apply).  The separable
penalties (``L1``, ``L2``, ``ElasticNet``, ``NonNegativeL1``) add, on a 1-D
coefficient vector:

* ``coordinate_parts(p, dtype)``: ``(tau, mu)``, per-coordinate L1 thresholds
  and L2 curvatures, so that on a fixed support and signs the penalty is
  :math:`\sum_j \tau_j\,\mathrm{sign}(w_j)\,w_j + \tfrac12\mu_j w_j^2`;
* ``screen(w, v)``: a working-set priority (infinite for coordinates that must
  be in, else how close :math:`|v_j|` is to its threshold);
* ``restrict(idx)``: the same penalty on the coordinates ``idx``;
* ``scaled(d)``: the penalty of :math:`u = d \odot w`, :math:`P(u / d)`
  (a :class:`ColumnScaled`), with which a solver works on columns scaled to
  unit norm and maps the solution back exactly.

The group penalties (``GroupL1`` with ``groups``, ``SparseGroupL1``) add, for
working sets of whole groups: ``group_ids()`` (the static group id of every
coordinate), ``group_factors(dtype)``, ``group_screen(w, v)`` (a per-group
priority, infinite for nonzero groups) and ``restrict_groups(sel, size)`` (the
penalty on the groups ``sel``, each laid out in ``size`` slots).

A penalty defined outside the package that has these methods is solved like
the built-in ones.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import check_hyperparameter, concrete

__all__ = [
    "soft_threshold",
    "L1",
    "L2",
    "ElasticNet",
    "NonNegativeL1",
    "GroupL1",
    "SparseGroupL1",
    "L21",
    "MCP",
    "SCAD",
    "ColumnScaled",
]

PyTree = Any


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _check_scalar_or_array(name: str, value, *, lo: float | None = 0.0, hi: float | None = None) -> None:
    """Raise naming ``name`` unless ``value`` is a number or numeric array, finite and in range when concrete."""
    check_hyperparameter(name, value, lo=lo, hi=hi)


def _check_weights(weights) -> None:
    for leaf in jax.tree.leaves(weights):
        _check_scalar_or_array("weights", leaf, lo=0.0)


def _leafsum(tree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.zeros([])
    return sum(jnp.sum(leaf) for leaf in leaves)


def _leafmax(tree) -> jax.Array:
    leaves = [jnp.max(leaf) if leaf.size else jnp.zeros([], leaf.dtype) for leaf in jax.tree.leaves(tree)]
    if not leaves:
        return jnp.zeros([])
    out = leaves[0]
    for leaf in leaves[1:]:
        out = jnp.maximum(out, leaf)
    return out


def _float(x):
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.inexact) else x.astype(jnp.result_type(float))


def _thresholds(strength, weights, w):
    """Per-leaf thresholds ``strength * weights`` broadcast against the leaves of ``w``."""
    if weights is None:
        return jax.tree.map(lambda leaf: strength, w)
    w_struct = jax.tree.structure(w)
    weights_leaves = jax.tree.leaves(weights)
    if len(weights_leaves) != w_struct.num_leaves:
        raise ValueError(
            f"weights must have the same pytree structure as the parameters: {len(weights_leaves)} leaves "
            f"for {w_struct.num_leaves}"
        )
    out = []
    for wl, leaf in zip(weights_leaves, jax.tree.leaves(w)):
        if jnp.shape(wl) != jnp.shape(leaf):
            raise ValueError(f"weights must match the parameters' shape: got {jnp.shape(wl)} for {jnp.shape(leaf)}")
        out.append(strength * wl)
    return jax.tree.unflatten(w_struct, out)


def _pytree_dataclass(data_fields, meta_fields=()):
    """Register a frozen dataclass as a pytree whose unflattening skips ``__post_init__``.

    The constructor is the public boundary and validates its arguments; JAX rebuilds
    penalties from other leaves (cotangents of ``jax.grad`` with respect to a
    penalty, batched or abstract values), which are not hyperparameters and must
    not be checked.
    """

    def wrap(cls):
        def flatten_with_keys(obj):
            children = [(jax.tree_util.GetAttrKey(k), getattr(obj, k)) for k in data_fields]
            return children, tuple(getattr(obj, k) for k in meta_fields)

        def flatten(obj):
            return [getattr(obj, k) for k in data_fields], tuple(getattr(obj, k) for k in meta_fields)

        def unflatten(meta, children):
            obj = object.__new__(cls)
            for k, v in zip(data_fields, children, strict=True):
                object.__setattr__(obj, k, v)
            for k, v in zip(meta_fields, meta, strict=True):
                object.__setattr__(obj, k, v)
            return obj

        jax.tree_util.register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
        return cls

    return wrap


def _safe_ratio(num, den):
    """``num / den`` where ``den > 0`` and ``0`` elsewhere, with finite gradients."""
    pos = den > 0
    return jnp.where(pos, num / jnp.where(pos, den, 1.0), 0.0)


def _screen_score(tau, a, w, free):
    """Working-set priority: infinite for nonzero or ``free`` coordinates, else ``a_j / tau_j``."""
    ratio = jnp.where(tau > 0, a / jnp.where(tau > 0, tau, 1.0), 0.0)
    return jnp.where((w != 0) | free, jnp.inf, ratio)


def _symmetric_screen(pen, w, v):
    """``screen`` of a penalty symmetric in each coordinate: ``|v_j| / tau_j``, unpenalized ones first."""
    tau, _ = pen.coordinate_parts(w.shape[0], w.dtype)
    return _screen_score(tau, jnp.abs(v), w, tau <= 0)


def _restrict_vector(x, idx):
    """``x[idx]`` for a per-coordinate array, ``x`` itself for a scalar (or ``None``)."""
    if x is None or jnp.ndim(x) == 0:
        return x
    return jnp.asarray(x)[idx]


def soft_threshold(x: jax.typing.ArrayLike, threshold: jax.typing.ArrayLike) -> jax.Array:
    r"""Elementwise soft-thresholding :math:`\operatorname{sign}(x)\max(|x| - t, 0)`.

    The proximal operator of :math:`t\|x\|_1`.  It is computed as
    ``x - clip(x, -t, t)`` so it returns exact zeros, never increases ``|x|``,
    keeps the sign of ``x`` and has a finite gradient everywhere (``0`` inside
    the dead zone, ``1`` outside).  The threshold broadcasts against ``x`` and is
    cast to ``x``'s dtype.

    Args:
      x: array of any shape.
      threshold: non-negative scalar or array broadcastable to ``x``.

    Returns:
      An array with ``x``'s shape and (floating) dtype.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> jaxl1.soft_threshold(jnp.array([-2.0, 0.5, 3.0]), 1.0)
      Array([-1.,  0.,  2.], dtype=float32)
    """
    x = _float(x)
    t = jnp.asarray(threshold, dtype=x.dtype)
    return x - jnp.clip(x, -t, t)


# --------------------------------------------------------------------------- #
# penalties
# --------------------------------------------------------------------------- #
@_pytree_dataclass(["strength", "weights"])
@dataclass(frozen=True)
class L1:
    r"""Lasso penalty :math:`P(w) = \lambda \sum_j c_j |w_j|`, summed over every leaf of ``w``.

    ``weights`` (:math:`c_j`, glmnet's *penalty factors*) default to one; a weight of
    zero leaves that coordinate unpenalized.  ``weights`` has the structure and
    shapes of the parameters.

    Args:
      strength: :math:`\lambda \ge 0`, scikit-learn's ``Lasso(alpha=...)``.
      weights: optional non-negative per-coordinate factors.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> pen = jaxl1.L1(0.01)
      >>> round(float(pen.value(jnp.array([0.5, -0.3, 0.0, 1.2]))), 6)
      0.02
      >>> jaxl1.L1(1.0).prox(jnp.array([-2.0, 0.5, 3.0]), step=1.0)
      Array([-1.,  0.,  2.], dtype=float32)
    """

    strength: jax.typing.ArrayLike
    weights: PyTree = None

    def __post_init__(self):
        _check_scalar_or_array("strength", self.strength)
        _check_weights(self.weights)

    def _tau(self, w):
        return _thresholds(self.strength, self.weights, w)

    def value(self, w: PyTree) -> jax.Array:
        return _leafsum(jax.tree.map(lambda leaf, t: t * jnp.abs(leaf), w, self._tau(w)))

    def prox(self, w: PyTree, step: jax.typing.ArrayLike) -> PyTree:
        return jax.tree.map(lambda leaf, t: soft_threshold(leaf, step * t), w, self._tau(w))

    def dual_norm(self, v: PyTree) -> jax.Array:
        return _leafmax(jax.tree.map(lambda leaf, t: _safe_ratio(jnp.abs(leaf), t + 0 * leaf), v, self._tau(v)))

    def conjugate(self, v: PyTree) -> jax.Array:
        return jnp.zeros([], jnp.result_type(*jax.tree.leaves(v)))

    def free(self, w: PyTree) -> PyTree:
        return jax.tree.map(lambda leaf, t: jnp.broadcast_to(t, leaf.shape) <= 0, w, self._tau(w))

    # the solver protocol (a 1-D coefficient vector)
    sparse = True

    def dual_free(self, w, v):
        return self.free(w)

    def coordinate_parts(self, p, dtype):
        ones = jnp.ones(p, dtype)
        tau = self.strength * (ones if self.weights is None else self.weights)
        return jnp.broadcast_to(tau, (p,)).astype(dtype), jnp.zeros(p, dtype)

    screen = _symmetric_screen

    def restrict(self, idx):
        return _rebuild(self, strength=_restrict_vector(self.strength, idx),
                        weights=_restrict_vector(self.weights, idx))

    def with_strength(self, strength):
        return dataclasses.replace(self, strength=strength)

    def max_strength(self, g):
        """The smallest ``strength`` at which ``w = 0`` is optimal, ``g`` the loss's gradient at ``w = 0``
        (coordinates with weight 0 are left out: they are free)."""
        c = jnp.ones_like(g) if self.weights is None else jnp.asarray(self.weights, g.dtype)
        return jnp.maximum(jnp.max(jnp.where(c > 0, jnp.abs(g) / jnp.where(c > 0, c, 1.0), 0.0)), 0.0)

    def scaled(self, d):
        return ColumnScaled(self, d)


@_pytree_dataclass(["strength"])
@dataclass(frozen=True)
class L2:
    r"""Squared-norm penalty :math:`P(w) = \lambda \sum_j w_j^2` (no factor 1/2).

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> jaxl1.L2(0.5).prox(jnp.array([2.0, -4.0]), step=1.0)
      Array([ 1., -2.], dtype=float32)
    """

    strength: jax.typing.ArrayLike

    def __post_init__(self):
        _check_scalar_or_array("strength", self.strength)

    def value(self, w: PyTree) -> jax.Array:
        return self.strength * _leafsum(jax.tree.map(jnp.square, w))

    def prox(self, w: PyTree, step: jax.typing.ArrayLike) -> PyTree:
        return jax.tree.map(lambda leaf: (leaf / (1 + 2 * step * self.strength)).astype(_float(leaf).dtype), w)

    def dual_norm(self, v: PyTree) -> jax.Array:
        return jnp.zeros([], jnp.result_type(*jax.tree.leaves(v)))

    def conjugate(self, v: PyTree) -> jax.Array:
        # P*(v) = ||v||^2 / (4 lambda); the coordinates are free when lambda = 0.
        return _safe_ratio(_leafsum(jax.tree.map(jnp.square, v)), 4 * self.strength)

    def free(self, w: PyTree) -> PyTree:
        return jax.tree.map(lambda leaf: jnp.broadcast_to(self.strength <= 0, leaf.shape), w)

    # the solver protocol (a 1-D coefficient vector)
    sparse = False

    def dual_free(self, w, v):
        return self.free(w)

    def coordinate_parts(self, p, dtype):
        return jnp.zeros(p, dtype), jnp.broadcast_to(2 * self.strength, (p,)).astype(dtype)

    def screen(self, w, v):
        return jnp.full(w.shape, jnp.inf, w.dtype)

    def restrict(self, idx):
        return _rebuild(self, strength=_restrict_vector(self.strength, idx))

    def with_strength(self, strength):
        return dataclasses.replace(self, strength=strength)

    def scaled(self, d):
        return ColumnScaled(self, d)


@_pytree_dataclass(["alpha", "l1_ratio", "weights"])
@dataclass(frozen=True)
class ElasticNet:
    r"""Elastic net in scikit-learn's parameterisation, with glmnet's penalty factors.

    .. math:: P(w) = \sum_j c_j\,\bigl(\alpha\,\rho\,|w_j| + \tfrac12\,\alpha\,(1-\rho)\,w_j^2\bigr),
              \qquad \rho = \texttt{l1\_ratio} \in [0, 1].

    ``weights`` (:math:`c_j \ge 0`, default one) multiply the whole penalty of a coordinate, as
    glmnet's ``penalty.factor`` does; a weight of zero leaves that coordinate free.  ``weights``
    has the structure and shapes of the parameters.  ``ElasticNet(alpha, 1.0)`` is ``L1(alpha)``;
    ``ElasticNet(alpha, 0.0)`` is ``L2(alpha / 2)``.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> jaxl1.ElasticNet(alpha=1.0, l1_ratio=0.5).prox(jnp.array([3.0, 0.2]), step=1.0)
      Array([1.6666666, 0.       ], dtype=float32)
      >>> jaxl1.ElasticNet(1.0, 0.5, weights=jnp.array([0.0, 2.0])).prox(jnp.array([3.0, 3.0]), step=1.0)
      Array([3., 1.], dtype=float32)
    """

    alpha: jax.typing.ArrayLike
    l1_ratio: jax.typing.ArrayLike = 0.5
    weights: PyTree = None

    def __post_init__(self):
        _check_scalar_or_array("alpha", self.alpha)
        _check_scalar_or_array("l1_ratio", self.l1_ratio, lo=0.0, hi=1.0)
        _check_weights(self.weights)

    @property
    def _l1(self):
        return self.alpha * self.l1_ratio

    @property
    def _mu(self):
        return self.alpha * (1 - self.l1_ratio)

    def _c(self, w):
        """Per-leaf penalty factors broadcast against the leaves of ``w`` (``1`` without weights)."""
        return _thresholds(1.0, self.weights, w)

    def value(self, w: PyTree) -> jax.Array:
        per_leaf = jax.tree.map(lambda leaf, c: c * (self._l1 * jnp.abs(leaf) + 0.5 * self._mu * jnp.square(leaf)),
                                w, self._c(w))
        return _leafsum(per_leaf)

    def prox(self, w: PyTree, step: jax.typing.ArrayLike) -> PyTree:
        def one(leaf, c):
            leaf = _float(leaf)
            out = soft_threshold(leaf, step * self._l1 * c) / (1 + step * self._mu * c)
            return out.astype(leaf.dtype)

        return jax.tree.map(one, w, self._c(w))

    def dual_norm(self, v: PyTree) -> jax.Array:
        ratio = _leafmax(jax.tree.map(lambda leaf, c: _safe_ratio(jnp.abs(leaf), self._l1 * c + 0 * leaf), v,
                                      self._c(v)))
        return jnp.where(self._mu > 0, 0.0, ratio)

    def conjugate(self, v: PyTree) -> jax.Array:
        # per coordinate the conjugate of c (l1 |w| + mu w^2 / 2) is max(|v| - c l1, 0)^2 / (2 c mu); a free
        # coordinate (c = 0) contributes 0 here (the gap corrects free coordinates itself)
        def one(leaf, c):
            excess = jnp.square(jnp.maximum(jnp.abs(leaf) - self._l1 * c, 0))
            return _safe_ratio(excess, 2 * self._mu * c + 0 * leaf)

        return _leafsum(jax.tree.map(one, v, self._c(v)))

    def free(self, w: PyTree) -> PyTree:
        return jax.tree.map(lambda leaf, c: jnp.broadcast_to((self.alpha <= 0) | (c <= 0), leaf.shape), w,
                            self._c(w))

    # the solver protocol (a 1-D coefficient vector)
    sparse = True

    def dual_free(self, w, v):
        return self.free(w)

    def coordinate_parts(self, p, dtype):
        c = jnp.ones(p, dtype) if self.weights is None else jnp.asarray(self.weights, dtype)
        tau = jnp.broadcast_to(self._l1 * c, (p,)).astype(dtype)
        return tau, jnp.broadcast_to(self._mu * c, (p,)).astype(dtype)

    screen = _symmetric_screen

    def restrict(self, idx):
        return _rebuild(self, alpha=_restrict_vector(self.alpha, idx), l1_ratio=_restrict_vector(self.l1_ratio, idx),
                        weights=_restrict_vector(self.weights, idx))

    def with_strength(self, strength):
        return dataclasses.replace(self, alpha=strength)

    def max_strength(self, g):
        """The smallest ``alpha`` at which ``w = 0`` is optimal (``g``: the loss's gradient at ``w = 0``;
        coordinates with weight 0 are left out: they are free)."""
        c = jnp.ones_like(g) if self.weights is None else jnp.asarray(self.weights, g.dtype)
        ratio = jnp.where(c > 0, jnp.abs(g) / jnp.where(c > 0, c, 1.0), 0.0)
        return jnp.maximum(jnp.max(ratio), 0.0) / self.l1_ratio

    def scaled(self, d):
        return ColumnScaled(self, d)


@_pytree_dataclass(["strength"])
@dataclass(frozen=True)
class NonNegativeL1:
    r"""Lasso restricted to non-negative coefficients (scikit-learn's ``positive=True``).

    :math:`P(w) = \lambda \sum_j w_j` if every :math:`w_j \ge 0`, :math:`+\infty` otherwise.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> jaxl1.NonNegativeL1(1.0).prox(jnp.array([-2.0, 0.5, 3.0]), step=1.0)
      Array([0., 0., 2.], dtype=float32)
    """

    strength: jax.typing.ArrayLike

    def __post_init__(self):
        _check_scalar_or_array("strength", self.strength)

    def value(self, w: PyTree) -> jax.Array:
        total = _leafsum(w)
        neg = _leafsum(jax.tree.map(lambda leaf: jnp.any(leaf < 0), w)) > 0
        return jnp.where(neg, jnp.inf, self.strength * total)

    def prox(self, w: PyTree, step: jax.typing.ArrayLike) -> PyTree:
        def one(leaf):
            leaf = _float(leaf)
            return jnp.maximum(leaf - jnp.asarray(step * self.strength, leaf.dtype), 0)

        return jax.tree.map(one, w)

    def dual_norm(self, v: PyTree) -> jax.Array:
        # P*(v) is the indicator of {v_j <= lambda}; only positive parts need scaling.  At
        # lambda = 0 the set is the cone {v_j <= 0}, whose gauge is +inf at any v_j > 0.
        def one(leaf):
            pos = jnp.maximum(leaf, 0)
            lam = self.strength + 0 * leaf
            return jnp.where(lam > 0, _safe_ratio(pos, lam), jnp.where(pos > 0, jnp.inf, 0.0))

        return _leafmax(jax.tree.map(one, v))

    def conjugate(self, v: PyTree) -> jax.Array:
        return jnp.zeros([], jnp.result_type(*jax.tree.leaves(v)))

    def free(self, w: PyTree) -> PyTree:
        return jax.tree.map(lambda leaf: jnp.zeros(leaf.shape, bool), w)

    # the solver protocol (a 1-D coefficient vector)
    sparse = True

    def dual_free(self, w, v):
        # at strength 0 the constraint w >= 0 alone is left, whose dual cone is v_j >= 0: no rescaling of v
        # meets it where v_j < 0
        return (jnp.asarray(self.strength) <= 0) & (v < 0)

    def coordinate_parts(self, p, dtype):
        return jnp.broadcast_to(self.strength, (p,)).astype(dtype), jnp.zeros(p, dtype)

    def screen(self, w, v):
        tau, _ = self.coordinate_parts(w.shape[0], w.dtype)
        # at strength 0 a zero coordinate moves only if v_j < 0
        return _screen_score(tau, jnp.maximum(-v, 0.0), w, (tau <= 0) & (v < 0))

    def restrict(self, idx):
        return _rebuild(self, strength=_restrict_vector(self.strength, idx))

    def with_strength(self, strength):
        return dataclasses.replace(self, strength=strength)

    def max_strength(self, g):
        """The smallest ``strength`` at which ``w = 0`` is optimal: only ``-g_j > 0`` can leave zero."""
        return jnp.maximum(jnp.max(-g), 0.0)

    def scaled(self, d):
        return ColumnScaled(self, d)


# --------------------------------------------------------------------------- #
# non-convex penalties
# --------------------------------------------------------------------------- #
def _best_of(x, candidates, objective):
    """``sign(x) * r`` for the candidate magnitude ``r`` with the smallest ``objective(r)`` (the first on ties)."""
    best, best_val = candidates[0], objective(candidates[0])
    for r in candidates[1:]:
        val = objective(r)
        better = val < best_val
        best, best_val = jnp.where(better, r, best), jnp.where(better, val, best_val)
    return jnp.sign(x) * best


class _Folded:
    """What MCP and SCAD share: a folded concave penalty ``sum_j p(|w_j|; lambda c_j)`` applied leaf by leaf.

    The subclasses give ``_p(r, lam)``, the penalty of a magnitude ``r >= 0``, and ``_candidates(x, t, lam)``,
    the magnitudes among which the prox's minimizer lies (one per piece of ``p``, each the minimizer of the
    piece's quadratic clipped to the piece).  The prox compares them, so it is exact for any step.
    """

    sparse = True
    convex = False  # no duality gap: the solvers certify stationarity (the proximal-gradient mapping)

    def _lams(self, w):
        return _thresholds(self.strength, self.weights, w)

    def value(self, w: PyTree) -> jax.Array:
        return _leafsum(jax.tree.map(lambda leaf, lam: self._p(jnp.abs(_float(leaf)), lam), w, self._lams(w)))

    def prox(self, w: PyTree, step: jax.typing.ArrayLike) -> PyTree:
        def one(leaf, lam):
            x = _float(leaf)
            lam = jnp.asarray(lam, x.dtype)
            t = jnp.asarray(step, x.dtype)
            a = jnp.abs(x)
            objective = lambda r: 0.5 * jnp.square(r - a) + t * self._p(r, lam)
            return _best_of(x, self._candidates(a, t, lam), objective).astype(leaf.dtype)

        return jax.tree.map(one, w, self._lams(w))

    def free(self, w: PyTree) -> PyTree:
        return jax.tree.map(lambda leaf, lam: jnp.broadcast_to(lam, leaf.shape) <= 0, w, self._lams(w))

    def dual_free(self, w, v):
        return self.free(w)

    def with_strength(self, strength):
        return _rebuild(self, strength=strength)

    def max_strength(self, g):
        """The smallest ``strength`` at which ``w = 0`` is stationary (the subdifferential at 0 is the lasso's)."""
        return L1.max_strength(self, g)

    def scaled(self, d):
        return ColumnScaled(self, d)

    # the working sets (a 1-D coefficient vector): at zero the subdifferential is the lasso's
    def screen(self, w, v):
        lam = jnp.broadcast_to(self.strength * (1.0 if self.weights is None else jnp.asarray(self.weights)), w.shape)
        return _screen_score(lam, jnp.abs(v), w, lam <= 0)

    def restrict(self, idx):
        return _rebuild(self, strength=_restrict_vector(self.strength, idx),
                        weights=_restrict_vector(self.weights, idx))

    def local_parts(self, w):
        """``(tau, mu, piece)`` per coordinate of a 1-D ``w``: on the piece of ``p`` that holds ``|w_j|`` the
        penalty is ``tau_j |w_j| + mu_j w_j^2 / 2`` plus a constant (``piece`` numbers the pieces), so that
        stationarity on a support whose coordinates keep their signs and pieces is a linear system.

        Examples:
          >>> import jax.numpy as jnp, jaxl1
          >>> tau, mu, piece = jaxl1.MCP(1.0, gamma=3.0).local_parts(jnp.array([0.5, -4.0]))
          >>> tau.tolist(), [round(m, 4) for m in mu.tolist()], piece.tolist()  # lambda|w| - w^2/6, then flat
          ([1.0, 0.0], [-0.3333, 0.0], [0, 1])
        """
        lam = jnp.broadcast_to(jnp.asarray(self._lams(w), w.dtype), w.shape)
        return self._local(jnp.abs(w), lam)

    def derivative(self, w):
        """``p'(|w_j|)`` per coordinate (at ``w_j = 0``, the right derivative ``lambda c_j``): a stationary
        point has ``|grad_j| <= lambda c_j`` where ``w_j = 0`` and ``grad_j = -sign(w_j) p'(|w_j|)`` elsewhere."""
        return jax.tree.map(lambda leaf, lam: jax.grad(lambda r, l: jnp.sum(self._p(r, l)))(
            jnp.abs(_float(leaf)), jnp.broadcast_to(jnp.asarray(lam, _float(leaf).dtype), jnp.shape(leaf))),
            w, self._lams(w))


def _check_shape_param(name, value, bound):
    check_hyperparameter(name, value, lo=None)
    if concrete(value) and not isinstance(value, jax.ShapeDtypeStruct) and np.any(np.asarray(value) <= bound):
        raise ValueError(f"{name} must be > {bound}, got {value!r}")


@_pytree_dataclass(["strength", "gamma", "weights"])
@dataclass(frozen=True)
class MCP(_Folded):
    r"""The minimax concave penalty (Zhang, 2010), summed over every coordinate of every leaf:

    .. math:: p(w) = \begin{cases} \lambda |w| - \frac{w^2}{2\gamma} & |w| \le \gamma\lambda \\
              \frac{\gamma \lambda^2}{2} & |w| > \gamma\lambda \end{cases}

    Like the lasso near zero (so solutions have exact zeros), flat beyond :math:`\gamma\lambda` (so large
    coefficients are not shrunk); :math:`\gamma \to \infty` is the lasso.  The penalty is not convex:
    the solvers find a stationary point (a path warm-started from :math:`\lambda_{\max}` finds a good one)
    and certify it by the proximal-gradient mapping, not a duality gap (``certificate="optimality"``).
    The prox is exact for every step (firm thresholding when ``step < gamma``, hard thresholding beyond).
    ``gamma`` is in the units of the columns' curvature: on standardized columns (ncvreg, skglm) ``gamma > 1``
    makes each coordinate's problem convex.

    Args:
      strength: :math:`\lambda \ge 0`.
      gamma: :math:`\gamma > 1` (default 3, as ncvreg and skglm).
      weights: optional non-negative per-coordinate factors (:math:`\lambda c_j` per coordinate).

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> pen = jaxl1.MCP(1.0, gamma=3.0)
      >>> pen.prox(jnp.array([0.5, 2.0, 5.0]), step=1.0)  # zero, firm-thresholded, untouched
      Array([0.       , 1.5000001, 5.       ], dtype=float32)
      >>> float(pen.value(jnp.array([0.0, 1.0, 5.0])))  # 0 + (1 - 1/6) + 3/2
      2.3333332538604736
    """

    strength: jax.typing.ArrayLike
    gamma: jax.typing.ArrayLike = 3.0
    weights: PyTree = None

    def __post_init__(self):
        _check_scalar_or_array("strength", self.strength)
        _check_shape_param("gamma", self.gamma, 1.0)
        _check_weights(self.weights)

    def _p(self, r, lam):
        g = jnp.asarray(self.gamma, r.dtype)
        return jnp.where(r <= g * lam, lam * r - 0.5 * r * r / g, 0.5 * g * lam * lam)

    def _local(self, r, lam):
        g = jnp.asarray(self.gamma, r.dtype)
        inner = r <= g * lam
        zero = jnp.zeros_like(r)
        return jnp.where(inner, lam, zero), jnp.where(inner, -1.0 / g, zero), jnp.where(inner, 0, 1)

    def _candidates(self, a, t, lam):
        g = jnp.asarray(self.gamma, a.dtype)
        knot = g * lam
        curv = 1.0 - t / g  # the curvature of the prox's objective below the knot
        inner = jnp.where(curv > 0, jnp.clip((a - t * lam) / jnp.where(curv > 0, curv, 1.0), 0.0, knot), 0.0)
        return inner, jnp.maximum(a, knot)


@_pytree_dataclass(["strength", "a", "weights"])
@dataclass(frozen=True)
class SCAD(_Folded):
    r"""The smoothly clipped absolute deviation penalty (Fan and Li, 2001), summed over every coordinate:

    .. math:: p(w) = \begin{cases} \lambda |w| & |w| \le \lambda \\
              \frac{2a\lambda|w| - w^2 - \lambda^2}{2(a - 1)} & \lambda < |w| \le a\lambda \\
              \frac{(a + 1)\lambda^2}{2} & |w| > a\lambda \end{cases}

    The lasso up to :math:`\lambda`, flat beyond :math:`a\lambda`.  Not convex: as for :class:`MCP` the
    solvers certify a stationary point (``certificate="optimality"``); the prox is exact for every step.

    Args:
      strength: :math:`\lambda \ge 0`.
      a: :math:`a > 2` (default 3.7, Fan and Li's choice, as ncvreg and skglm).
      weights: optional non-negative per-coordinate factors.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> jaxl1.SCAD(1.0).prox(jnp.array([0.5, 1.5, 3.0, 5.0]), step=1.0)
      Array([0.       , 0.5      , 2.5882354, 5.       ], dtype=float32)
    """

    strength: jax.typing.ArrayLike
    a: jax.typing.ArrayLike = 3.7
    weights: PyTree = None

    def __post_init__(self):
        _check_scalar_or_array("strength", self.strength)
        _check_shape_param("a", self.a, 2.0)
        _check_weights(self.weights)

    def _p(self, r, lam):
        a = jnp.asarray(self.a, r.dtype)
        mid = (2 * a * lam * r - r * r - lam * lam) / (2 * (a - 1))
        return jnp.where(r <= lam, lam * r, jnp.where(r <= a * lam, mid, 0.5 * (a + 1) * lam * lam))

    def _local(self, r, lam):
        a = jnp.asarray(self.a, r.dtype)
        low, mid = r <= lam, (r > lam) & (r <= a * lam)
        zero = jnp.zeros_like(r)
        tau = jnp.where(low, lam, jnp.where(mid, a * lam / (a - 1), zero))
        return tau, jnp.where(mid, -1.0 / (a - 1), zero), jnp.where(low, 0, jnp.where(mid, 1, 2))

    def _candidates(self, x, t, lam):
        a = jnp.asarray(self.a, x.dtype)
        low = jnp.clip(x - t * lam, 0.0, lam)
        curv = a - 1 - t  # (a - 1) times the curvature of the prox's objective on the middle piece
        mid = jnp.where(curv > 0, jnp.clip(((a - 1) * x - t * a * lam) / jnp.where(curv > 0, curv, 1.0),
                                           lam, a * lam), lam)
        return low, mid, jnp.maximum(x, a * lam)


def _group_sqnorms(leaf, groups, n_groups, axis):
    """Squared norms and sizes of the groups of one leaf, as arrays broadcastable to the leaf."""
    sq = jnp.square(leaf)
    if groups is not None:
        ids = jnp.asarray(groups)
        sums = jax.ops.segment_sum(sq.reshape(-1), ids.reshape(-1), num_segments=n_groups)
        sizes = np.bincount(np.asarray(groups).reshape(-1), minlength=n_groups)
        sizes = jnp.asarray(sizes, leaf.dtype)
        return sums[ids].reshape(leaf.shape), sizes[ids].reshape(leaf.shape), (sums, sizes)
    if axis is None:
        total = jnp.sum(sq)
        size = jnp.asarray(leaf.size, leaf.dtype)
        return jnp.broadcast_to(total, leaf.shape), jnp.broadcast_to(size, leaf.shape), (total[None], size[None])
    sums = jnp.sum(sq, axis=axis, keepdims=True)
    size = np.prod([leaf.shape[a] for a in np.atleast_1d(axis)])
    size = jnp.asarray(size, leaf.dtype)
    per_group = (sums.reshape(-1), jnp.full(sums.size, size))
    return jnp.broadcast_to(sums, leaf.shape), jnp.broadcast_to(size, leaf.shape), per_group


def _safe_sqrt(x):
    pos = x > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, x, 1.0)), 0.0)


def _check_group_weights(weights, groups, n_groups) -> None:
    """Per-group factors: only with ``groups``, one finite non-negative number per group id (a list or a tuple
    is then held as an array: one pytree leaf)."""
    if weights is None:
        return
    if groups is None:
        raise ValueError("weights (one factor per group) need groups: the group ids of the coordinates")
    _check_scalar_or_array("weights", weights, lo=0.0)
    if np.shape(weights) != (n_groups,):
        raise ValueError(f"weights must have one entry per group, shape ({n_groups},), got {np.shape(weights)}")


def _check_group_ids(groups) -> tuple:
    g = np.asarray(groups)
    if g.dtype.kind not in "iu" or g.ndim != 1 or (g.size and g.min() < 0):
        raise ValueError("groups must be a 1-D sequence of non-negative integer group ids")
    return tuple(int(i) for i in g)


def _group_factors(weights, sizes):
    """The groups' factors: ``weights``, or by default the square root of each group's size."""
    return jnp.sqrt(sizes) if weights is None else jnp.asarray(weights, sizes.dtype)


@_pytree_dataclass(["strength", "weights"], ["groups", "axis"])
@dataclass(frozen=True)
class GroupL1:
    r"""Group lasso :math:`P(w) = \lambda \sum_g c_g\,\|w_g\|_2`, by default :math:`c_g = \sqrt{|g|}`.

    Groups are given by one of:

    * ``groups``: integer group ids with the shape of an array parameter
      (``0 .. G-1``); then ``weights`` may give the factors :math:`c_g`, one per group
      (0 leaves a group unpenalized);
    * ``axis``: for every leaf, the slices along ``axis`` are groups reduced over
      (``axis=1`` on a ``(fan_in, fan_out)`` kernel makes each input row a group:
      neuron sparsity);
    * neither: each leaf is one group.

    The prox and ``jax.grad`` of ``value`` are finite at zero.  :func:`jaxl1.fit_path` and
    :func:`jaxl1.cross_validate` fit whole group-lasso paths with ``groups=``.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> pen = jaxl1.GroupL1(1.0, groups=(0, 0, 1))
      >>> pen.prox(jnp.array([3.0, 4.0, 0.5]), step=1.0)
      Array([2.1514719, 2.8686292, 0.       ], dtype=float32)
      >>> float(jaxl1.GroupL1(1.0, groups=(0, 0, 1), weights=(1.0, 2.0)).value(jnp.array([3.0, 4.0, 0.5])))
      6.0
    """

    strength: jax.typing.ArrayLike
    groups: tuple | None = None
    axis: int | tuple | None = None
    weights: jax.typing.ArrayLike | None = None

    def __post_init__(self):
        _check_scalar_or_array("strength", self.strength)
        if self.groups is not None:
            if self.axis is not None:
                raise ValueError("groups and axis cannot both be given")
            object.__setattr__(self, "groups", _check_group_ids(self.groups))
        _check_group_weights(self.weights, self.groups, self._n_groups)
        if isinstance(self.weights, (list, tuple)):
            object.__setattr__(self, "weights", jnp.asarray(self.weights, _float(self.weights[0]).dtype))

    @property
    def _n_groups(self):
        return max(self.groups) + 1 if self.groups else 0

    def _parts(self, leaf):
        if self.groups is not None and len(self.groups) != leaf.size:
            raise ValueError(f"groups has {len(self.groups)} ids for a parameter of size {leaf.size}")
        return _group_sqnorms(_float(leaf), self.groups, self._n_groups, self.axis)

    def _factors(self, sizes):
        return _group_factors(self.weights, sizes)

    def _per_coordinate(self, leaf, per_group):
        """A per-group array spread over the coordinates of ``leaf`` (``groups`` given)."""
        return per_group[jnp.asarray(self.groups)].reshape(leaf.shape)

    def value(self, w: PyTree) -> jax.Array:
        def one(leaf):
            _, _, (sums, sizes) = self._parts(leaf)
            return jnp.sum(self._factors(sizes) * _safe_sqrt(sums))

        return self.strength * _leafsum(jax.tree.map(one, w))

    def prox(self, w: PyTree, step: jax.typing.ArrayLike) -> PyTree:
        def one(leaf):
            leaf = _float(leaf)
            sq, size, (_, sizes) = self._parts(leaf)
            c = jnp.sqrt(size) if self.weights is None else self._per_coordinate(leaf, self._factors(sizes))
            norm = _safe_sqrt(sq)
            t = step * self.strength * c
            factor = jnp.maximum(1 - _safe_ratio(t, norm), 0)
            return (jnp.where(norm > t, factor, 0.0) * leaf).astype(leaf.dtype)

        return jax.tree.map(one, w)

    def dual_norm(self, v: PyTree) -> jax.Array:
        def one(leaf):
            _, _, (sums, sizes) = self._parts(leaf)
            c = self._factors(sizes)
            # a group with factor 0 is free (``free``): its dual constraint is not a norm ball
            return jnp.max(jnp.where(c > 0, _safe_ratio(_safe_sqrt(sums), self.strength * c), 0.0), initial=0.0)

        return _leafmax(jax.tree.map(one, v))

    def conjugate(self, v: PyTree) -> jax.Array:
        return jnp.zeros([], jnp.result_type(*jax.tree.leaves(v)))

    def free(self, w: PyTree) -> PyTree:
        def one(leaf):
            off = jnp.broadcast_to(self.strength <= 0, leaf.shape)
            if self.weights is None:
                return off
            return off | self._per_coordinate(leaf, jnp.asarray(self.weights) == 0)

        return jax.tree.map(one, w)

    sparse = True

    smooth_on_support = True  # differentiable where no group is zero: implicit gradients use the value there

    def with_strength(self, strength):
        return dataclasses.replace(self, strength=strength)

    def dual_free(self, w, v):
        return self.free(w)

    def max_strength(self, g):
        """The smallest ``strength`` at which ``w = 0`` is optimal, ``g`` the loss's gradient at ``w = 0``
        (a 1-D array with ``groups``; groups with factor 0 are left out: they are free)."""
        _, _, (sums, sizes) = self._parts(g)
        c = self._factors(sizes)
        return jnp.max(jnp.where(c > 0, _safe_ratio(_safe_sqrt(sums), c), 0.0), initial=0.0)

    # the group working-set protocol (``groups`` given, a scalar strength)
    def group_ids(self):
        """The group id of every coordinate (a static tuple), or ``None`` without ``groups``."""
        return self.groups

    def group_factors(self, dtype):
        """The ``(G,)`` factors :math:`c_g` of the groups."""
        sizes = jnp.asarray(np.bincount(np.asarray(self.groups), minlength=self._n_groups), dtype)
        return _group_factors(self.weights, sizes)

    def group_screen(self, w, v):
        r"""Working-set priority of each group: infinite for a nonzero or free group, else
        :math:`\|v_g\|_2 / (\lambda c_g)` (at least 1 where the zero group violates its optimality condition)."""
        ids = jnp.asarray(self.groups)
        c = self.group_factors(v.dtype)
        norms = _safe_sqrt(jax.ops.segment_sum(v * v, ids, num_segments=self._n_groups))
        nonzero = jax.ops.segment_max(jnp.abs(w), ids, num_segments=self._n_groups) > 0
        return jnp.where(nonzero | (c <= 0), jnp.inf, _safe_ratio(norms, self.strength * c))

    def restrict_groups(self, sel, size):
        """The penalty on the coordinates of the groups ``sel``, laid out as ``len(sel)`` blocks of ``size``
        slots each (block ``r`` is group ``sel[r]``, padded with slots the solver holds at zero)."""
        ids = tuple(int(i) for i in np.repeat(np.arange(len(sel)), size))
        return _rebuild(self, groups=ids, weights=self.group_factors(jnp.result_type(self.strength, float))[sel])


def _sgl_dual_norms(v, ids, n_groups, alpha, c, n_bisect=64):
    r"""Per group, the dual norm of :math:`\alpha\|x\|_1 + (1-\alpha) c_g \|x\|_2` at ``v_g``.

    It is the ``t >= 0`` where :math:`\|S_{\alpha t}(v_g)\|_2 = (1-\alpha) c_g t` (``S`` soft-thresholding):
    the left side decreases in ``t`` and the right increases, so bisection on ``[0, min(|v_g|_inf / alpha,
    |v_g|_2 / ((1 - alpha) c_g))]`` finds it to the last bits in ``n_bisect`` halvings.
    """
    a = jnp.abs(v)
    vmax = jax.ops.segment_max(a, ids, num_segments=n_groups)
    vmax = jnp.where(jnp.isfinite(vmax), vmax, 0.0)
    norm = _safe_sqrt(jax.ops.segment_sum(a * a, ids, num_segments=n_groups))
    beta = (1 - alpha) * c
    pos = lambda x: x > 0
    hi = jnp.minimum(jnp.where(pos(alpha), vmax / jnp.where(pos(alpha), alpha, 1.0), jnp.inf),
                     jnp.where(pos(beta), norm / jnp.where(pos(beta), beta, 1.0), jnp.inf))

    def excess(t):  # ||S_{alpha t}(v_g)||^2 - (beta t)^2 per group, decreasing in t
        r = jnp.maximum(a - alpha * t[ids], 0.0)
        return jax.ops.segment_sum(r * r, ids, num_segments=n_groups) - jnp.square(beta * t)

    def halve(_, bracket):
        lo, up = bracket
        mid = 0.5 * (lo + up)
        above = excess(mid) > 0
        return jnp.where(above, mid, lo), jnp.where(above, up, mid)

    finite_hi = jnp.where(jnp.isfinite(hi), hi, 0.0)
    lo, up = jax.lax.fori_loop(0, n_bisect, halve, (jnp.zeros_like(finite_hi), finite_hi))
    return jnp.where(jnp.isfinite(hi), up, jnp.where(norm > 0, jnp.inf, 0.0))


@_pytree_dataclass(["strength", "l1_ratio", "weights"], ["groups"])
@dataclass(frozen=True)
class SparseGroupL1:
    r"""Sparse-group lasso :math:`P(w) = \lambda\,(\alpha \|w\|_1 + (1 - \alpha) \sum_g c_g \|w_g\|_2)`.

    Zeros within the groups it selects, as well as whole groups (Simon, Friedman, Hastie and
    Tibshirani, 2013); :math:`\alpha` = ``l1_ratio`` (1 is the lasso, 0 the group lasso), :math:`c_g`
    the groups' ``weights`` (default :math:`\sqrt{|g|}`).  The prox is exact: soft-thresholding, then
    the group shrinkage.  The dual norm has no closed form; it is found per group by bisection to
    the last bits.

    Args:
      strength: :math:`\lambda \ge 0`.
      l1_ratio: :math:`\alpha \in [0, 1]`.
      groups: integer group ids ``0 .. G-1``, one per coordinate of a 1-D parameter.
      weights: optional ``(G,)`` non-negative group factors.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> pen = jaxl1.SparseGroupL1(1.0, 0.5, groups=(0, 0, 1))
      >>> [round(float(v), 5) for v in pen.prox(jnp.array([3.0, 0.2, 0.5]), step=1.0)]  # 2.5 - sqrt(2)/2
      [1.79289, 0.0, 0.0]
    """

    strength: jax.typing.ArrayLike
    l1_ratio: jax.typing.ArrayLike = 0.5
    groups: tuple | None = None
    weights: jax.typing.ArrayLike | None = None

    def __post_init__(self):
        _check_scalar_or_array("strength", self.strength)
        _check_scalar_or_array("l1_ratio", self.l1_ratio, lo=0.0, hi=1.0)
        if self.groups is None:
            raise ValueError("groups (the group id of every coordinate) are required by SparseGroupL1")
        object.__setattr__(self, "groups", _check_group_ids(self.groups))
        _check_group_weights(self.weights, self.groups, self._n_groups)
        if isinstance(self.weights, (list, tuple)):
            object.__setattr__(self, "weights", jnp.asarray(self.weights, _float(self.weights[0]).dtype))

    _n_groups = GroupL1._n_groups

    def _ids(self, w):
        if jnp.ndim(w) != 1 or w.shape[0] != len(self.groups):
            raise ValueError(f"SparseGroupL1 has {len(self.groups)} group ids: it applies to a 1-D parameter of that "
                             f"size, got shape {jnp.shape(w)}")
        return jnp.asarray(self.groups)

    _factors = group_factors = GroupL1.group_factors  # the (G,) factors of the groups

    def value(self, w: PyTree) -> jax.Array:
        w = _float(w)
        ids = self._ids(w)
        sums = jax.ops.segment_sum(w * w, ids, num_segments=self._n_groups)
        a = self.l1_ratio
        group = jnp.sum(self._factors(w.dtype) * _safe_sqrt(sums))
        return self.strength * (a * jnp.sum(jnp.abs(w)) + (1 - a) * group)

    def prox(self, w: PyTree, step: jax.typing.ArrayLike) -> PyTree:
        w = _float(w)
        ids = self._ids(w)
        t = step * self.strength
        u = soft_threshold(w, t * self.l1_ratio)
        norm = _safe_sqrt(jax.ops.segment_sum(u * u, ids, num_segments=self._n_groups))[ids]
        tg = t * (1 - self.l1_ratio) * self._factors(w.dtype)[ids]
        factor = jnp.maximum(1 - _safe_ratio(tg, norm), 0)
        return (jnp.where(norm > tg, factor, 0.0) * u).astype(w.dtype)

    def _unit_dual_norms(self, v):
        v = _float(v)
        return _sgl_dual_norms(v, self._ids(v), self._n_groups, jnp.asarray(self.l1_ratio, v.dtype),
                               self._factors(v.dtype))

    def dual_norm(self, v: PyTree) -> jax.Array:
        t = self._unit_dual_norms(v)
        return jnp.max(jnp.where(jnp.isfinite(t), _safe_ratio(t, self.strength), 0.0), initial=0.0)

    def conjugate(self, v: PyTree) -> jax.Array:
        return jnp.zeros([], jnp.result_type(v))

    def free(self, w: PyTree) -> PyTree:
        # a coordinate is free when its whole penalty is 0: no strength, or no L1 share in a group of factor 0
        c = self._factors(w.dtype)[self._ids(w)]
        return jnp.broadcast_to((self.strength <= 0) | ((self.l1_ratio <= 0) & (c == 0)), w.shape)

    def dual_free(self, w, v):
        return self.free(w)

    sparse = True

    smooth_on_support = True

    def with_strength(self, strength):
        return dataclasses.replace(self, strength=strength)

    def max_strength(self, g):
        """The smallest ``strength`` at which ``w = 0`` is optimal, ``g`` the loss's gradient at ``w = 0``."""
        t = self._unit_dual_norms(g)
        return jnp.max(jnp.where(jnp.isfinite(t), t, 0.0), initial=0.0)

    # the group working-set protocol (a scalar strength), with GroupL1's group_ids and restrict_groups
    group_ids = GroupL1.group_ids

    restrict_groups = GroupL1.restrict_groups

    def group_screen(self, w, v):
        r"""Working-set priority of each group: infinite for a nonzero group (or a free one), else the dual
        norm of :math:`v_g` over :math:`\lambda` (at least 1 where the zero group is not optimal)."""
        ids = self._ids(v)
        t = self._unit_dual_norms(v)
        nonzero = jax.ops.segment_max(jnp.abs(w), ids, num_segments=self._n_groups) > 0
        return jnp.where(nonzero | ~jnp.isfinite(t), jnp.inf, _safe_ratio(t, self.strength))


def _row_norms(W):
    """``||W_j||_2`` of each row of ``W`` (``|w_j|`` for a 1-D ``w``), shaped ``(p, 1, ...)`` to broadcast against ``W``."""
    axes = tuple(range(1, jnp.ndim(W)))
    return _safe_sqrt(jnp.sum(jnp.square(W), axis=axes, keepdims=True))


@_pytree_dataclass(["strength", "weights"])
@dataclass(frozen=True)
class L21:
    r"""The row-sparse penalty of a coefficient matrix: :math:`P(W) = \lambda \sum_j c_j \|W_{j\cdot}\|_2`.

    A group lasso whose groups are the rows of a ``(p, K)`` matrix: one feature's coefficients for
    every task or class enter or leave together.  With the squared loss and a 2-D ``y`` this is
    scikit-learn's ``MultiTaskLasso(alpha=strength)``; with ``loss="multinomial"`` it is glmnet's
    ``type.multinomial="grouped"``.  On a 1-D vector it is the lasso.

    Args:
      strength: :math:`\lambda \ge 0`.
      weights: optional ``(p,)`` non-negative factors :math:`c_j`, one per row (0 leaves the row free).

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> W = jnp.array([[3.0, 4.0], [0.3, 0.4]])
      >>> float(jaxl1.L21(1.0).value(W))
      5.5
      >>> jaxl1.L21(1.0).prox(W, step=1.0)  # the first row shrinks by 1 in norm, the second vanishes
      Array([[2.4, 3.2],
             [0. , 0. ]], dtype=float32)
    """

    strength: jax.typing.ArrayLike
    weights: Any = None

    def __post_init__(self):
        _check_scalar_or_array("strength", self.strength)
        if self.weights is not None:
            _check_scalar_or_array("weights", self.weights, lo=0.0)
            if not isinstance(self.weights, jax.core.Tracer) and np.ndim(self.weights) != 1:
                raise ValueError(f"weights must be a (p,) array, one factor per row, got shape "
                                 f"{np.shape(self.weights)}")

    def _t(self, W):
        """Per-row thresholds, shaped to broadcast against ``W``."""
        c = jnp.ones(jnp.shape(W)[0], jnp.result_type(W)) if self.weights is None else jnp.asarray(self.weights)
        t = self.strength * c
        return jnp.reshape(t, jnp.shape(t) + (1,) * (jnp.ndim(W) - 1))

    def value(self, W):
        return jnp.sum(self._t(W) * _row_norms(W))

    def prox(self, W, step):
        norms = _row_norms(W)
        # the row's shrinkage factor; a step of shape (p, 1) (a scaled problem) broadcasts per row
        shrink = jnp.maximum(1.0 - _safe_ratio(jnp.asarray(step) * self._t(W) + 0 * norms, norms), 0.0)
        return (W * jnp.where(norms > 0, shrink, 0.0)).astype(jnp.result_type(W))

    def dual_norm(self, V):
        return jnp.maximum(jnp.max(_safe_ratio(_row_norms(V), self._t(V) + 0 * _row_norms(V))), 0.0)

    def conjugate(self, V):
        return jnp.zeros([], jnp.result_type(V))

    def free(self, W):
        return jnp.broadcast_to(self._t(W) <= 0, jnp.shape(W))

    sparse = True
    row_wise = True  # one weight per row: (p,) weights are not broadcast over the columns

    def dual_free(self, W, V):
        return self.free(W)

    def with_strength(self, strength):
        return dataclasses.replace(self, strength=strength)

    def max_strength(self, g):
        """The smallest ``strength`` at which ``W = 0`` is optimal, ``g`` the loss's gradient at ``W = 0``
        (rows with weight 0 are left out: they are free)."""
        c = jnp.ones(g.shape[0], g.dtype) if self.weights is None else jnp.asarray(self.weights, g.dtype)
        norms = _row_norms(g).reshape(g.shape[0])
        return jnp.maximum(jnp.max(jnp.where(c > 0, norms / jnp.where(c > 0, c, 1.0), 0.0)), 0.0)

    def scaled(self, d):
        return ColumnScaled(self, d)


def _rebuild(pen, **fields):
    """A copy of the penalty ``pen`` with some fields replaced, not validated again (they may be traced)."""
    obj = object.__new__(type(pen))
    for name, value in vars(pen).items():
        object.__setattr__(obj, name, fields.get(name, value))
    return obj


@_pytree_dataclass(["penalty", "lower", "upper"])
@dataclass(frozen=True)
class Bounded:
    r"""A separable penalty with box constraints: :math:`P(w) + \iota\{l \le w \le u\}`.

    glmnet's ``lower.limits`` / ``upper.limits``; ``Bounded(L1(lam), 0.0, None)`` is scikit-learn's
    ``Lasso(positive=True)``.  The penalty is one of ``L1``, ``ElasticNet`` or ``L2`` on a 1-D
    coefficient vector (per coordinate :math:`\tau_j |w_j| + \tfrac12 \mu_j w_j^2`), and the box must
    hold 0 (``lower <= 0 <= upper``), where every path starts.  Everything stays exact: the prox is
    the penalty's prox clipped to the box (exact for a one-dimensional convex term), the conjugate is
    the supremum over the box, and a coordinate at an active bound is held fixed by the solves on the
    support and by implicit differentiation.

    Args:
      penalty: ``L1``, ``ElasticNet`` or ``L2``.
      lower: ``None`` (no bound), a scalar ``<= 0`` or a ``(p,)`` array.
      upper: ``None``, a scalar ``>= 0`` or a ``(p,)`` array.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> pen = jaxl1.Bounded(jaxl1.L1(1.0), lower=-0.5, upper=None)
      >>> pen.prox(jnp.array([-3.0, 0.5, 3.0]), step=1.0)
      Array([-0.5,  0. ,  2. ], dtype=float32)
    """

    penalty: Any
    lower: Any = None
    upper: Any = None

    def __post_init__(self):
        if not (hasattr(self.penalty, "coordinate_parts") and hasattr(self.penalty, "with_strength")) or \
                isinstance(self.penalty, (NonNegativeL1, Bounded)):
            raise ValueError(f"Bounded needs an L1, ElasticNet or L2 penalty, got {type(self.penalty).__name__}"
                             " (for non-negative coefficients use Bounded(L1(lam), 0.0, None))")
        for name, value, sign in (("lower", self.lower, -1), ("upper", self.upper, 1)):
            if value is None or isinstance(value, jax.core.Tracer):
                continue
            v = np.asarray(value, dtype=float)
            if np.any(np.isnan(v)) or v.ndim > 1:
                raise ValueError(f"{name} must be a number or a 1-D array without NaN, got {value!r}")
            if np.any(sign * v < 0):
                raise ValueError(f"{name} must be {'<=' if sign < 0 else '>='} 0: the box must hold w = 0, where "
                                 "every solve and path starts (shift y, or fit the excluded part as an offset)")

    def _box(self, p, dtype):
        lo = jnp.full(p, -jnp.inf, dtype) if self.lower is None else jnp.broadcast_to(
            jnp.asarray(self.lower, dtype), (p,))
        hi = jnp.full(p, jnp.inf, dtype) if self.upper is None else jnp.broadcast_to(
            jnp.asarray(self.upper, dtype), (p,))
        return lo, hi

    def bounds_parts(self, p, dtype):
        return self._box(p, dtype)

    def value(self, w):
        lo, hi = self._box(w.shape[0], w.dtype)
        # a few units of rounding allowed: a solver in scaled coordinates holds d * hi, whose ratio by d may
        # round past hi
        slack = 4 * jnp.finfo(w.dtype).eps
        outside = jnp.any((w < lo - slack * jnp.abs(lo)) | (w > hi + slack * jnp.abs(hi)))
        return jnp.where(outside, jnp.inf, self.penalty.value(w))

    def prox(self, w, step):
        lo, hi = self._box(w.shape[0], w.dtype)
        return jnp.clip(self.penalty.prox(w, step), lo, hi)

    def dual_norm(self, v):
        # only a side without a bound, of a coordinate without curvature, constrains the dual point
        tau, mu = self.penalty.coordinate_parts(v.shape[0], v.dtype)
        lo, hi = self._box(v.shape[0], v.dtype)
        a = jnp.maximum(jnp.where(hi == jnp.inf, jnp.maximum(v, 0), 0), jnp.where(lo == -jnp.inf, jnp.maximum(-v, 0), 0))
        return jnp.max(jnp.where(mu > 0, 0.0, _safe_ratio(a, tau)))

    def conjugate(self, v):
        tau, mu = self.penalty.coordinate_parts(v.shape[0], v.dtype)
        lo, hi = self._box(v.shape[0], v.dtype)
        soft = soft_threshold(v, tau)
        w_quad = jnp.clip(soft / jnp.where(mu > 0, mu, 1.0), lo, hi)
        w_lin = jnp.where(v > tau, hi, jnp.where(v < -tau, lo, 0.0))
        w_lin = jnp.where(jnp.isfinite(w_lin), w_lin, 0.0)  # an unbounded side is met by the dual scaling
        w = jnp.where(mu > 0, w_quad, w_lin)
        return jnp.sum(v * w - tau * jnp.abs(w) - 0.5 * mu * w * w)

    def free(self, w):
        lo, hi = self._box(w.shape[0], w.dtype)
        return self.penalty.free(w) & (lo == -jnp.inf) & (hi == jnp.inf)

    sparse = property(lambda self: self.penalty.sparse)

    def dual_free(self, w, v):
        tau, mu = self.penalty.coordinate_parts(w.shape[0], w.dtype)
        lo, hi = self._box(w.shape[0], w.dtype)
        open_side = ((hi == jnp.inf) & (v < 0)) | ((lo == -jnp.inf) & (v > 0))
        return (tau <= 0) & (mu <= 0) & open_side

    def coordinate_parts(self, p, dtype):
        return self.penalty.coordinate_parts(p, dtype)

    def screen(self, w, v):
        tau, mu = self.penalty.coordinate_parts(w.shape[0], w.dtype)
        lo, hi = self._box(w.shape[0], w.dtype)
        # at zero a coordinate can only move into the box: up if upper > 0, down if lower < 0
        a = jnp.maximum(jnp.where(hi > 0, jnp.maximum(-v, 0), 0), jnp.where(lo < 0, jnp.maximum(v, 0), 0))
        return _screen_score(tau, a, w, (tau <= 0) & (a > 0))

    def restrict(self, idx):
        return _rebuild(self, penalty=self.penalty.restrict(idx), lower=_restrict_vector(self.lower, idx),
                        upper=_restrict_vector(self.upper, idx))

    def scaled(self, d):
        return ColumnScaled(self, d)

    def with_strength(self, strength):
        return _rebuild(self, penalty=self.penalty.with_strength(strength))

    def max_strength(self, g):
        lo, hi = self._box(g.shape[0], g.dtype)
        a = jnp.maximum(jnp.where(hi > 0, jnp.maximum(-g, 0), 0), jnp.where(lo < 0, jnp.maximum(g, 0), 0))
        return self.penalty.max_strength(a)


def bounded_and_scaled(penalty, bounds=None, pscale=None):
    """``penalty`` with the box ``bounds = (lo, hi)`` on the coefficients, then on the standardized columns'
    coefficients when ``pscale`` (``1 / sd``) is given: ``P(sd * w)`` with ``lo <= w <= hi``."""
    if pscale is not None:
        penalty = ColumnScaled(penalty, pscale)
    # the box on w itself, outside the scaling: its bounds stay exactly the user's
    return penalty if bounds is None else Bounded(penalty, *bounds)


@_pytree_dataclass(["penalty", "scale"])
@dataclass(frozen=True)
class ColumnScaled:
    r"""The separable ``penalty`` in scaled coordinates :math:`u = d \odot w`: :math:`P_d(u) = P(u / d)`.

    A solver that divides column :math:`j` of :math:`X` by :math:`d_j` solves for :math:`u`; with
    :math:`d_j` the column's norm every coordinate then sees the same curvature, so the steps do
    not depend on how the columns were scaled.  Everything follows from :math:`P`:
    :math:`\operatorname{prox}_{tP_d}(u) = d \odot \operatorname{prox}_{(t/d^2) P}(u / d)`
    (``penalty.prox`` with a per-coordinate step), :math:`P_d^*(v) = P^*(d \odot v)`, so the duality
    gap in the scaled coordinates is the gap of the original problem.

    Args:
      penalty: a separable penalty (``L1``, ``L2``, ``ElasticNet``, ``NonNegativeL1``) on a 1-D vector.
      scale: ``(p,)`` positive scales :math:`d`.

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> pen = jaxl1.ColumnScaled(jaxl1.L1(1.0), jnp.array([1.0, 2.0]))
      >>> pen.prox(jnp.array([3.0, 3.0]), step=1.0)  # thresholds 1 and 1/2
      Array([2. , 2.5], dtype=float32)
      >>> float(pen.value(jnp.array([3.0, 3.0])))
      4.5
    """

    penalty: Any
    scale: jax.Array

    sparse = property(lambda self: self.penalty.sparse)
    row_wise = property(lambda self: getattr(self.penalty, "row_wise", False))
    convex = property(lambda self: getattr(self.penalty, "convex", True))

    def value(self, u):
        return self.penalty.value(u / self.scale)

    def prox(self, u, step):
        d = self.scale
        return d * self.penalty.prox(u / d, step / (d * d))

    def dual_norm(self, v):
        return self.penalty.dual_norm(self.scale * v)

    def conjugate(self, v):
        return self.penalty.conjugate(self.scale * v)

    def free(self, u):
        return self.penalty.free(u)

    def dual_free(self, u, v):
        return self.penalty.dual_free(u, self.scale * v)

    def coordinate_parts(self, p, dtype):
        tau, mu = self.penalty.coordinate_parts(p, dtype)
        d = self.scale.astype(dtype)
        return tau / d, mu / (d * d)

    def local_parts(self, u):
        """The penalty's ``local_parts`` (:class:`MCP`, :class:`SCAD`) in the scaled coordinates."""
        d = self.scale.astype(u.dtype)
        tau, mu, piece = self.penalty.local_parts(u / d)
        return tau / d, mu / (d * d), piece

    def screen(self, u, v):
        # |v_j| / tau_j is the same number in both coordinates
        return self.penalty.screen(u, self.scale * v)

    def restrict(self, idx):
        return ColumnScaled(self.penalty.restrict(idx), self.scale[idx])

    def scaled(self, d):
        return ColumnScaled(self.penalty, self.scale * d)

    def with_strength(self, strength):
        return ColumnScaled(self.penalty.with_strength(strength), self.scale)

    def bounds_parts(self, p, dtype):
        """The box in the scaled coordinates ``u = d * w`` (``None`` when the penalty has none)."""
        inner = getattr(self.penalty, "bounds_parts", None)
        if inner is None:
            return None
        lo, hi = inner(p, dtype)
        d = self.scale.astype(dtype)
        return lo * d, hi * d

    def max_strength(self, g):
        # -g in the subdifferential of P(u / d) at 0 is -d g in that of P
        return self.penalty.max_strength(self.scale * g)

r"""Optax transformations that take the proximal step of a penalty in training.

Adding :math:`\lambda\sum_j |w_j|` to a network's loss and following its
(sub)gradient makes weights small but almost never exactly zero.  The proximal
step does: after the smooth part of the update,

.. math:: w_{t+1} = \operatorname{prox}_{\eta_t P}(w_t + u_t)
          = \operatorname*{argmin}_z\; \tfrac12\,\|z - (w_t + u_t)\|^2 + \eta_t\,P(z),

which for :math:`P = \lambda\|\cdot\|_1` is soft-thresholding at
:math:`\eta_t\lambda`: every coordinate that lands within :math:`\eta_t\lambda`
of zero becomes exactly zero.  With ``optax.sgd(eta)`` before it this is the
proximal-gradient method (ISTA) for :math:`f(w) + P(w)`.

* :func:`proximal` is the proximal step itself, to put last in any chain.
* :func:`prox_adam` is Adam whose proximal step is taken in Adam's own
  diagonal metric :math:`D = \operatorname{diag}(\sqrt{\hat v} + \epsilon)`,
  so that an ``L1(lam)`` threshold becomes the per-coordinate
  :math:`\eta\lambda / (\sqrt{\hat v_j} + \epsilon)` (the proximal-Adagrad /
  ProxGen construction).  Its fixed points are exactly the minimizers of
  :math:`f + P`, so ``lam`` keeps the meaning it has in scikit-learn's ``Lasso``;
  after a plain ``optax.adam`` step a scalar threshold does not have that
  property (see :func:`prox_adam`).
* :func:`sparsity` counts exact zeros.

Penalty strength as a hyperparameter
------------------------------------
The penalty object is a static argument; its strength can be overridden by the
``strength=`` argument of both transformations (``strength`` of ``L1``, ``L2``,
``NonNegativeL1`` and ``GroupL1``, ``alpha`` of ``ElasticNet``).  ``strength``
may be a number or an optax schedule, and it is what
``optax.inject_hyperparams`` makes injectable, so that it can be changed between
steps without recompiling::

    tx = optax.inject_hyperparams(jaxl1.proximal)(jaxl1.L1(0.0), learning_rate=0.1, strength=1e-3)
    state = tx.init(params)
    state.hyperparams["strength"] = jnp.asarray(2e-3)   # same dtype: no retrace of a jitted step

In a chain, the injected state is the chain's element:
``optax.chain(optax.adam(lr), optax.inject_hyperparams(jaxl1.proximal)(...))`` keeps
it in ``state[1].hyperparams``.

A bare number in place of the penalty means ``L1(number)`` (and is injectable
too).  A callable ``mask`` is taken by ``inject_hyperparams`` for a schedule:
pass ``static_args="mask"`` (as for ``optax.adamw``).

Examples with neural-network libraries
--------------------------------------
Flax linen (the kernels are penalized, the biases are not)::

    model = flax.linen.Dense(4)
    params = model.init(jax.random.key(0), x)
    is_kernel = lambda path, _: any(getattr(k, "key", None) == "kernel" for k in path)
    kernels = lambda p: jax.tree_util.tree_map_with_path(is_kernel, p)
    tx = optax.chain(optax.adam(1e-2), jaxl1.proximal(jaxl1.L1(1e-1), 1e-2, mask=kernels))

Flax nnx (``nnx.Optimizer`` passes the parameters to ``tx.update``; the same
``kernels`` mask works on its state, whose paths end in ``.value``)::

    model = flax.nnx.Linear(8, 4, rngs=flax.nnx.Rngs(0))
    optimizer = flax.nnx.Optimizer(model, optax.chain(optax.adam(1e-2),
                                   jaxl1.proximal(jaxl1.L1(1e-1), 1e-2, mask=kernels)), wrt=flax.nnx.Param)
    optimizer.update(model, grads)

Haiku (linear layers call their kernel ``w``)::

    net = hk.without_apply_rng(hk.transform(lambda x: hk.Linear(4)(x)))
    params = net.init(jax.random.key(0), x)
    is_w = lambda p: jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "w", p)
    tx = jaxl1.prox_adam(1e-2, jaxl1.L1(1e-3), mask=is_w)

A group penalty over a kernel's rows, ``GroupL1(lam, axis=1)`` with ``proximal``,
zeros whole input neurons (structured sparsity).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._validation import InvalidParameterError
from .penalties import L1

__all__ = ["proximal", "prox_adam", "sparsity", "ProximalState", "ProxAdamState", "Sparsity"]

PyTree = Any
ScalarOrSchedule = float | jax.Array | Callable[[jax.Array], jax.Array]

# --------------------------------------------------------------------------- #
# states and results
# --------------------------------------------------------------------------- #
class ProximalState(NamedTuple):
    """State of :func:`proximal`: the number of updates taken (for schedules)."""

    count: jax.Array


class ProxAdamState(NamedTuple):
    """State of :func:`prox_adam`: the step count and Adam's two moment estimates."""

    count: jax.Array
    mu: optax.Updates
    nu: optax.Updates


class Sparsity(NamedTuple):
    """The result of :func:`sparsity`.

    Attributes:
      per_leaf: the fraction of exact zeros of every leaf, with the structure of
        the parameters (``None`` where the mask leaves a leaf out).
      total: the fraction of exact zeros over all counted coordinates.
    """

    per_leaf: PyTree
    total: jax.Array


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.ndarray, np.generic, jax.Array)) and not isinstance(x, bool)


def _check_nonneg(name: str, value, hi: float | None = None) -> None:
    """Raise ``ValueError`` for a concrete ``value`` that is negative, not finite or ``>= hi``."""
    if value is None or callable(value) or isinstance(value, jax.core.Tracer):
        return
    if not _is_number(value):
        raise InvalidParameterError(f"{name} must be a number or a schedule, got {value!r}")
    arr = np.asarray(value)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or (hi is not None and np.any(arr >= hi)):
        bound = f"in [0, {hi})" if hi is not None else "finite and >= 0"
        shown = arr.item() if arr.ndim == 0 else value
        raise ValueError(f"{name} must be {bound}, got {shown!r}")


def _as_penalty(penalty):
    """A penalty object; a bare number ``lam`` means ``L1(lam)``."""
    if _is_number(penalty):
        return L1(penalty)
    if not hasattr(penalty, "prox"):
        raise TypeError(f"penalty must be a jaxl1 penalty (with a prox method) or a number, got {penalty!r}")
    return penalty


def _fold_strength(penalty, strength):
    """The penalty that ``strength=`` asks for: a constant strength is set now, a schedule by :func:`_penalty_at`."""
    if strength is None:
        return penalty
    if not hasattr(penalty, "with_strength"):
        raise TypeError(f"strength= needs a penalty with a with_strength method (as every jaxl1 penalty has), "
                        f"got {penalty!r}")
    return penalty if callable(strength) else penalty.with_strength(strength)


def _penalty_at(penalty, strength, count):
    """The penalty at step ``count``: a ``strength`` schedule is evaluated there."""
    return penalty.with_strength(strength(count)) if callable(strength) else penalty


def _separable(penalty) -> bool:
    """A penalty whose prox acts coordinate by coordinate (so an array step is a per-coordinate step)."""
    return hasattr(penalty, "coordinate_parts")


def _has_leaf_weights(penalty) -> bool:
    return getattr(penalty, "weights", None) is not None


def _at(value, count):
    """A hyperparameter's value at step ``count``: schedules are called, constants returned."""
    return value(count) if callable(value) else value


def _lr_at(learning_rate, count, params):
    """The learning rate at step ``count``; an array is promoted to the parameters' precision.

    (optax's schedules return float32 even for float64 parameters; without the
    promotion a threshold ``lr * strength`` would be rounded to float32.)
    """
    lr = _at(learning_rate, count)
    if callable(learning_rate) and not isinstance(lr, jax.core.Tracer):
        # a schedule's value is known here only when update runs outside jit
        step = "" if isinstance(count, jax.core.Tracer) else f" at step {int(count)}"
        _check_nonneg(f"learning_rate (the schedule's value{step})", lr)
    if isinstance(lr, (int, float)):
        return lr
    return jnp.asarray(lr, jnp.result_type(lr, *jax.tree.leaves(params)))


def _mask_tree(mask, params):
    tree = mask(params) if callable(mask) else mask
    try:
        jax.tree.map(lambda keep, sub: None, tree, params)
    except (ValueError, TypeError) as err:
        detail = str(err).splitlines()[0]
        raise ValueError(f"mask must be a pytree of booleans with the structure of the parameters (or a prefix "
                         f"of it), as in optax.masked; {detail}") from None
    return tree


_EMPTY = optax.MaskedNode()


def _select(tree, mask_tree, fill=_EMPTY):
    """``tree`` with the subtrees under ``False`` mask leaves replaced by ``fill`` (an empty node)."""
    return jax.tree.map(lambda keep, sub: sub if keep else fill, mask_tree, tree)


def _select_penalty(penalty, mask_tree, params):
    """Restrict an ``L1``'s per-coordinate ``weights`` given for all of ``params`` to the masked leaves."""
    if _has_leaf_weights(penalty):
        if jax.tree.structure(penalty.weights) == jax.tree.structure(params):
            return dataclasses.replace(penalty, weights=_select(penalty.weights, mask_tree))
    return penalty


def _delta(new, params, like):
    """``new - params`` in the dtype of ``like`` (so ``params + delta`` is ``new``, zeros exactly)."""
    return jax.tree.map(lambda n, p, u: jnp.asarray(n - p, dtype=jnp.result_type(u)), new, params, like)


def _diag_prox(penalty, tree, steps):
    """Prox of a coordinate-separable penalty with a per-coordinate step (same structure as ``tree``)."""
    leaves, treedef = jax.tree.flatten(tree)
    step_leaves = treedef.flatten_up_to(steps)
    if _has_leaf_weights(penalty):
        weights = jax.tree.leaves(penalty.weights)
        if len(weights) != len(leaves):
            raise ValueError(f"weights has {len(weights)} leaves for {len(leaves)} penalized parameters")
        per_leaf = [dataclasses.replace(penalty, weights=w) for w in weights]
    else:
        per_leaf = [penalty] * len(leaves)
    # Each of these penalties' prox is elementwise in ``step``, so an array step is a per-coordinate step.
    out = [pen.prox(x, s) for pen, x, s in zip(per_leaf, leaves, step_leaves, strict=True)]
    return jax.tree.unflatten(treedef, out)


def _prox_step(prox, penalty):
    """``u -> prox(penalty, w + u, **extra) - w`` as a stateless transformation, the piece ``optax.masked`` wraps."""

    def update_fn(updates, state, params, **extra):
        return _delta(prox(penalty, optax.apply_updates(params, updates), **extra), params, updates), state

    return optax.GradientTransformationExtraArgs(lambda params: optax.EmptyState(), update_fn)


def _prox_updates(prox, penalty, updates, params, mask, **extra):
    """The updates after the step of ``prox(penalty, w, **extra)`` on the leaves ``mask`` selects (all without one).

    ``optax.masked`` does the masking: the other leaves' updates pass through as
    they are, and an ``extra`` argument shaped like the updates (``prox_adam``'s
    per-coordinate steps) is restricted with them.  Done here first: the mask is
    evaluated on ``params`` (``optax.masked`` would give it the updates), and an
    ``L1``'s ``weights`` given for all of ``params`` are restricted to the leaves
    it selects.
    """
    if mask is None:
        tx = _prox_step(prox, penalty)
    else:
        m = _mask_tree(mask, params)
        tx = optax.masked(_prox_step(prox, _select_penalty(penalty, m, params)), m, mask_compatible_extra_args=True)
    return tx.update(updates, tx.init(params), params, **extra)[0]


# --------------------------------------------------------------------------- #
# transformations
# --------------------------------------------------------------------------- #
def proximal(
    penalty,
    learning_rate: ScalarOrSchedule,
    mask: PyTree | Callable[[PyTree], PyTree] | None = None,
    *,
    strength: ScalarOrSchedule | None = None,
) -> optax.GradientTransformation:
    r"""The proximal step of a penalty, as the last transformation of a chain.

    Given the parameters :math:`w_t` and the update :math:`u_t` produced by the
    transformations before it (``-eta * g`` after ``optax.sgd(eta)``), it returns
    the update :math:`w_{t+1} - w_t` with

    .. math:: w_{t+1} = \operatorname{prox}_{\eta_t P}(w_t + u_t)
              = \operatorname*{argmin}_z\; \tfrac12\|z - w_t - u_t\|^2 + \eta_t P(z),

    :math:`\eta_t` the learning rate at step :math:`t`.  For ``L1(lam)`` this is
    soft-thresholding at :math:`\eta_t\lambda`, and ``params + updates`` holds
    exact zeros.  ``chain(sgd(1 / L), proximal(L1(lam), 1 / L))`` on the full
    batch is ISTA for :math:`f + P` (:math:`L` the Lipschitz constant of
    :math:`\nabla f`); ``lam`` is then scikit-learn's ``alpha`` when :math:`f` is
    a mean over samples.  Put it last: a later transformation would move the
    zeros.

    The state is a :class:`ProximalState` whatever the arguments are, so the
    transformation works under ``optax.inject_hyperparams`` (``learning_rate``
    and ``strength`` injectable, see the module documentation) and inside
    ``optax.MultiSteps``.

    Args:
      penalty: a penalty from :mod:`jaxl1.penalties` (``L1``, weighted ``L1``,
        ``L2``, ``ElasticNet``, ``NonNegativeL1``, ``GroupL1``) or any object
        with ``prox(w, step)`` on a pytree; a number ``lam`` means ``L1(lam)``.
        With ``mask``, an ``L1``'s ``weights`` has the structure of the
        parameters (or of the masked parameters alone).
      learning_rate: :math:`\eta_t`, a non-negative number or an optax schedule
        (step count to number); use the one given to the optimizer before it.
      mask: optax-style; a pytree of booleans with the structure of (a prefix
        of) the parameters, or a callable from the parameters to one.  Leaves
        marked ``False`` are not penalized: their updates pass through unchanged
        (the step is wrapped in ``optax.masked``; a callable is given the
        parameters, where ``optax.masked`` would give it the updates).
      strength: overrides the penalty's strength (``strength``, or ``alpha`` of
        ``ElasticNet``); a number or a schedule.

    Returns:
      An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Raises:
      ValueError: a concrete negative or non-finite ``learning_rate``; ``update``
        called without ``params``.
      TypeError: ``penalty`` has no ``prox``, or ``strength`` is given for a
        penalty without a strength field.

    Examples:
      >>> import jax.numpy as jnp, optax, jaxl1
      >>> params = {"w": jnp.array([1.0, -1.0, 0.25]), "b": jnp.array([0.125])}
      >>> grads = {"w": jnp.array([0.5, 0.5, 0.0]), "b": jnp.array([0.5])}
      >>> tx = optax.chain(optax.sgd(0.5),
      ...                  jaxl1.proximal(jaxl1.L1(0.5), 0.5, mask={"w": True, "b": False}))
      >>> updates, state = tx.update(grads, tx.init(params), params)
      >>> new = optax.apply_updates(params, updates)
      >>> new["w"].tolist(), new["b"].tolist()  # w soft-thresholded at 0.25, b a plain sgd step
      ([0.5, -1.0, 0.0], [-0.125])
    """
    penalty = _as_penalty(penalty)
    _check_nonneg("learning_rate", learning_rate)
    _check_nonneg("strength", strength)
    penalty = _fold_strength(penalty, strength)

    def init_fn(params):
        del params
        return ProximalState(count=jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("proximal needs params: call tx.update(updates, state, params)")
        lr = _lr_at(learning_rate, state.count, params)
        prox_at_lr = lambda pen, w: pen.prox(w, lr)
        out = _prox_updates(prox_at_lr, _penalty_at(penalty, strength, state.count), updates, params, mask)
        return out, ProximalState(count=optax.safe_increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


def prox_adam(
    learning_rate: ScalarOrSchedule,
    penalty,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mask: PyTree | Callable[[PyTree], PyTree] | None = None,
    *,
    strength: ScalarOrSchedule | None = None,
) -> optax.GradientTransformation:
    r"""Adam with the proximal step taken in Adam's own metric (proximal Adam).

    With Adam's moments (:math:`g_t` the gradient, :math:`t` counted from 1)

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\quad
        \hat m_t = \frac{m_t}{1-\beta_1^t},\quad \hat v_t = \frac{v_t}{1-\beta_2^t},

    (computed as ``optax.adam`` computes them, with ``optax.tree.update_moment``,
    ``update_moment_per_elem_norm`` and ``bias_correction``) and the diagonal
    preconditioner :math:`D_t = \operatorname{diag}(\sqrt{\hat v_t + \epsilon_{root}} + \epsilon)`,
    the step is

    .. math:: w_{t+1} = \operatorname*{argmin}_z\; \tfrac12\,\|z - w_t + \eta_t D_t^{-1}\hat m_t\|_{D_t}^2
              + \eta_t P(z),

    the exact proximal step in the metric that Adam's step uses.  For a
    coordinate-separable penalty this is the penalty's prox with the
    per-coordinate step :math:`\eta_t / D_{t,j}`; for ``L1(lam)`` the threshold
    of coordinate :math:`j` is :math:`\eta_t\lambda c_j / (\sqrt{\hat v_{t,j}} + \epsilon)`.

    Why not ``chain(adam(eta), proximal(L1(lam), eta))``: there the threshold is
    the scalar :math:`\eta\lambda` while Adam's step on coordinate :math:`j` is
    :math:`\eta\,\hat m_j / D_j`, so on the support a fixed point satisfies
    :math:`g_j = -\lambda D_j \operatorname{sign}(w_j)`: the strength is
    rescaled coordinate by coordinate by the gradient's own magnitude, and
    ``lam`` no longer means scikit-learn's ``alpha``.  Here a fixed point
    satisfies :math:`g_j = -\lambda c_j \operatorname{sign}(w_j)` on the
    support and :math:`|g_j| \le \lambda c_j` off it, the optimality
    conditions of :math:`f + P`, whatever :math:`D`.

    Args:
      learning_rate: :math:`\eta_t`, a non-negative number or an optax schedule.
      penalty: a coordinate-separable penalty: ``L1`` (weighted or not),
        ``NonNegativeL1``, ``ElasticNet`` or ``L2``; a number ``lam`` means
        ``L1(lam)``.  (For ``GroupL1`` use ``chain(adam, proximal(...))``.)
      b1: :math:`\beta_1`, in [0, 1).
      b2: :math:`\beta_2`, in [0, 1).
      eps: :math:`\epsilon \ge 0`, added to :math:`\sqrt{\hat v}`.
      eps_root: :math:`\epsilon_{root} \ge 0`, added to :math:`\hat v` inside the root.
      mask: optax-style pytree of booleans or callable (given the parameters);
        leaves marked ``False`` take the plain Adam step (``optax.masked``
        around the proximal part).
      strength: overrides the penalty's strength (``alpha`` of ``ElasticNet``);
        a number or a schedule, injectable with ``optax.inject_hyperparams``.

    Returns:
      An ``optax.GradientTransformation`` (the whole optimizer: do not chain it
      after another Adam) whose ``update`` takes gradients and needs ``params``.

    Raises:
      ValueError: a concrete hyperparameter out of range; ``update`` called
        without ``params``.
      TypeError: a penalty that is not coordinate-separable.

    Examples:
      >>> import jax.numpy as jnp, optax, jaxl1
      >>> params = jnp.array([1.0, 0.5, 0.5])
      >>> grads = jnp.array([0.5, 0.5, 2.0])
      >>> tx = jaxl1.prox_adam(0.25, jaxl1.L1(0.5), eps=0.0)
      >>> updates, state = tx.update(grads, tx.init(params), params)
      >>> # Adam's first step moves every coordinate by 0.25 (to 0.75, 0.25, 0.25);
      >>> # the thresholds 0.25 * 0.5 / |g_j| are 0.25, 0.25 and 0.0625
      >>> [round(x, 4) for x in optax.apply_updates(params, updates).tolist()]
      [0.5, 0.0, 0.1875]
    """
    penalty = _as_penalty(penalty)
    for name, value, hi in [
        ("learning_rate", learning_rate, None),
        ("b1", b1, 1.0),
        ("b2", b2, 1.0),
        ("eps", eps, None),
        ("eps_root", eps_root, None),
        ("strength", strength, None),
    ]:
        _check_nonneg(name, value, hi)
    if not _separable(penalty):
        raise TypeError(
            f"prox_adam needs a coordinate-separable penalty (L1, NonNegativeL1, ElasticNet, L2), got "
            f"{type(penalty).__name__}; use optax.chain(optax.adam(...), jaxl1.proximal(...)) instead"
        )
    penalty = _fold_strength(penalty, strength)

    def init_fn(params):
        return ProxAdamState(
            count=jnp.zeros([], jnp.int32),
            mu=optax.tree.zeros_like(params),
            nu=optax.tree.zeros_like(params),
        )

    def update_fn(grads, state, params=None):
        if params is None:
            raise ValueError("prox_adam needs params: call tx.update(grads, state, params)")
        count = optax.safe_increment(state.count)
        mu = optax.tree.update_moment(grads, state.mu, b1, 1)
        nu = optax.tree.update_moment_per_elem_norm(grads, state.nu, b2, 2)
        mu_hat, nu_hat = optax.tree.bias_correction(mu, b1, count), optax.tree.bias_correction(nu, b2, count)
        lr = _lr_at(learning_rate, state.count, params)
        steps = jax.tree.map(lambda v: lr / (jnp.sqrt(v + eps_root) + eps), nu_hat)  # eta / D, per coordinate
        adam = jax.tree.map(lambda s, m: -s * m, steps, mu_hat)  # Adam's own update
        pen = _penalty_at(penalty, strength, state.count)
        return _prox_updates(_diag_prox, pen, adam, params, mask, steps=steps), ProxAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


# --------------------------------------------------------------------------- #
# diagnostics
# --------------------------------------------------------------------------- #
def sparsity(params: PyTree, mask: PyTree | Callable[[PyTree], PyTree] | None = None) -> Sparsity:
    r"""The fraction of exact zeros, per leaf and in total.

    .. math:: s_\ell = \frac{\#\{j : w_{\ell j} = 0\}}{n_\ell}, \qquad
              s = \frac{\sum_\ell \#\{j : w_{\ell j} = 0\}}{\sum_\ell n_\ell},

    over the leaves :math:`\ell` selected by ``mask``.  Pure and traceable.

    Args:
      params: a pytree of arrays.
      mask: optax-style pytree of booleans or callable selecting the leaves to
        count (all by default).

    Returns:
      A :class:`Sparsity` with ``per_leaf`` (the structure of ``params``, ``None``
      at leaves left out) and ``total`` (``0`` when nothing is counted).

    Examples:
      >>> import jax.numpy as jnp, jaxl1
      >>> params = {"kernel": jnp.array([[0.0, 1.0], [0.0, 0.0]]), "bias": jnp.array([0.0, 2.0])}
      >>> s = jaxl1.sparsity(params)
      >>> float(s.per_leaf["kernel"]), float(s.per_leaf["bias"]), round(float(s.total), 4)
      (0.75, 0.5, 0.6667)
      >>> float(jaxl1.sparsity(params, mask={"kernel": True, "bias": False}).total)
      0.75
    """
    tree = params if mask is None else _select(params, _mask_tree(mask, params), fill=None)
    leaves = jax.tree.leaves(tree)
    per_leaf = jax.tree.map(lambda x: jnp.mean(jnp.asarray(x) == 0) if jnp.size(x) else jnp.zeros([]), tree)
    zeros = sum((jnp.sum(jnp.asarray(x) == 0) for x in leaves), jnp.zeros([], jnp.int32))
    size = sum(int(np.size(x)) for x in leaves)
    total = zeros / size if size else jnp.zeros([])
    return Sparsity(per_leaf=per_leaf, total=total)

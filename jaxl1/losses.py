r"""Data-fit terms and the datafit protocol.

A loss is a weighted mean over samples of a per-sample term :math:`\ell(y_i, z_i)`
of the linear predictor :math:`z = Xw + b`:

.. math:: F(z) = \sum_i s_i\,\ell(y_i, z_i), \qquad s_i = \frac{\text{sample\_weight}_i}{\sum_k \text{sample\_weight}_k}

(:math:`s_i = 1/n` without sample weights, scikit-learn's convention).

**The datafit protocol.**  The solver, the duality gap, the path, cross-validation and
implicit differentiation ask the loss object for what they need and never for its
name; a loss defined outside the package works wherever ``loss=`` is accepted.  All
methods are pure, take the normalized weights ``s`` explicitly and work on arrays of
the dtype of ``X``:

* ``value(y, z, s)``: :math:`F(z)`, a scalar (twice differentiable in ``z`` where the
  solution lies: implicit differentiation differentiates it);
* ``grad(y, z, s)``: :math:`\partial F / \partial z` (one entry per sample);
* ``hess(y, z, s)``: the diagonal of :math:`\partial^2 F / \partial z^2` (prox-Newton models);
* ``curvature``: a float bounding :math:`\ell''` for every sample (the gradient's
  Lipschitz constant is ``curvature`` times the top eigenvalue of :math:`X^\top S X`), or
  ``math.inf`` for a loss without a bound (Poisson): the solvers then start from the curvature at
  the null model and proximal-gradient steps search their step size by backtracking;
* optional ``is_quadratic``: ``True`` only for :math:`\ell = \tfrac12 (y - z)^2`, which allows
  the Gram form and exact working-set subproblems;
* ``heldout(y, z)``: the per-sample held-out score of cross-validation (lower is better);
* optional ``intercept(y, z, s, b0=None, n_newton=20)``: the optimal intercept for a
  fixed predictor ``z`` (:func:`optimal_intercept` otherwise);
* optional ``conjugate(y, u, s)`` and ``project_dual(y, u, s)``: the Fenchel conjugate
  :math:`F^*` and the projection of a dual point onto its domain.  With them a solve
  is certified by a **duality gap**; without them by the **optimality** measure
  :math:`\|G(w)\|^2 / (2L)`, :math:`G` the proximal-gradient mapping, the objective
  decrease one proximal-gradient step is guaranteed to make (zero exactly at a
  solution).  ``FitResult.certificate`` says which one a result carries;
* optional ``validate_y(y)``: raise ``ValueError`` for targets the loss cannot take;
* ``name``: a string for messages.

A loss is a static argument of the compiled solvers: it must be hashable, and two
equal losses share one compiled program (a frozen dataclass holding its parameters
as Python floats does both).  Subclassing :class:`Loss` gives every method from the
per-sample term alone.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

__all__ = ["Loss", "Squared", "Logistic", "Multinomial", "Poisson", "LOSSES", "get_loss", "optimal_intercept", "intercept_of",
           "is_quadratic", "has_conjugate", "heldout_scores"]


class Loss:
    r"""Base class for a user-defined loss: define ``per_sample(y, z)`` (:math:`\ell`) and ``curvature``.

    ``value``, ``grad``, ``hess``, ``heldout`` and ``intercept`` are derived from ``per_sample``
    by automatic differentiation; without ``conjugate`` the solves are certified by the
    optimality measure (see the module docstring).  Make the subclass a frozen dataclass so
    that equal losses share one compiled program.

    Examples:
      >>> import dataclasses, jax.numpy as jnp, numpy as np, jaxl1
      >>> @dataclasses.dataclass(frozen=True)
      ... class Huber(jaxl1.Loss):
      ...     delta: float = 1.0
      ...     name = "huber"
      ...     curvature = 1.0
      ...     def per_sample(self, y, z):
      ...         r = jnp.abs(y - z)
      ...         return jnp.where(r <= self.delta, 0.5 * r**2, self.delta * (r - 0.5 * self.delta))
      >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
      >>> res = jaxl1.fit(X, np.array([1.0, 0.0, 1.0, 20.0]), jaxl1.L1(0.1), loss=Huber(1.0))
      >>> res.certificate, bool(res.converged)
      ('optimality', True)
    """

    name = "loss"
    curvature = 1.0
    is_quadratic = False

    def per_sample(self, y, z):
        raise NotImplementedError("a Loss subclass defines per_sample(y, z)")

    def value(self, y, z, s):
        return jnp.sum(s * self.per_sample(y, z))

    def grad(self, y, z, s):
        return s * jax.vmap(jax.grad(self.per_sample, argnums=1))(y, z)

    def hess(self, y, z, s):
        return s * jax.vmap(jax.grad(jax.grad(self.per_sample, argnums=1), argnums=1))(y, z)

    def heldout(self, y, z):
        return self.per_sample(y, z)

    def intercept(self, y, z, s, b0=None, n_newton=40):
        return optimal_intercept(self, y, z, s, b0=b0, n_newton=n_newton)


def rows_of(a, like):
    """The per-row array ``a`` (``(n,)`` sample weights, ``(p,)`` column scales) shaped to broadcast against
    ``like``: unchanged for a 1-D ``like``, ``(n, 1)`` against an ``(n, K)`` one."""
    return jnp.reshape(a, jnp.shape(a) + (1,) * (jnp.ndim(like) - 1))


class Squared:
    r""":math:`\ell(y, z) = \tfrac12 \|y - z\|^2`, so :math:`F = \tfrac{1}{2n}\|y - Xw - b\|^2`.

    ``y`` is ``(n,)``, or ``(n, T)`` for ``T`` responses (multi-task: ``coef`` is then ``(p, T)`` and
    :math:`F = \tfrac{1}{2n}\|Y - XW - b\|_F^2`, scikit-learn's ``MultiTaskLasso`` data term).

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxl1.losses import Squared
      >>> s = jnp.full(2, 0.5)
      >>> float(Squared.value(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]), s))
      1.25
    """

    name = "squared"
    curvature = 1.0  # sup of d^2 l / dz^2
    is_quadratic = True
    multi_output = True  # y may be (n, T)

    @staticmethod
    def validate_y(y: np.ndarray) -> None:
        pass

    @staticmethod
    def value(y, z, s):
        return 0.5 * jnp.sum(rows_of(s, z) * jnp.square(y - z))

    @staticmethod
    def grad(y, z, s):
        """Derivative of ``value`` with respect to ``z`` (one entry per sample and response)."""
        return rows_of(s, z) * (z - y)

    @staticmethod
    def hess(y, z, s):
        """Second derivative of ``value`` with respect to ``z`` (diagonal)."""
        return rows_of(s, z) * jnp.ones_like(z)

    @staticmethod
    def conjugate(y, u, s):
        r""":math:`F^*(u) = \sum_i u_i y_i + u_i^2 / (2 s_i)` (:math:`u_i = 0` where :math:`s_i = 0`)."""
        sc = rows_of(s, u)
        pos = sc > 0
        return jnp.sum(u * y + jnp.where(pos, jnp.square(u) / (2 * jnp.where(pos, sc, 1.0)), 0.0))

    @staticmethod
    def project_dual(y, u, s):
        return jnp.where(rows_of(s, u) > 0, u, 0.0)

    @staticmethod
    def intercept(y, z, s, b0=None):
        """The optimal intercept for the predictor ``z`` (without intercept): the weighted mean residual."""
        return s @ (y - z)

    @staticmethod
    def heldout(y, z):
        """Per-sample held-out score: the squared error (averaged over the responses of a 2-D ``y``)."""
        err = jnp.square(y - z)
        return err if jnp.ndim(err) == 1 else jnp.mean(err, axis=-1)


def _logistic_margin(y, z):
    return (2 * y - 1) * z


class Logistic:
    r""":math:`\ell(y, z) = \log(1 + e^{-t z})`, :math:`t = 2y - 1`, labels :math:`y \in \{0, 1\}`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxl1.losses import Logistic
      >>> round(float(Logistic.value(jnp.array([1.0]), jnp.array([0.0]), jnp.ones(1))), 6)
      0.693147
    """

    name = "logistic"
    curvature = 0.25
    is_quadratic = False

    @staticmethod
    def validate_y(y: np.ndarray) -> None:
        if not np.all((y == 0) | (y == 1)):
            bad = np.unique(y[(y != 0) & (y != 1)])[:5]
            raise ValueError(f"y must hold labels in {{0, 1}} for loss='logistic'; found {bad.tolist()}")

    @staticmethod
    def value(y, z, s):
        return jnp.sum(s * jnp.logaddexp(0.0, -_logistic_margin(y, z)))

    @staticmethod
    def grad(y, z, s):
        t = 2 * y - 1
        return -s * t * jax.nn.sigmoid(-t * z)

    @staticmethod
    def hess(y, z, s):
        p = jax.nn.sigmoid(z)
        return s * p * (1 - p)

    DUAL_RANGE = (0.0, 1.0)  # of a = _a(y, u, s) on the conjugate's domain

    @staticmethod
    def _a(y, u, s):
        # a_i = -t_i u_i / s_i in [0, 1] on the conjugate's domain
        pos = s > 0
        return jnp.where(pos, -(2 * y - 1) * u / jnp.where(pos, s, 1.0), 0.0)

    @staticmethod
    def conjugate(y, u, s):
        r""":math:`F^*(u) = \sum_i s_i\,[a_i \log a_i + (1 - a_i)\log(1 - a_i)]`.

        Here :math:`a_i = -t_i u_i / s_i \in [0, 1]`.
        """
        a = Logistic._a(y, u, s)
        return jnp.sum(s * (xlogy(a, a) + xlogy(1 - a, 1 - a)))

    @staticmethod
    def project_dual(y, u, s):
        a = jnp.clip(Logistic._a(y, u, s), 0.0, 1.0)
        return -(2 * y - 1) * a * s

    @staticmethod
    def intercept(y, z, s, b0=None, n_newton=20):
        """The optimal intercept for the predictor ``z`` (without intercept), by safeguarded Newton steps.

        The derivative ``g(b) = sum_i s_i (sigmoid(z_i + b) - y_i)`` increases with ``b`` and changes sign
        between ``logit(ybar) - max z`` and ``logit(ybar) - min z`` (over the weighted samples).  Each step
        shrinks this bracket with the sign of ``g``, and a Newton step that leaves it is replaced by the
        bracket's midpoint, so the iteration cannot diverge.
        """
        ybar = jnp.sum(s * y)
        eps = jnp.finfo(jnp.result_type(z)).eps
        ybar_c = jnp.clip(ybar, eps, 1 - eps)
        logit = jnp.log(ybar_c) - jnp.log1p(-ybar_c)
        pos = s > 0
        lo = logit - jnp.max(jnp.where(pos, z, -jnp.inf))
        hi = logit - jnp.min(jnp.where(pos, z, jnp.inf))
        b = jnp.clip(logit if b0 is None else b0, lo, hi)

        def step(carry, _):
            b, lo, hi = carry
            p = jax.nn.sigmoid(z + b)
            g = jnp.sum(s * (p - y))
            h = jnp.sum(s * p * (1 - p))
            lo = jnp.where(g < 0, b, lo)
            hi = jnp.where(g > 0, b, hi)
            newton = b - g / jnp.maximum(h, 1e-12)
            b = jnp.where((newton >= lo) & (newton <= hi), newton, 0.5 * (lo + hi))
            return (b, lo, hi), None

        (b, _, _), _ = jax.lax.scan(step, (b, lo, hi), None, length=n_newton)
        return b

    @staticmethod
    def heldout(y, z):
        """Per-sample held-out score: the deviance ``2 log(1 + exp(-t z))``."""
        return 2 * jnp.logaddexp(0.0, -_logistic_margin(y, z))


@dataclasses.dataclass(frozen=True)
class Multinomial:
    r"""Multinomial logistic loss: :math:`\ell(y, z) = \log \sum_k e^{z_k} - y^\top z` for ``K`` classes.

    The solvers see ``y`` one-hot, ``(n, K)`` (rows in the probability simplex), and ``z = XW + b``
    with ``coef`` of shape ``(p, K)`` and ``intercept`` of shape ``(K,)``; the functional API takes
    integer labels ``0 .. K-1`` and encodes them (:meth:`encode_y`).  The objective is
    :math:`-\sum_i s_i \log \mathrm{softmax}(x_i W + b)_{y_i}`, scikit-learn's multinomial
    ``LogisticRegression`` data term divided by ``n``.  The loss does not change when the same vector
    is added to every class's coefficients (and intercepts); the penalty decides between such
    solutions, so compare probabilities, not intercepts, with other solvers.

    Args:
      n_classes: the number of classes ``K``; needed only for labels under a trace (``jit``), where
        it cannot be read off the labels.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxl1.losses import Multinomial
      >>> Y = Multinomial().encode_y(jnp.array([0.0, 2.0, 1.0]))
      >>> Y.tolist()
      [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
      >>> round(float(Multinomial().value(Y, jnp.zeros((3, 3)), jnp.full(3, 1 / 3))), 6)  # log 3
      1.098612
    """

    name = "multinomial"
    curvature = 0.5  # the Hessian of log-sum-exp is at most (I - 11'/K) / 2 (Boehning's bound)
    is_quadratic = False
    multi_output = True

    n_classes: int | None = None

    def __post_init__(self):
        K = self.n_classes
        if K is not None and (isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 2):
            raise ValueError(f"n_classes must be an integer >= 2 or None, got {K!r}")
        if K is not None:
            object.__setattr__(self, "n_classes", int(K))

    def encode_y(self, y):
        """Labels ``0 .. K-1`` (``(n,)``) as a one-hot ``(n, K)`` array; a 2-D ``y`` is checked and kept.

        Raises ``ValueError`` naming ``y`` for labels that are not integers ``0 .. K-1`` (each of them
        present, at least two), or rows of a 2-D ``y`` outside the probability simplex.
        """
        dtype = jnp.result_type(y) if jnp.issubdtype(jnp.result_type(y), jnp.floating) else jnp.result_type(float)
        if isinstance(y, jax.core.Tracer):
            if jnp.ndim(y) == 2:
                return y.astype(dtype)
            if self.n_classes is None:
                raise ValueError("y: traced labels need the number of classes: pass "
                                 "loss=jaxl1.losses.Multinomial(n_classes=K), or a one-hot (n, K) y")
            return jax.nn.one_hot(y.astype(jnp.int32), self.n_classes, dtype=dtype)
        a = np.asarray(y)
        if a.ndim == 2:
            if a.shape[1] < 2 or np.any(a < 0) or not np.allclose(a.sum(axis=1), 1.0, atol=1e-6):
                raise ValueError("y of shape (n, K) must hold one row per sample in the probability simplex "
                                 "(one-hot labels, K >= 2) for loss='multinomial'")
            if self.n_classes is not None and a.shape[1] != self.n_classes:
                raise ValueError(f"y has {a.shape[1]} columns for Multinomial(n_classes={self.n_classes})")
            return jnp.asarray(a, dtype)
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)) or np.any(a < 0):
            bad = np.unique(a[~np.isfinite(a) | (a != np.round(a)) | (a < 0)])[:5]
            raise ValueError(f"y must hold integer labels 0 .. K-1 for loss='multinomial'; found {bad.tolist()} "
                             "(encode other labels with np.unique(y, return_inverse=True))")
        labels = a.astype(np.int64)
        K = int(labels.max()) + 1 if self.n_classes is None else self.n_classes
        if labels.max() >= K:
            raise ValueError(f"y holds label {int(labels.max())}, beyond n_classes={K} (labels are 0 .. K-1)")
        counts = np.bincount(labels, minlength=K)
        if self.n_classes is None and np.any(counts == 0):
            raise ValueError(f"y must hold integer labels 0 .. K-1, each present, for loss='multinomial'; label(s) "
                             f"{np.flatnonzero(counts == 0)[:5].tolist()} have no sample (relabel with "
                             "np.unique(y, return_inverse=True))")
        if K < 2:
            raise ValueError("y has a single class; loss='multinomial' needs at least two")
        return jnp.asarray(np.eye(K, dtype=dtype)[labels])

    def validate_y(self, y: np.ndarray) -> None:
        self.encode_y(y)

    @staticmethod
    def value(y, z, s):
        return jnp.sum(s * (jax.nn.logsumexp(z, axis=1) - jnp.sum(y * z, axis=1)))

    @staticmethod
    def grad(y, z, s):
        return s[:, None] * (jax.nn.softmax(z, axis=1) - y)

    @staticmethod
    def hess(y, z, s):
        p = jax.nn.softmax(z, axis=1)
        return s[:, None] * p * (1 - p)

    DUAL_RANGE = (0.0, None)  # of a = _a(y, u, s) on the conjugate's domain (rows that sum to 1)

    @staticmethod
    def _a(y, u, s):
        # a_i = y_i + u_i / s_i, in the simplex on the conjugate's domain (y_i where s_i = 0)
        pos = (s > 0)[:, None]
        return y + jnp.where(pos, u / jnp.where(pos, s[:, None], 1.0), 0.0)

    @staticmethod
    def conjugate(y, u, s):
        r""":math:`F^*(u) = \sum_i s_i \sum_k a_{ik} \log a_{ik}`, :math:`a_i = y_i + u_i / s_i` in the simplex.

        (Less :math:`\sum_i s_i \sum_k y_{ik} \log y_{ik}`, which is 0 for one-hot labels.)
        """
        a = Multinomial._a(y, u, s)
        return jnp.sum(s * (jnp.sum(xlogy(a, a), axis=1) - jnp.sum(xlogy(y, y), axis=1)))

    @staticmethod
    def project_dual(y, u, s):
        a = jnp.maximum(Multinomial._a(y, u, s), 0.0)
        a = a / jnp.sum(a, axis=1, keepdims=True)
        return s[:, None] * (a - y)

    @staticmethod
    def intercept(y, z, s, b0=None, n_newton=20):
        """The optimal intercepts ``(K,)`` for the predictor ``z``, centred to sum 0.

        Diagonal Newton steps from ``b0`` (or the log class frequencies); a step that does not lower the
        loss is replaced by the majorization step ``b - 2 g`` (the Hessian is at most ``I / 2``), which
        always does.  A class without weight is held at ``log(eps)`` below the others.
        """
        dtype = jnp.result_type(z)
        eps = jnp.finfo(dtype).eps
        if b0 is None:
            b = jnp.log(jnp.maximum(s @ y, eps))
        else:
            b = jnp.asarray(b0, dtype)
        value = lambda b: Multinomial.value(y, z + b, s)

        def step(b, _):
            p = jax.nn.softmax(z + b, axis=1)
            g = s @ (p - y)
            h = s @ (p * (1 - p))
            newton = b - g / jnp.maximum(h, eps)
            safe = b - 2 * g
            b = jnp.where(value(newton) <= value(safe), newton, safe)
            return b - jnp.mean(b), None

        b, _ = jax.lax.scan(step, b - jnp.mean(b), None, length=n_newton)
        return b

    @staticmethod
    def heldout(y, z):
        """Per-sample held-out score: the deviance ``2 (log sum exp z - y'z)``."""
        return 2 * (jax.nn.logsumexp(z, axis=1) - jnp.sum(y * z, axis=1))


class Poisson:
    r"""Poisson regression with the log link: :math:`\ell(y, z) = e^z - y z + (y \log y - y)`.

    ``y`` holds non-negative counts (or rates, with the exposure as sample weights, as scikit-learn's
    ``PoissonRegressor``).  The objective :math:`\sum_i s_i (e^{z_i} - y_i z_i)` is shifted by the
    constant :math:`\sum_i s_i (y_i \log y_i - y_i)` so that ``value`` is half the mean Poisson
    deviance: it is 0 only at the saturated fit, which makes it a scale for relative tolerances.  The
    minimizers are those of :math:`\tfrac1n \sum_i (e^{z_i} - y_i z_i) + P(w)` (glmnet's and skglm's
    Poisson objective).  Its curvature :math:`e^z` has no bound (``curvature = inf``).

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxl1.losses import Poisson
      >>> y, s = jnp.array([0.0, 2.0]), jnp.full(2, 0.5)
      >>> round(float(Poisson.value(y, jnp.log(jnp.array([1.0, 2.0])), s)), 6)  # 0.5 * (1 + 0)
      0.5
    """

    name = "poisson"
    curvature = float("inf")  # e^z is unbounded
    is_quadratic = False

    @staticmethod
    def validate_y(y: np.ndarray) -> None:
        if np.any(y < 0):
            bad = np.unique(y[y < 0])[:5]
            raise ValueError(f"y must hold non-negative counts for loss='poisson'; found {bad.tolist()}")

    @staticmethod
    def value(y, z, s):
        return jnp.sum(s * (jnp.exp(z) - y * z + xlogy(y, y) - y))

    @staticmethod
    def grad(y, z, s):
        return s * (jnp.exp(z) - y)

    @staticmethod
    def hess(y, z, s):
        return s * jnp.exp(z)

    DUAL_RANGE = (0.0, None)  # of a = _a(y, u, s) on the conjugate's domain

    @staticmethod
    def _a(y, u, s):
        # a_i = y_i + u_i / s_i = exp(z_i) >= 0 on the conjugate's domain (y_i where s_i = 0)
        pos = s > 0
        return y + jnp.where(pos, u / jnp.where(pos, s, 1.0), 0.0)

    @staticmethod
    def conjugate(y, u, s):
        r""":math:`F^*(u) = \sum_i s_i\,[a_i \log a_i - a_i - (y_i \log y_i - y_i)]`, :math:`a_i = y_i + u_i / s_i \ge 0`."""
        a = Poisson._a(y, u, s)
        return jnp.sum(s * (xlogy(a, a) - a - xlogy(y, y) + y))

    @staticmethod
    def project_dual(y, u, s):
        return s * (jnp.maximum(Poisson._a(y, u, s), 0.0) - y)

    @staticmethod
    def intercept(y, z, s, b0=None, n_newton=None):
        """The optimal intercept for the predictor ``z``, in closed form: ``log(sum s y / sum s exp(z))``."""
        pos = s > 0
        log_mu = jax.nn.logsumexp(jnp.where(pos, z, -jnp.inf), b=jnp.where(pos, s, 1.0))
        return jnp.log(jnp.sum(s * y)) - log_mu

    @staticmethod
    def heldout(y, z):
        """Per-sample held-out score: the Poisson deviance ``2 (y log(y / mu) - y + mu)``, ``mu = exp(z)``."""
        return 2 * (xlogy(y, y) - y * z - y + jnp.exp(z))


def optimal_intercept(loss, y, z, s, b0=None, n_newton=40):
    """The minimizer over ``b`` of ``loss.value(y, z + b, s)``, for any convex loss of the protocol.

    The derivative ``g(b) = sum(loss.grad(y, z + b, s))`` increases with ``b``.  A bracket where it
    changes sign is found by doubling a step away from ``b0`` (or 0) in the descent direction, then
    shrunk by safeguarded Newton steps (a step that leaves the bracket, or has no curvature, is
    replaced by the bracket's midpoint), so the iteration cannot diverge.
    """
    dtype = jnp.result_type(z)
    g = lambda b: jnp.sum(loss.grad(y, z + b, s))
    b = jnp.zeros([], dtype) if b0 is None else jnp.asarray(b0, dtype)
    g0 = g(b)
    direction = jnp.where(g0 > 0, -1.0, 1.0).astype(dtype)
    spread = jnp.max(jnp.abs(z)) + jnp.max(jnp.abs(y)) + 1.0
    widths = spread * (2.0 ** jnp.arange(-20, 40, dtype=dtype))
    far = b + direction * widths
    crossed = jax.vmap(g)(far) * direction >= 0  # the derivative's sign has changed at that point
    # the first crossing point (the farthest if none: the minimum is at least that far)
    far_b = jnp.where(jnp.any(crossed), far[jnp.argmax(crossed)], far[-1])
    lo, hi = jnp.minimum(b, far_b), jnp.maximum(b, far_b)
    lo, hi = jnp.where(g0 == 0, b, lo), jnp.where(g0 == 0, b, hi)

    def step(carry, _):
        b, lo, hi = carry
        gb = g(b)
        h = jnp.sum(loss.hess(y, z + b, s))
        lo = jnp.where(gb < 0, b, lo)
        hi = jnp.where(gb > 0, b, hi)
        newton = b - gb / jnp.where(h > 0, h, 1.0)
        ok = (h > 0) & (newton >= lo) & (newton <= hi) & (gb != 0)
        b = jnp.where(gb == 0, b, jnp.where(ok, newton, 0.5 * (lo + hi)))
        return (b, lo, hi), None

    (b, _, _), _ = jax.lax.scan(step, (b, lo, hi), None, length=n_newton)  # from b0: near it, Newton
    return b


def is_quadratic(loss) -> bool:
    """Whether ``loss`` declares itself the squared loss (``is_quadratic``; ``False`` when absent)."""
    return bool(getattr(loss, "is_quadratic", False))


def has_conjugate(loss) -> bool:
    """Whether solves with ``loss`` are certified by a duality gap (the loss has a conjugate)."""
    return hasattr(loss, "conjugate") and hasattr(loss, "project_dual")


def intercept_of(loss, y, z, s, b0=None, n_newton=None):
    """``loss.intercept`` when the loss has one, else :func:`optimal_intercept`."""
    kw = {} if n_newton is None else {"n_newton": n_newton}
    if hasattr(loss, "intercept"):
        return loss.intercept(y, z, s, b0=b0, **kw)
    return optimal_intercept(loss, y, z, s, b0=b0, **kw)


def heldout_scores(loss, y, z):
    """Per-sample held-out scores of predictions ``z``: ``loss.heldout`` or, without it, the loss itself."""
    if hasattr(loss, "heldout"):
        return loss.heldout(y, z)
    one = jnp.ones(1, jnp.result_type(z))
    return jax.vmap(lambda yi, zi: loss.value(yi[None], zi[None], one))(y, z)


LOSSES = {"squared": Squared, "logistic": Logistic, "multinomial": Multinomial(), "poisson": Poisson}


_REQUIRED = ("value", "grad", "hess", "curvature")


def get_loss(loss):
    """The loss object for a name (``"squared"``, ``"logistic"``, ``"multinomial"``, ``"poisson"``), or a loss object checked against the protocol.

    Raises ``ValueError`` naming ``loss`` for an unknown name, a missing protocol method or an
    unhashable object (a loss is a static argument of the compiled solvers).
    """
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)} or a loss object, got {loss!r}")
        return LOSSES[loss]
    missing = [attr for attr in _REQUIRED if not hasattr(loss, attr)]
    if missing:
        raise ValueError(f"loss must be one of {sorted(LOSSES)} or a loss object with {', '.join(_REQUIRED)} "
                         f"(see jaxl1.losses); {loss!r} lacks {', '.join(missing)}")
    try:
        hash(loss)
    except TypeError:
        raise ValueError(f"loss must be hashable (it is a static argument of the compiled solvers: make it a "
                         f"frozen dataclass), got {loss!r}") from None
    return loss


def bounded_curvature(loss) -> bool:
    """Whether ``loss.curvature`` bounds the loss's second derivative everywhere (finite)."""
    return bool(np.isfinite(get_loss(loss).curvature))

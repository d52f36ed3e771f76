r"""Data-fit terms.

A loss is a weighted mean over samples of a per-sample term :math:`\ell(y_i, z_i)`
of the linear predictor :math:`z = Xw + b`:

.. math:: F(z) = \sum_i s_i\,\ell(y_i, z_i), \qquad s_i = \frac{\text{sample\_weight}_i}{\sum_k \text{sample\_weight}_k}

(:math:`s_i = 1/n` without sample weights, scikit-learn's convention).  Each loss
gives its value, its derivative in :math:`z`, a bound on the second derivative
(for the Lipschitz constant of the gradient), its Fenchel conjugate (for the
duality gap), the projection of a dual point onto the conjugate's domain, and the
intercept's optimum for a fixed :math:`Xw`.  A new loss (Poisson, Huber, ...) is
one more small class registered in :data:`LOSSES`.

All methods take ``s`` (the normalized weights) explicitly and are pure.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

__all__ = ["Squared", "Logistic", "LOSSES", "get_loss"]


class Squared:
    r""":math:`\ell(y, z) = \tfrac12 (y - z)^2`, so :math:`F = \tfrac{1}{2n}\|y - Xw - b\|^2`.

    Examples:
      >>> import jax.numpy as jnp
      >>> from jaxl1.losses import Squared
      >>> s = jnp.full(2, 0.5)
      >>> float(Squared.value(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]), s))
      1.25
    """

    name = "squared"
    curvature = 1.0  # sup of d^2 l / dz^2

    @staticmethod
    def validate_y(y: np.ndarray) -> None:
        pass

    @staticmethod
    def value(y, z, s):
        return 0.5 * jnp.sum(s * jnp.square(y - z))

    @staticmethod
    def grad(y, z, s):
        """Derivative of ``value`` with respect to ``z`` (one entry per sample)."""
        return s * (z - y)

    @staticmethod
    def hess(y, z, s):
        """Second derivative of ``value`` with respect to ``z`` (diagonal)."""
        return s * jnp.ones_like(z)

    @staticmethod
    def conjugate(y, u, s):
        r""":math:`F^*(u) = \sum_i u_i y_i + u_i^2 / (2 s_i)` (:math:`u_i = 0` where :math:`s_i = 0`)."""
        pos = s > 0
        return jnp.sum(u * y + jnp.where(pos, jnp.square(u) / (2 * jnp.where(pos, s, 1.0)), 0.0))

    @staticmethod
    def project_dual(y, u, s):
        return jnp.where(s > 0, u, 0.0)

    @staticmethod
    def intercept(y, z, s, b0=None):
        """The optimal intercept for the predictor ``z`` (without intercept): the weighted mean residual."""
        return jnp.sum(s * (y - z))


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


LOSSES = {"squared": Squared, "logistic": Logistic}


def get_loss(loss):
    """Return the loss class for a name (``"squared"``, ``"logistic"``) or pass a loss class through."""
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
        return LOSSES[loss]
    if all(hasattr(loss, attr) for attr in ("value", "grad", "conjugate", "intercept", "curvature")):
        return loss
    raise ValueError(f"loss must be one of {sorted(LOSSES)} or a loss class, got {loss!r}")

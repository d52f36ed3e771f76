"""Losses: value, derivatives and dual pieces against NumPy formulas, finite differences and scipy.

Every loss is checked with normalized sample weights ``s`` (summing to one) that include zeros.
Derivatives are compared with central differences of the value (never with ``jax.grad``), the
conjugate with its definition ``F*(u) = sup_z <u, z> - F(z)`` maximized by scipy.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import optimize

from jaxl1.losses import LOSSES, Logistic, Poisson, Squared, get_loss

N = 12  # one sample size throughout, so each compiled helper compiles once
ZERO_WEIGHTS = [1, 5, 8]
FAST = settings(max_examples=50, deadline=None)
ALL = [Squared, Logistic, Poisson]


def _weights(rng):
    s = rng.random(N) + 0.1
    s[ZERO_WEIGHTS] = 0.0
    return s / s.sum()


def _labels(loss, rng):
    if loss is Logistic:
        y = (rng.random(N) < 0.4).astype(np.float64)
        y[[0, 2]] = [0.0, 1.0]  # both classes among the weighted samples
        return y
    if loss is Poisson:
        y = rng.poisson(2.0, N).astype(np.float64)
        y[[0, 2]] = [0.0, 3.0]  # a zero count, and a positive one among the weighted samples
        return y
    return rng.standard_normal(N)


def _data(loss, seed, scale=1.5):
    rng = np.random.default_rng(seed)
    return _labels(loss, rng), scale * rng.standard_normal(N), _weights(rng)


def _ylogy(y):
    return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)


def ref_value(loss, y, z, s):
    if loss is Squared:
        return 0.5 * np.sum(s * (y - z) ** 2)
    if loss is Poisson:  # half the mean deviance
        return np.sum(s * (np.exp(z) - y * z + _ylogy(y) - y))
    return np.sum(s * np.logaddexp(0.0, -(2 * y - 1) * z))


def ref_sample_loss(loss, yi, zi):
    """The per-sample term l(y_i, z_i), for the scalar maximizations."""
    if loss is Squared:
        return 0.5 * (yi - zi) ** 2
    if loss is Poisson:
        return np.exp(zi) - yi * zi + _ylogy(yi) - yi
    return np.logaddexp(0.0, -(2 * yi - 1) * zi)


@functools.cache
def _compiled(loss):
    def pieces(y, z, u, s, b0):
        return {
            "value": loss.value(y, z, s),
            "grad": loss.grad(y, z, s),
            "hess": loss.hess(y, z, s),
            "conjugate": loss.conjugate(y, u, s),
            "project_dual": loss.project_dual(y, u, s),
            "intercept": loss.intercept(y, z, s),
            "intercept_warm": loss.intercept(y, z, s, b0=b0),
        }

    return jax.jit(pieces)


def pieces(loss, y, z, s, u=None, b0=0.0):
    """Every method of ``loss`` at (y, z, s) and the dual point u, in one compiled call."""
    u = np.zeros(N) if u is None else u
    out = _compiled(loss)(*(np.asarray(a, np.float64) for a in (y, z, u, s)), float(b0))
    return {k: np.asarray(v) for k, v in out.items()}


def _central(f, x, h=1e-5):
    """Central differences; column j is the derivative in x_j."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


def _dual_point(loss, y, s, rng):
    """A point in the conjugate's domain: zero where s = 0, and for logistic a = -t u / s in (0, 1)."""
    if loss is Squared:
        return s * 2 * rng.standard_normal(N)
    if loss is Poisson:  # a = y + u / s >= 0
        return s * (rng.uniform(0.05, 4.0, N) - y)
    a = rng.uniform(0.05, 0.95, N)
    return -(2 * y - 1) * a * s


# hypothesis: predictors, labels, weights (with zeros) and dual points
z_arrays = hnp.arrays(np.float64, N, elements=st.floats(-6.0, 6.0))


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    return seed, draw(z_arrays), rng


# --------------------------------------------------------------------------- #
# values and derivatives
# --------------------------------------------------------------------------- #
def test_hand_computed_values():
    s = jnp.full(2, 0.5)
    assert float(Squared.value(jnp.array([1.0, 2.0]), jnp.zeros(2), s)) == pytest.approx(1.25)
    assert float(Logistic.value(jnp.array([1.0]), jnp.zeros(1), jnp.ones(1))) == pytest.approx(math.log(2))
    # sklearn's objective 1/(2n) ||y - z||^2 and mean log-loss with uniform weights
    y, z = np.array([0.0, 1.0, 1.0]), np.array([0.3, -1.0, 2.0])
    uniform = jnp.full(3, 1 / 3)
    assert float(Squared.value(y, z, uniform)) == pytest.approx(np.sum((y - z) ** 2) / 6)
    p = 1 / (1 + np.exp(-z))
    log_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(Logistic.value(y, z, uniform)) == pytest.approx(log_loss, rel=1e-12)


@pytest.mark.parametrize("loss", ALL, ids=lambda c: c.name)
@pytest.mark.parametrize("seed", range(3))
def test_value_grad_hess_against_formulas_and_finite_differences(loss, seed):
    y, z, s = _data(loss, seed)
    out = pieces(loss, y, z, s)
    assert float(out["value"]) == pytest.approx(ref_value(loss, y, z, s), rel=1e-13)
    value = lambda x: pieces(loss, y, x, s)["value"]
    np.testing.assert_allclose(out["grad"], _central(value, z), rtol=1e-7, atol=1e-11)
    np.testing.assert_array_equal(out["grad"][ZERO_WEIGHTS], 0.0)
    # the Hessian is diagonal: the Jacobian of grad, by differences, is diag(hess)
    jac = _central(lambda x: pieces(loss, y, x, s)["grad"], z)
    np.testing.assert_allclose(jac, np.diag(out["hess"]), rtol=1e-7, atol=1e-11)
    np.testing.assert_array_equal(out["hess"][ZERO_WEIGHTS], 0.0)


@FAST
@given(problems())
def test_grad_by_finite_differences_on_random_predictors(problem):
    seed, z, rng = problem
    for loss in ALL:
        note(f"loss: {loss.name}")
        y, s = _labels(loss, rng), _weights(rng)
        out = pieces(loss, y, z, s)
        assert float(out["value"]) == pytest.approx(ref_value(loss, y, z, s), rel=1e-12)
        ell = np.array([ref_sample_loss(loss, y[i], z[i]) for i in range(N)])
        rounding = 4 * np.finfo(np.float64).eps * (1 + ell)  # error in differences of l, before dividing by h
        h = 1e-6
        fd = np.array([ref_sample_loss(loss, y[i], z[i] + h) - ref_sample_loss(loss, y[i], z[i] - h)
                       for i in range(N)]) / (2 * h)
        assert np.all(np.abs(out["grad"] - s * fd) <= s * (1e-10 + rounding / h))  # truncation ~ h^2
        h = 1e-3
        second = np.array([ref_sample_loss(loss, y[i], z[i] + h) - 2 * ell[i] + ref_sample_loss(loss, y[i], z[i] - h)
                           for i in range(N)]) / h**2
        fourth = np.exp(z + h) if loss is Poisson else 1 / 8  # a bound of the 4th derivative near z
        assert np.all(np.abs(out["hess"] - s * second) <= s * (h**2 * fourth + rounding / h**2))


@FAST
@given(problems(), st.floats(-30.0, 30.0))
def test_curvature_bounds_the_hessian(problem, shift):
    """hess <= curvature * s everywhere (so grad is Lipschitz), tight for logistic at z = 0."""
    _, z, rng = problem
    for loss in ALL:
        note(f"loss: {loss.name}")
        y, s = _labels(loss, rng), _weights(rng)
        z2 = z + shift
        out, out2 = pieces(loss, y, z, s), pieces(loss, y, z2, s)
        assert np.all(out["hess"] >= 0)
        if not np.isfinite(loss.curvature):  # Poisson: no bound to check
            continue
        assert np.all(out["hess"] <= loss.curvature * s * (1 + 1e-15))
        assert np.all(np.abs(out["grad"] - out2["grad"]) <= loss.curvature * s * np.abs(z - z2) * (1 + 1e-12) + 1e-15)
    y, s = _labels(Logistic, rng), _weights(rng)
    np.testing.assert_allclose(pieces(Logistic, y, np.zeros(N), s)["hess"], 0.25 * s, rtol=1e-15)


# --------------------------------------------------------------------------- #
# conjugate and dual domain
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("loss", ALL, ids=lambda c: c.name)
@pytest.mark.parametrize("seed", range(2))
def test_conjugate_matches_its_definition(loss, seed):
    """F*(u) = sum_i sup_z u_i z - s_i l(y_i, z), each sup found by scipy (s_i = 0 needs u_i = 0)."""
    rng = np.random.default_rng(seed)
    y, s = _labels(loss, rng), _weights(rng)
    u = _dual_point(loss, y, s, rng)
    sup = 0.0
    for i in np.flatnonzero(s > 0):
        res = optimize.minimize_scalar(lambda zi, i=i: -(u[i] * zi - s[i] * ref_sample_loss(loss, y[i], zi)),
                                       bounds=(-60, 60), method="bounded", options={"xatol": 1e-10})
        sup -= res.fun
    assert float(pieces(loss, y, np.zeros(N), s, u)["conjugate"]) == pytest.approx(sup, rel=1e-8, abs=1e-12)


def test_logistic_conjugate_at_the_ends_of_its_domain():
    """At a_i in {0, 1} the sup is approached as z -> -t_i inf or +t_i inf and equals 0."""
    rng = np.random.default_rng(0)
    y, s = _labels(Logistic, rng), _weights(rng)
    a = np.where(np.arange(N) % 2 == 0, 0.0, 1.0)
    u = -(2 * y - 1) * a * s
    assert float(pieces(Logistic, y, np.zeros(N), s, u)["conjugate"]) == 0.0
    a = np.full(N, 0.5)  # the middle: sum_i s_i * 2 * 0.5 log 0.5 = -log 2
    u = -(2 * y - 1) * a * s
    assert float(pieces(Logistic, y, np.zeros(N), s, u)["conjugate"]) == pytest.approx(-math.log(2), rel=1e-14)


@FAST
@given(problems())
def test_fenchel_young(problem):
    """F(z) + F*(grad F(z)) = <grad F(z), z>, and F(z) + F*(u) >= <u, z> for u in the conjugate's domain."""
    _, z, rng = problem
    for loss in ALL:
        note(f"loss: {loss.name}")
        y, s = _labels(loss, rng), _weights(rng)
        g = pieces(loss, y, z, s)["grad"]
        out = pieces(loss, y, z, s, u=g)
        scale = 1 + np.sum(np.abs(g * z)) + abs(float(out["value"]))
        assert float(out["value"]) + float(out["conjugate"]) == pytest.approx(float(g @ z), abs=1e-12 * scale)
        u = _dual_point(loss, y, s, rng)
        out = pieces(loss, y, z, s, u=u)
        assert float(out["value"]) + float(out["conjugate"]) >= float(u @ z) - 1e-12 * (1 + np.sum(np.abs(u * z)))


@FAST
@given(problems(), st.floats(0.01, 100.0))
def test_project_dual_maps_into_the_conjugate_domain(problem, scale):
    _, z, rng = problem
    for loss in ALL:
        note(f"loss: {loss.name}")
        y, s = _labels(loss, rng), _weights(rng)
        u = scale * s * rng.standard_normal(N) + rng.standard_normal(N) * (s == 0)  # nonzero where s = 0 too
        out = pieces(loss, y, z, s, u=u)
        v = out["project_dual"]
        np.testing.assert_array_equal(v[ZERO_WEIGHTS], 0.0)
        if loss is Logistic:
            a = -(2 * y - 1) * v
            pos = s > 0
            assert np.all(a[pos] >= -1e-15 * s[pos]) and np.all(a[pos] <= s[pos] * (1 + 1e-15))
        elif loss is Poisson:  # a = y + v / s >= 0, and u kept where it was feasible
            pos = s > 0
            a = y[pos] + v[pos] / s[pos]
            assert np.all(a >= -1e-15 * (1 + y[pos]))  # rounding of y + (0 - y) s / s
            ok = y[pos] + u[pos] / s[pos] >= 0
            assert np.all(np.abs(v[pos] - u[pos])[ok] <= 1e-14 * (np.abs(u[pos]) + s[pos] * y[pos])[ok])
        else:
            np.testing.assert_array_equal(v[s > 0], u[s > 0])
        # idempotent, finite conjugate there, and the gradient (always dual-feasible) is left unchanged
        again = pieces(loss, y, z, s, u=v)
        np.testing.assert_allclose(again["project_dual"], v, rtol=1e-15, atol=1e-300)
        assert np.isfinite(again["conjugate"])
        g = out["grad"]
        np.testing.assert_allclose(pieces(loss, y, z, s, u=g)["project_dual"], g, rtol=1e-14, atol=1e-300)


# --------------------------------------------------------------------------- #
# intercept
# --------------------------------------------------------------------------- #
@FAST
@given(problems(), st.floats(0.1, 5.0), st.floats(-10.0, 10.0), st.floats(-20.0, 20.0))
def test_intercept_zeroes_the_derivative_in_b(problem, scale, offset, b0):
    """d/db F(z + b) = 0 at b = intercept(z), from a cold start and from any warm start b0."""
    _, z, rng = problem
    z = scale * z / 6 + offset
    for loss in ALL:
        note(f"loss: {loss.name}")
        y, s = _labels(loss, rng), _weights(rng)
        out = pieces(loss, y, z, s, b0=b0)
        for key in ("intercept", "intercept_warm"):
            b = float(out[key])
            h = 1e-5
            derivative = (ref_value(loss, y, z + b + h, s) - ref_value(loss, y, z + b - h, s)) / (2 * h)
            assert abs(derivative) <= 1e-9, key
            assert abs(float(np.sum(pieces(loss, y, z + b, s)["grad"]))) <= 1e-12, key


@pytest.mark.parametrize("loss", ALL, ids=lambda c: c.name)
@pytest.mark.parametrize("seed", range(3))
def test_intercept_matches_scipy(loss, seed):
    y, z, s = _data(loss, seed, scale=4.0)
    b = float(pieces(loss, y, z, s)["intercept"])
    res = optimize.minimize_scalar(lambda c: ref_value(loss, y, z + c, s), bracket=(-5, 5), tol=1e-12)
    assert b == pytest.approx(res.x, abs=1e-6)
    assert ref_value(loss, y, z + b, s) <= res.fun + 1e-14
    if loss is Squared:
        assert b == pytest.approx(np.sum(s * (y - z)), rel=1e-13)


# --------------------------------------------------------------------------- #
# registry, labels, transformations and dtypes
# --------------------------------------------------------------------------- #
def test_get_loss_and_label_validation():
    assert get_loss("squared") is Squared and get_loss("logistic") is Logistic
    assert {"squared": Squared, "logistic": Logistic}.items() <= LOSSES.items()
    assert get_loss(Logistic) is Logistic
    with pytest.raises(ValueError, match=r"\bloss\b"):
        get_loss("tweedie")
    with pytest.raises(ValueError, match=r"\bloss\b"):
        get_loss(object())
    Logistic.validate_y(np.array([0.0, 1.0, 1.0]))
    Squared.validate_y(np.array([0.3, -2.0]))
    with pytest.raises(ValueError, match=r"\by\b"):
        Logistic.validate_y(np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\by\b"):
        Logistic.validate_y(np.array([-1.0, 1.0]))


@pytest.mark.parametrize("loss", ALL, ids=lambda c: c.name)
def test_vmap_grad_and_float32(loss):
    y, z, s = _data(loss, 0)
    zs = np.stack([z, 2 * z, -z])
    batched = jax.jit(jax.vmap(lambda x: (loss.value(y, x, s), loss.grad(y, x, s))))(zs)
    for k, x in enumerate(zs):
        out = pieces(loss, y, x, s)
        assert float(batched[0][k]) == pytest.approx(float(out["value"]), rel=1e-14)
        np.testing.assert_allclose(batched[1][k], out["grad"], rtol=1e-14)
    # jax.grad of the value agrees with the hand-written grad (both checked against differences above)
    np.testing.assert_allclose(jax.jit(jax.grad(loss.value, argnums=1))(y, z, s), pieces(loss, y, z, s)["grad"],
                               rtol=1e-13, atol=1e-16)
    # float32 in, float32 out
    f32 = [np.asarray(a, np.float32) for a in (y, z, s)]
    out = jax.jit(lambda y, z, s: (loss.value(y, z, s), loss.grad(y, z, s), loss.hess(y, z, s),
                                   loss.conjugate(y, loss.grad(y, z, s), s), loss.intercept(y, z, s)))(*f32)
    for leaf in out:
        assert leaf.dtype == jnp.float32
    assert float(out[0]) == pytest.approx(ref_value(loss, y, z, s), rel=1e-5)

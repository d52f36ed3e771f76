"""Penalties: values and proxes against closed forms, prox properties, dual pieces, validation.

Every check compares ``jaxl1.penalties`` with something computed independently:
NumPy closed forms, ``scipy.optimize``, finite differences, or an identity of convex
analysis (Moreau's decomposition, the Fenchel-Young inequality and its equality case).
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import optimize

import jaxl1
from jaxl1 import L1, L2, ElasticNet, GroupL1, NonNegativeL1

# One shape for (almost) everything, so jitted helpers compile once per penalty.
SHAPE = (2, 3)
WEIGHTS = np.array([[1.0, 0.0, 2.0], [0.5, 0.0, 3.0]])  # two unpenalized coordinates
GROUPS = (0, 0, 1, 1, 1, 2)  # ids over the flattened (2, 3) array
L1_RATIO = 0.4

MAKERS = {
    "l1": L1,
    "weighted_l1": lambda s: L1(s, weights=WEIGHTS),
    "l2": L2,
    "elastic_net": lambda s: ElasticNet(s, L1_RATIO),
    "nonneg_l1": NonNegativeL1,
    "group_l1_groups": lambda s: GroupL1(s, groups=GROUPS),
    "group_l1_axis": lambda s: GroupL1(s, axis=1),  # each row is a group
}
NAMES = list(MAKERS)
# Penalties that are support functions (positively homogeneous): P* is the indicator of a set.
HOMOGENEOUS = ["l1", "weighted_l1", "nonneg_l1", "group_l1_groups", "group_l1_axis", "elastic_net_pure_l1"]
DUAL_MAKERS = {**MAKERS, "elastic_net_pure_l1": lambda s: ElasticNet(s, 1.0)}
GROUP_IDS = {"group_l1_groups": np.array(GROUPS), "group_l1_axis": np.array([0, 0, 0, 1, 1, 1])}

FAST = settings(max_examples=50, deadline=None)

_coord = st.floats(-4.0, 4.0, allow_subnormal=False).filter(lambda x: x == 0.0 or abs(x) > 1e-100)
arrays = hnp.arrays(np.float64, SHAPE, elements=st.one_of(st.just(0.0), _coord))
strengths = st.one_of(st.just(0.0), st.floats(0.0, 3.0))
positive_strengths = st.floats(0.05, 3.0)
steps = st.floats(0.05, 2.0)
seeds = st.integers(0, 2**32 - 1)


# --------------------------------------------------------------------------- #
# independent references (NumPy)
# --------------------------------------------------------------------------- #
def _soft(x, t):
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def ref_value(name, s, w, weights=WEIGHTS, ids=None):
    """P(w) by its formula; ``weights`` and group ``ids`` (over the flattened w) default to those for SHAPE."""
    w = np.asarray(w, dtype=np.float64)
    a = np.abs(w)
    if name == "l1":
        return s * a.sum()
    if name == "weighted_l1":
        return s * (weights * a).sum()
    if name == "l2":
        return s * np.sum(w**2)
    if name == "elastic_net":
        return s * L1_RATIO * a.sum() + 0.5 * s * (1 - L1_RATIO) * np.sum(w**2)
    if name == "elastic_net_pure_l1":
        return s * a.sum()
    if name == "nonneg_l1":
        return s * w.sum() if np.all(w >= 0) else np.inf
    ids, flat = GROUP_IDS[name] if ids is None else ids, w.reshape(-1)
    return s * sum(math.sqrt(np.sum(ids == g)) * np.linalg.norm(flat[ids == g]) for g in np.unique(ids))


def ref_prox(name, s, w, t, weights=WEIGHTS, ids=None):
    """argmin_z 0.5 ||z - w||^2 + t P(z) by its closed form (block soft-thresholding for groups)."""
    w = np.asarray(w, dtype=np.float64)
    if name in ("l1", "elastic_net_pure_l1"):
        return _soft(w, t * s)
    if name == "weighted_l1":
        return _soft(w, t * s * weights)
    if name == "l2":
        return w / (1 + 2 * t * s)
    if name == "elastic_net":
        return _soft(w, t * s * L1_RATIO) / (1 + t * s * (1 - L1_RATIO))
    if name == "nonneg_l1":
        return np.maximum(w - t * s, 0.0)
    ids, flat = GROUP_IDS[name] if ids is None else ids, w.reshape(-1)
    out = np.zeros_like(flat)
    for g in np.unique(ids):
        idx = ids == g
        norm, thr = np.linalg.norm(flat[idx]), t * s * math.sqrt(idx.sum())
        if norm > thr:
            out[idx] = (1 - thr / norm) * flat[idx]
    return out.reshape(w.shape)


def ref_conjugate(name, s, v):
    """Finite part of P*(v) (valid where the conjugate is finite)."""
    v = np.asarray(v, dtype=np.float64)
    if name == "l2":
        return np.sum(v**2) / (4 * s)
    if name == "elastic_net":
        return np.sum(np.maximum(np.abs(v) - s * L1_RATIO, 0) ** 2) / (2 * s * (1 - L1_RATIO))
    return 0.0


def ref_free(name, s):
    if name == "nonneg_l1":
        return np.zeros(SHAPE, bool)
    if s == 0:
        return np.ones(SHAPE, bool)
    if name == "weighted_l1":
        return WEIGHTS == 0
    return np.zeros(SHAPE, bool)


def prox_objective(name, s, w, t):
    return lambda z: 0.5 * np.sum((np.asarray(z) - w) ** 2) + t * ref_value(name, s, z)


@functools.cache
def _compiled(name):
    make = DUAL_MAKERS[name]

    def pieces(s, w, t):
        pen = make(s)
        return {"value": pen.value(w), "prox": pen.prox(w, t), "dual_norm": pen.dual_norm(w),
                "conjugate": pen.conjugate(w), "free": pen.free(w)}

    def batched(lams, w, t):
        return jax.vmap(lambda s: (make(s).value(w), make(s).prox(w, t)))(lams)

    return jax.jit(pieces), jax.jit(batched)


def pieces(name, s, w, t=1.0):
    """value, prox, dual_norm, conjugate and free of penalty ``name`` at ``w`` (one compiled call).

    Scalars are passed as Python floats so that every call hits the same compiled function.
    """
    out = _compiled(name)[0](float(s), np.asarray(w, np.float64), float(t))
    return {k: np.asarray(v) for k, v in out.items()}


def _close(got, want, tol=1e-11):
    if np.isinf(want):
        return np.isinf(got) and got > 0
    return abs(float(got) - want) <= tol * (1 + abs(want))


# --------------------------------------------------------------------------- #
# closed forms
# --------------------------------------------------------------------------- #
def test_worked_example():
    assert float(L1(0.01).value([0.5, -0.3, 0.0, 1.2])) == pytest.approx(0.02, rel=1e-14)
    assert float(L1(0.01).value(jnp.array([0.5, -0.3, 0.0, 1.2]))) == pytest.approx(0.02, rel=1e-14)


HAND_COMPUTED = {
    "soft": [-1.0, 0.0, 2.0],
    "soft_array_threshold": [-1.0, 0.0, 0.0],
    "soft_int": [2.0, 0.0, 0.0],
    "l1_prox": [-1.0, 0.0, 2.0],
    "l1_prox_step": [-0.5, 0.0, 1.5],
    "l2_value": 0.5 * 9.04,
    "l2_prox": [-1.0, 0.25, 1.5],
    "en_value": 0.5 * 3.2 + 0.25 * 9.04,
    "en_prox": [2.5 / 1.5, 0.0],
    "nonneg_prox": [0.0, 0.0, 2.0],
    "nonneg_value": 5.5,
    "nonneg_value_infeasible": np.inf,
    "group_value": 5 * math.sqrt(2) + 0.5,
    "group_prox": [3 - 0.6 * math.sqrt(2), 4 - 0.8 * math.sqrt(2), 0],
    "group_rows": 12.0,  # 2 * (2 rows) * sqrt3 * sqrt3
    "group_whole": 12.0,  # 2 * sqrt6 * sqrt6
    "group_columns": [[3 - 0.3 * math.sqrt(2), 0, 0], [4 - 0.4 * math.sqrt(2), 0, 0]],
}


def _hand_computed():
    x3, x2 = jnp.array([-2.0, 0.5, 3.0]), jnp.array([3.0, 0.2])
    en, g = ElasticNet(alpha=1.0, l1_ratio=0.5), GroupL1(1.0, groups=(0, 0, 1))
    return {
        "soft": jaxl1.soft_threshold(x3, 1.0),
        "soft_array_threshold": jaxl1.soft_threshold(x3, jnp.array([1.0, 1.0, 4.0])),
        "soft_int": jaxl1.soft_threshold(jnp.array([3, -1, 0]), 1),
        "l1_prox": L1(1.0).prox(x3, step=1.0),
        "l1_prox_step": L1(0.5).prox(x3, step=3.0),
        "l2_value": L2(0.5).value(x2),
        "l2_prox": L2(0.5).prox(x3, step=1.0),
        "en_value": en.value(x2),
        "en_prox": en.prox(x2, step=1.0),
        "nonneg_prox": NonNegativeL1(1.0).prox(x3, step=1.0),
        "nonneg_value": NonNegativeL1(1.0).value(jnp.abs(x3)),
        "nonneg_value_infeasible": NonNegativeL1(1.0).value(x3),
        "group_value": g.value(jnp.array([3.0, 4.0, 0.5])),
        "group_prox": g.prox(jnp.array([3.0, 4.0, 0.5]), 1.0),
        "group_rows": GroupL1(2.0, axis=1).value(jnp.ones(SHAPE)),
        "group_whole": GroupL1(2.0).value(jnp.ones(SHAPE)),
        "group_columns": GroupL1(0.5, axis=0).prox(jnp.array([[3.0, 0.1, 0.0], [4.0, 0.1, 0.0]]), 1.0),
    }


def test_hand_computed_values():
    computed = jax.jit(_hand_computed)()  # one compiled call; eager use is checked elsewhere
    assert jnp.issubdtype(computed["soft_int"].dtype, jnp.floating)
    assert computed.keys() == HAND_COMPUTED.keys()
    for key, want in HAND_COMPUTED.items():
        np.testing.assert_allclose(computed[key], want, rtol=1e-14, atol=1e-15, err_msg=key)


def _check_prox_closed_form_shrinks_keeps_signs_identity_at_zero(name, w, s, t):
    out = pieces(name, s, w, t)
    assert _close(out["value"], ref_value(name, s, w))
    np.testing.assert_allclose(out["prox"], ref_prox(name, s, w, t), rtol=1e-12, atol=1e-12)
    # the prox never increases |w| and keeps the sign (or gives an exact zero)
    z = out["prox"]
    assert np.all(np.abs(z) <= np.abs(w))
    assert np.all((z == 0) | (np.sign(z) == np.sign(w)))
    if s == 0:  # the identity at strength 0 (for NonNegativeL1: the projection onto w >= 0, its constraint)
        np.testing.assert_array_equal(z, np.maximum(w, 0) if name == "nonneg_l1" else w)


@FAST
@given(w=arrays, s=strengths, t=steps)
def test_prox_closed_form_shrinks_keeps_signs_identity_at_zero(w, s, t):
    """value and prox equal their formulas; the prox never increases |w|, keeps signs, is the identity at 0."""
    for name in NAMES:
        note(f"penalty: {name}")
        _check_prox_closed_form_shrinks_keeps_signs_identity_at_zero(name, w, s, t)


# --------------------------------------------------------------------------- #
# prox properties
# --------------------------------------------------------------------------- #
def _candidates(name, z, w, rng):
    """Points near ``z`` that a wrong prox would lose to: random, coordinate, zeroing and scaling moves."""
    yield w
    yield np.zeros_like(z)
    for scale in (1e-1, 1e-2, 1e-4):
        yield from z + scale * rng.standard_normal((8, *z.shape))
    for j in range(z.size):
        for h in (1e-3, -1e-3):
            e = np.zeros(z.size)
            e[j] = h
            yield z + e.reshape(z.shape)
        zj = z.copy().reshape(-1)
        zj[j] = 0.0
        yield zj.reshape(z.shape)
    for c in (0.999, 1.001):
        yield c * z
    if name in GROUP_IDS:
        ids = GROUP_IDS[name]
        for g in np.unique(ids):
            zg = z.copy().reshape(-1)
            zg[ids == g] = 0.0
            yield zg.reshape(z.shape)


def _check_prox_is_the_argmin(name, w, s, t, seed):
    z = pieces(name, s, w, t)["prox"]
    objective = prox_objective(name, s, w, t)
    best = objective(z)
    assert np.isfinite(best)
    rng = np.random.default_rng(seed)
    worst_gain = min(objective(c) - best for c in _candidates(name, z, w, rng))
    assert worst_gain >= -1e-12 * (1 + abs(best))


@FAST
@given(w=arrays, s=strengths, t=steps, seed=seeds)
def test_prox_is_the_argmin(w, s, t, seed):
    """No nearby point (random, coordinate, zeroing or scaling move) has a lower prox objective."""
    for name in NAMES:
        note(f"penalty: {name}")
        _check_prox_is_the_argmin(name, w, s, t, seed)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", range(3))
def test_prox_matches_scipy(name, seed):
    """scipy's minimizers on the (separable or per-group) prox objective reach the same point."""
    rng = np.random.default_rng(seed)
    w = 2 * rng.standard_normal(SHAPE)
    s, t = 0.3 + rng.random(), 0.5 + rng.random()
    z = pieces(name, s, w, t)["prox"]
    if name in GROUP_IDS:
        ids, flat, zs = GROUP_IDS[name], w.reshape(-1), np.zeros(w.size)
        for g in np.unique(ids):
            idx = ids == g
            c = t * s * math.sqrt(idx.sum())

            def f(u, wg=flat[idx], c=c):
                return 0.5 * np.sum((u - wg) ** 2) + c * np.linalg.norm(u)

            res = optimize.minimize(f, flat[idx], method="Nelder-Mead",
                                    options={"xatol": 1e-11, "fatol": 1e-15, "maxiter": 20000})
            zs[idx] = res.x
        zs = zs.reshape(SHAPE)
    else:
        zs = np.empty(w.size)
        for j, wj in enumerate(w.reshape(-1)):
            def f(u, j=j, wj=wj):
                e = np.zeros(w.size)
                e[j] = u
                return 0.5 * (u - wj) ** 2 + t * ref_value(name, s, e.reshape(SHAPE))

            lo = 0.0 if name == "nonneg_l1" else -abs(wj) - 1
            zs[j] = optimize.minimize_scalar(f, bounds=(lo, abs(wj) + 1), method="bounded",
                                             options={"xatol": 1e-12}).x
        zs = zs.reshape(SHAPE)
    objective = prox_objective(name, s, w, t)
    assert objective(z) <= objective(zs) + 1e-12
    np.testing.assert_allclose(z, zs, atol=1e-5)


def _check_vmap_over_strengths_equals_loop(name, w, lams, t):
    loop = [pieces(name, lam, w, t) for lam in lams]
    value, prox = _compiled(name)[1](lams, w, float(t))
    np.testing.assert_allclose(value, [out["value"] for out in loop], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(prox, np.stack([out["prox"] for out in loop]), rtol=1e-13, atol=1e-13)


@FAST
@given(w=arrays, lams=hnp.arrays(np.float64, 4, elements=strengths), t=steps)
def test_vmap_over_strengths_equals_loop(w, lams, t):
    """jax.vmap over a batch of strengths gives what a Python loop over them gives."""
    for name in NAMES:
        note(f"penalty: {name}")
        _check_vmap_over_strengths_equals_loop(name, w, lams, t)


def test_vmap_over_penalty_pytrees():
    """The penalty itself is the vmapped argument (its hyperparameters are data)."""
    w = np.array([1.5, -0.2, 0.7, -3.0])
    lams, ratios = np.array([0.0, 0.1, 0.5, 2.0]), np.array([0.0, 0.3, 0.8, 1.0])
    c = np.array([1.0, 0.0, 2.0, 1.0])

    @jax.jit
    def run(l1, en, group, weighted):
        return (jax.vmap(lambda pen: pen.prox(w, 0.5))(l1), jax.vmap(lambda pen: pen.prox(w, 0.5))(en),
                jax.vmap(lambda pen: pen.value(w))(group),
                jax.vmap(lambda pen: pen.prox(w, 0.5), in_axes=(L1(0, None),))(weighted))

    l1, en, group, weighted = run(L1(lams), ElasticNet(lams, ratios), GroupL1(lams, groups=(0, 0, 1, 1)),
                                  L1(lams, weights=c))
    lam, r = lams[:, None], ratios[:, None]
    np.testing.assert_allclose(l1, _soft(w, 0.5 * lam), rtol=1e-14)
    np.testing.assert_allclose(en, _soft(w, 0.5 * lam * r) / (1 + 0.5 * lam * (1 - r)), rtol=1e-14)
    np.testing.assert_allclose(group, lams * math.sqrt(2) * (np.hypot(1.5, 0.2) + np.hypot(0.7, 3.0)), rtol=1e-14)
    np.testing.assert_allclose(weighted, _soft(w, 0.5 * lam * c), rtol=1e-14)


# --------------------------------------------------------------------------- #
# pytrees and dtypes
# --------------------------------------------------------------------------- #
def _tree():
    rng = np.random.default_rng(0)
    return {
        "kernel": jnp.asarray(rng.standard_normal((2, 3)), jnp.float32),
        "bias": jnp.asarray(rng.standard_normal(3), jnp.float64),
        "extra": [jnp.asarray(rng.standard_normal(6), jnp.float32)],
    }


def _tree_case(name, s):
    """(tree, penalty on the tree) for penalty ``name``."""
    tree = _tree()
    if name == "weighted_l1":
        return tree, L1(s, weights=jax.tree.map(_leaf_weights, tree))
    if name == "nonneg_l1":
        return jax.tree.map(jnp.abs, tree), NonNegativeL1(s)
    if name == "group_l1_groups":  # groups= needs leaves of one size (any shapes)
        return {"a": tree["kernel"], "b": tree["extra"][0]}, GroupL1(s, groups=GROUPS)
    if name == "group_l1_axis":
        return tree, GroupL1(s, axis=-1)
    return tree, MAKERS[name](s)


def _leaf_weights(x):
    return np.arange(x.size).reshape(x.shape) % 3.0


def _leaf_ids(name, x):
    """Group ids over a flattened leaf: GROUPS, or the slices along the last axis."""
    if name == "group_l1_groups":
        return np.array(GROUPS)
    return np.repeat(np.arange(x.size // x.shape[-1]), x.shape[-1])


@functools.cache
def _pytree_results():
    """value, prox and free of every penalty on its tree, with a float64 strength and step, in one compiled call."""
    strength, step = jnp.asarray(0.3, jnp.float64), jnp.asarray(0.7, jnp.float64)
    cases = {name: _tree_case(name, strength) for name in NAMES}

    @jax.jit
    def run(cases):
        return {name: (pen.value(tree), pen.prox(tree, step), pen.free(tree)) for name, (tree, pen) in cases.items()}

    return cases, run(cases)


@pytest.mark.parametrize("name", NAMES)
def test_pytree_sums_over_leaves_and_keeps_dtypes(name):
    """On a dict of float32 and float64 leaves of different shapes, with a float64 strength and step."""
    cases, results = _pytree_results()
    (tree, _), (value, prox, free) = cases[name], results[name]
    want_value = 0.0
    assert jax.tree.structure(prox) == jax.tree.structure(tree) == jax.tree.structure(free)
    for x, z, f in zip(jax.tree.leaves(tree), jax.tree.leaves(prox), jax.tree.leaves(free), strict=True):
        assert z.dtype == x.dtype and z.shape == x.shape
        assert f.dtype == bool and f.shape == x.shape
        x64 = np.asarray(x, np.float64)
        extra = {"weights": _leaf_weights(x), "ids": _leaf_ids(name, x) if name in GROUP_IDS else None}
        want_value += ref_value(name, 0.3, x64, **extra)
        np.testing.assert_allclose(np.asarray(z, np.float64), ref_prox(name, 0.3, x64, 0.7, **extra),
                                   rtol=1e-6, atol=1e-6)
    assert float(value) == pytest.approx(want_value, rel=1e-6)


def test_pytree_eager_closed_form_and_dtype():
    tree = _tree()
    total = sum(np.abs(np.asarray(x, np.float64)).sum() for x in jax.tree.leaves(tree))
    assert float(L1(0.25).value(tree)) == pytest.approx(0.25 * total, rel=1e-6)
    assert float(L1(0.25).value({})) == 0.0
    prox = L1(np.float64(0.25)).prox(tree, 1.0)
    assert prox["kernel"].dtype == jnp.float32 and prox["bias"].dtype == jnp.float64
    np.testing.assert_allclose(prox["kernel"], _soft(np.asarray(tree["kernel"], np.float64), 0.25), atol=1e-6)


# --------------------------------------------------------------------------- #
# jit and grad
# --------------------------------------------------------------------------- #
W_SMOOTH = np.array([[1.5, -2.0, 0.05], [-0.8, 3.0, 0.45]])  # away from every kink at S, T below
S, T = 0.2, 0.5


def _grad_ref(name, s, w):
    """Closed-form gradient of P at a point where it is differentiable."""
    if name == "l1":
        return s * np.sign(w)
    if name == "weighted_l1":
        return s * WEIGHTS * np.sign(w)
    if name == "l2":
        return 2 * s * w
    if name == "elastic_net":
        return s * L1_RATIO * np.sign(w) + s * (1 - L1_RATIO) * w
    if name == "nonneg_l1":
        return s * np.ones_like(w)
    ids, flat, out = GROUP_IDS[name], w.reshape(-1), np.zeros(w.size)
    for g in np.unique(ids):
        idx = ids == g
        out[idx] = s * math.sqrt(idx.sum()) * flat[idx] / np.linalg.norm(flat[idx])
    return out.reshape(w.shape)


def _central(f, x, h=1e-6):
    """Central differences of ``f`` at ``x`` (scalar or array); the last axis indexes the coordinates of ``x``."""
    x = np.asarray(x, np.float64)
    if x.ndim == 0:
        return (np.asarray(f(x + h)) - np.asarray(f(x - h))) / (2 * h)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = h
        e = e.reshape(x.shape)
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.stack(cols, axis=-1)


def _smooth_point(name):
    return np.abs(W_SMOOTH) if name == "nonneg_l1" else W_SMOOTH


@functools.cache
def _derivatives():
    """Derivatives of every penalty's value and prox at its smooth point, in one compiled call."""

    def one(make, s, w, t):
        return {
            "value_w": jax.grad(lambda x: make(s).value(x))(w),
            "value_s": jax.grad(lambda a: make(a).value(w))(s),
            "prox_w": jax.jacobian(lambda x: make(s).prox(x, t))(w),
            "prox_s": jax.grad(lambda a: jnp.sum(make(a).prox(w, t) ** 2))(s),
            "prox_t": jax.grad(lambda b: jnp.sum(make(s).prox(w, b) ** 2))(t),
        }

    run = jax.jit(lambda s, ws, t: {name: one(MAKERS[name], s, ws[name], t) for name in NAMES})
    return run(S, {name: _smooth_point(name) for name in NAMES}, T)


@pytest.mark.parametrize("name", NAMES)
def test_jit_and_grad(name):
    w = _smooth_point(name)
    np.testing.assert_allclose(pieces(name, S, w, T)["prox"], MAKERS[name](S).prox(jnp.asarray(w), T), rtol=1e-14)

    d = {k: np.asarray(v) for k, v in _derivatives()[name].items()}
    np.testing.assert_allclose(d["value_w"], _grad_ref(name, S, w), rtol=1e-12, atol=1e-14)
    assert float(d["value_s"]) == pytest.approx(ref_value(name, 1.0, w), rel=1e-12)
    # derivatives of the prox: against central differences of the (jitted) prox
    fd = _central(lambda x: pieces(name, S, x, T)["prox"], w)
    np.testing.assert_allclose(d["prox_w"].reshape(w.size, w.size), fd.reshape(w.size, w.size), atol=1e-7)
    fd_s = _central(lambda a: np.sum(pieces(name, a, w, T)["prox"] ** 2), S)
    fd_t = _central(lambda b: np.sum(pieces(name, S, w, b)["prox"] ** 2), T)
    assert float(d["prox_s"]) == pytest.approx(float(fd_s), rel=1e-6, abs=1e-8)
    assert float(d["prox_t"]) == pytest.approx(float(fd_t), rel=1e-6, abs=1e-8)


def test_grad_with_respect_to_a_penalty_pytree():
    """Cotangents are penalty pytrees with any sign; building them (here from the concrete outputs of a
    compiled call) must not trip the constructor's validation."""
    w = jnp.array([1.0, -2.0, 0.5])

    @jax.jit
    def grads(l1, weighted, en, group):
        return (jax.grad(lambda pen: -pen.value(w))(l1), jax.grad(lambda pen: -pen.prox(w, 1.0).sum())(weighted),
                jax.grad(lambda pen: pen.value(w) ** 2)(en), jax.grad(lambda pen: -pen.value(w))(group))

    l1, weighted, en, group = grads(L1(0.1), L1(0.1, weights=jnp.ones(3)), ElasticNet(2.0, 0.9),
                                    GroupL1(0.1, groups=(0, 0, 1)))
    assert isinstance(l1, L1) and float(l1.strength) == pytest.approx(-3.5)
    np.testing.assert_allclose(weighted.weights, [0.1, -0.1, 0.1])
    value = 2.0 * 0.9 * 3.5 + 0.5 * 2.0 * 0.1 * 5.25  # d(P^2)/d l1_ratio = 2 P dP/d l1_ratio
    assert float(en.l1_ratio) == pytest.approx(2 * value * (2.0 * 3.5 - 0.5 * 2.0 * 5.25))
    assert float(en.l1_ratio) > 1
    assert float(group.strength) == pytest.approx(-(math.sqrt(2) * math.sqrt(5) + 0.5))


GROUP_PENALTIES = {"groups": GroupL1(0.7, groups=GROUPS), "axis": GroupL1(0.7, axis=1), "whole": GroupL1(0.7)}


@functools.cache
def _group_derivatives():
    """Derivatives of GroupL1 at zero and at a point where some groups are zero, in one compiled call."""
    zero = jnp.zeros(SHAPE)
    half = zero.at[0].set(jnp.array([1.0, -2.0, 0.5]))  # the first row nonzero, the second zero

    def one(pen, w):
        def with_strength(s):
            return GroupL1(s, groups=pen.groups, axis=pen.axis)

        tree_pen = GroupL1(pen.strength, groups=GROUPS) if pen.groups else GroupL1(pen.strength, axis=-1)
        tree = {"a": w, "b": jnp.zeros(6)}
        return {
            "grad": jax.grad(pen.value)(w),
            "jacobian": jax.jacobian(lambda x: pen.prox(x, 0.3))(w),
            "jacfwd": jax.jacfwd(lambda x: pen.prox(x, 0.3))(w),
            "grad_strength": jax.grad(lambda s: with_strength(s).value(w))(pen.strength),
            "grad_strength_prox": jax.grad(lambda s: with_strength(s).prox(w, 0.3).sum())(pen.strength),
            "grad_tree": jax.grad(tree_pen.value)(tree),
            "prox": pen.prox(w, 0.3),
        }

    run = jax.jit(lambda pens, w: {k: one(pen, w) for k, pen in pens.items()})
    return {"zero": run(GROUP_PENALTIES, zero), "half": run(GROUP_PENALTIES, half)}


@pytest.mark.parametrize("kind", list(GROUP_PENALTIES))
def test_group_l1_finite_at_zero(kind):
    out = _group_derivatives()
    for point in ("zero", "half"):
        for key, leaf in jax.tree_util.tree_leaves_with_path(out[point][kind]):
            assert np.all(np.isfinite(np.asarray(leaf))), (point, key)
    np.testing.assert_array_equal(out["zero"][kind]["prox"], 0.0)
    np.testing.assert_array_equal(out["zero"][kind]["grad"], 0.0)  # 0 is in the subdifferential at 0
    if kind != "whole":  # the zero row's gradient is 0 and the nonzero row's is the closed form
        want = np.zeros(SHAPE)
        row = np.array([1.0, -2.0, 0.5])
        if kind == "axis":
            want[0] = 0.7 * math.sqrt(3) * row / np.linalg.norm(row)
        else:  # groups (0, 0, 1 | 1, 1, 2): group 0 is (1, -2), group 1 is (0.5, 0, 0), group 2 is (0,)
            want[0, :2] = 0.7 * math.sqrt(2) * row[:2] / np.linalg.norm(row[:2])
            want[0, 2] = 0.7 * math.sqrt(3)
        np.testing.assert_allclose(out["half"][kind]["grad"], want, rtol=1e-12)


# --------------------------------------------------------------------------- #
# dual pieces: dual_norm, conjugate, free
# --------------------------------------------------------------------------- #
@FAST
@given(x=arrays, s=strengths, t=steps)
def test_fenchel_young_equality_at_the_prox(x, s, t):
    """For z = prox(x, t), v = (x - z)/t is a subgradient of P at z: P(z) + P*(v) = <v, z>, P*(v) finite."""
    for name in DUAL_MAKERS:
        note(f"penalty: {name}")
        _check_fenchel_young_equality_at_the_prox(name, x, s, t)


def _check_fenchel_young_equality_at_the_prox(name, x, s, t):
    z = pieces(name, s, x, t)["prox"]
    v = (x - z) / t
    at_v = pieces(name, s, v)
    err = 1e-13 * (1 + np.abs(x).sum() / t)  # rounding in x - z, seen through 1 / t
    assert float(at_v["dual_norm"]) <= 1 + err / max(s, 1e-300)
    np.testing.assert_array_equal(v[pieces(name, s, z)["free"]], 0.0)  # unpenalized: the only subgradient is 0
    lhs = ref_value(name, s, z) + float(at_v["conjugate"])
    assert lhs == pytest.approx(float(np.sum(v * z)), rel=1e-9, abs=1e-9 + err * np.abs(z).sum())


def _feasible(name, s, v):
    """Zero ``v`` on the free coordinates and scale it into the set where P* is finite."""
    v = np.where(pieces(name, s, v)["free"], 0.0, v)
    return v / max(1.0, float(pieces(name, s, v)["dual_norm"]))


@FAST
@given(v=arrays, w=arrays, s=strengths, scale=st.floats(0.01, 10.0))
def test_fenchel_young_inequality(v, w, s, scale):
    """P(w) + P*(v) >= <v, w> for every w and every v where P* is finite (zero on free coordinates)."""
    assume(s == 0 or s > 1e-150)  # ||v||^2 / (4 s) overflows for subnormal-scale strengths
    for name in DUAL_MAKERS:
        note(f"penalty: {name}")
        _check_fenchel_young_inequality(name, v, w, s, scale)


def _check_fenchel_young_inequality(name, v, w, s, scale):
    v = _feasible(name, s, scale * v)
    if name == "nonneg_l1":
        w = np.abs(w)
    conj = float(pieces(name, s, v)["conjugate"])
    assert np.isfinite(conj)
    if name in ("l2", "elastic_net") and s > 0:
        assert conj == pytest.approx(ref_conjugate(name, s, v), rel=1e-12, abs=1e-300)
    assert ref_value(name, s, w) + conj >= float(np.sum(v * w)) - 1e-10 * (1 + np.sum(np.abs(v * w)))


def _check_dual_norm_is_the_gauge_of_the_conjugate_domain(name, v, s, scale):
    v = np.where(pieces(name, s, v)["free"], 0.0, scale * v)
    out = pieces(name, s, v, 1.0)
    norm, d = float(out["dual_norm"]), out["prox"]
    if abs(norm - 1) <= 1e-9:  # on the boundary, rounding decides either way
        return
    if norm <= 1:
        np.testing.assert_array_equal(d, 0.0)
        assert float(out["conjugate"]) == 0.0
    else:
        assert np.any(d != 0)
        gain = float(np.sum(v * d)) - ref_value(name, s, d)
        assert gain == pytest.approx(float(np.sum(d * d)), rel=1e-9, abs=1e-12)
        assert gain > 0
    # a gauge: positively homogeneous, and v / dual_norm(v) lies on the boundary of C
    assert float(pieces(name, s, 2.5 * v)["dual_norm"]) == pytest.approx(2.5 * norm, rel=1e-12, abs=1e-300)
    if norm > 0:
        assert float(pieces(name, s, v / norm)["dual_norm"]) == pytest.approx(1.0, rel=1e-12)


@FAST
@given(v=arrays, s=positive_strengths, scale=st.floats(0.01, 10.0))
def test_dual_norm_is_the_gauge_of_the_conjugate_domain(v, s, scale):
    """For a support function P, P* is finite exactly on C = {dual_norm <= 1}; Moreau: v in C iff prox(v, 1) = 0.

    Outside C, d = prox(v, 1) witnesses that P* is infinite: <v, k d> - P(k d) = k ||d||^2 grows without bound.
    """
    for name in HOMOGENEOUS:
        note(f"penalty: {name}")
        _check_dual_norm_is_the_gauge_of_the_conjugate_domain(name, v, s, scale)


def _check_strongly_convex_penalties_have_conjugates_finite_everywhere(name, v, s):
    out = pieces(name, s, v)
    assert float(out["dual_norm"]) == 0.0
    assert float(out["conjugate"]) == pytest.approx(ref_conjugate(name, s, v), rel=1e-12, abs=1e-300)


@FAST
@given(v=arrays, s=positive_strengths)
def test_strongly_convex_penalties_have_conjugates_finite_everywhere(v, s):
    for name in ["l2", "elastic_net"]:
        note(f"penalty: {name}")
        _check_strongly_convex_penalties_have_conjugates_finite_everywhere(name, v, s)


@pytest.mark.parametrize("name", ["l2", "elastic_net"])
@pytest.mark.parametrize("seed", range(2))
def test_conjugate_matches_its_definition(name, seed):
    """P*(v) = sup_w <v, w> - P(w), computed coordinate by coordinate with scipy."""
    rng = np.random.default_rng(seed)
    v, s = 2 * rng.standard_normal(SHAPE), 0.2 + rng.random()
    sup = 0.0
    for j, vj in enumerate(v.reshape(-1)):
        def neg(u, j=j, vj=vj):
            e = np.zeros(v.size)
            e[j] = u
            return -(vj * u - ref_value(name, s, e.reshape(SHAPE)))

        sup -= optimize.minimize_scalar(neg, bounds=(-100, 100), method="bounded", options={"xatol": 1e-12}).fun
    assert float(pieces(name, s, v)["conjugate"]) == pytest.approx(sup, rel=1e-9, abs=1e-12)


def test_nonneg_l1_at_zero_strength_dual_domain_is_the_negative_cone():
    """P*(v) = sup_{w >= 0} <v, w> is 0 for v <= 0 and +inf as soon as some v_j > 0."""
    assert float(pieces("nonneg_l1", 0.0, -np.abs(W_SMOOTH))["dual_norm"]) <= 1
    v = -np.abs(W_SMOOTH)
    v[0, 2] = 1e-3
    assert float(pieces("nonneg_l1", 0.0, v)["dual_norm"]) > 1
    np.testing.assert_array_equal(pieces("nonneg_l1", 0.0, v)["free"], False)  # constrained, hence not free


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("s", [0.0, 0.7])
def test_free_marks_exactly_the_unpenalized_coordinates(name, s):
    w = 1.0 + np.arange(6.0).reshape(SHAPE)
    out = pieces(name, s, w, 0.5)
    free = out["free"]
    assert free.dtype == bool
    np.testing.assert_array_equal(free, ref_free(name, s))
    # behaviour: the value ignores a coordinate and the prox leaves it alone iff it is free
    for j in np.ndindex(SHAPE):
        moved = w.copy()
        moved[j] *= 2
        changed = float(pieces(name, s, moved)["value"]) != float(out["value"])
        if free[j]:
            assert not changed and out["prox"][j] == w[j]
        elif name != "nonneg_l1" or s > 0:
            assert changed


# --------------------------------------------------------------------------- #
# boundary validation
# --------------------------------------------------------------------------- #
NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("build", "argname"),
    [
        (lambda: L1(-0.1), "strength"),
        (lambda: L1(NAN), "strength"),
        (lambda: L1(INF), "strength"),
        (lambda: L1(np.array([0.1, -0.2])), "strength"),
        (lambda: L1(jnp.asarray(-1.0)), "strength"),
        (lambda: L2(-1.0), "strength"),
        (lambda: L2(NAN), "strength"),
        (lambda: NonNegativeL1(-1e-3), "strength"),
        (lambda: NonNegativeL1(NAN), "strength"),
        (lambda: GroupL1(-1.0, axis=0), "strength"),
        (lambda: GroupL1(NAN), "strength"),
        (lambda: ElasticNet(-1.0, 0.5), "alpha"),
        (lambda: ElasticNet(NAN, 0.5), "alpha"),
        (lambda: ElasticNet(1.0, 1.5), "l1_ratio"),
        (lambda: ElasticNet(1.0, -0.1), "l1_ratio"),
        (lambda: ElasticNet(1.0, NAN), "l1_ratio"),
        (lambda: L1(0.1, weights=np.array([1.0, -1.0])), "weights"),
        (lambda: L1(0.1, weights=np.array([1.0, NAN])), "weights"),
        (lambda: L1(0.1, weights=jnp.array([1.0, INF])), "weights"),
        (lambda: L1(0.1, weights={"a": jnp.ones(2), "b": -jnp.ones(3)}), "weights"),
        (lambda: L1(0.1, weights=np.ones(3)).value(jnp.ones(4)), "weights"),
        (lambda: L1(0.1, weights=np.ones(3)).prox({"a": jnp.ones(3), "b": jnp.ones(3)}, 1.0), "weights"),
        (lambda: GroupL1(0.1, groups=(0, -1, 1)), "groups"),
        (lambda: GroupL1(0.1, groups=(0.5, 1.0)), "groups"),
        (lambda: GroupL1(0.1, groups=(0, 1), axis=0), "groups"),
        (lambda: GroupL1(0.1, groups=(0, 0, 1)).value(jnp.ones(4)), "groups"),
    ],
)
def test_invalid_arguments_raise_naming_the_argument(build, argname):
    with pytest.raises(ValueError, match=rf"\b{argname}\b"):
        build()


def test_valid_edge_arguments_are_accepted():
    L1(0)
    L1(np.float32(0.5), weights=np.array([0.0, 1.0]))
    L1(jnp.asarray(0.5))
    ElasticNet(0.0, 0.0)
    ElasticNet(1.0, 1.0)
    GroupL1(0.0, groups=(0, 2, 2))  # an empty group id is allowed
    value = GroupL1(1.0, groups=(0, 2, 2)).value(jnp.array([3.0, 3.0, 4.0]))
    assert float(value) == pytest.approx(3 + 5 * math.sqrt(2))


def test_construction_under_tracing_does_not_raise():
    """Validation runs on concrete inputs only: tracers (even of invalid values) pass through."""
    w = jnp.array([1.0, -2.0, 0.5])
    assert float(jax.jit(lambda s: L1(s).value(w))(-1.0)) == pytest.approx(-3.5)
    traced = [
        (lambda a, r: ElasticNet(a, r).prox(w, 1.0), 1.0, 1.5),
        (lambda c: L1(0.1, weights=c).value(w), jnp.array([1.0, -1.0, 1.0])),
        (lambda s: GroupL1(s, groups=(0, 0, 1)).prox(w, 1.0), jnp.asarray(NAN)),
        (jax.vmap(lambda s: L2(s).value(w)), jnp.array([-1.0, 0.5])),
        (jax.vmap(lambda s: NonNegativeL1(s).prox(w, 1.0)), jnp.array([-1.0, 0.5])),
        (jax.vmap(lambda a, r: ElasticNet(a, r).value(w)), jnp.array([0.1, 0.2]), jnp.array([2.0, -1.0])),
        (jax.grad(lambda s: GroupL1(s, axis=0).value(w)), -0.5),
        (jax.grad(lambda s: L1(s).value(w)), -0.5),
    ]
    for fn, *args in traced:
        jax.eval_shape(fn, *args)  # traces without compiling
    assert float(jax.grad(lambda s: L1(s).value(w))(-0.5)) == pytest.approx(3.5)  # eager JVP tracers
    for pen in (L1(0.1), L1(0.1, weights=jnp.ones(3)), L2(0.1), ElasticNet(0.1, 0.5), NonNegativeL1(0.1),
                GroupL1(0.1, groups=(0, 0, 1)), GroupL1(0.1, axis=0)):
        jax.eval_shape(lambda p: (p.value(w), p.prox(w, 1.0), p.dual_norm(w), p.free(w)), pen)  # traced penalty


def test_max_strength_is_the_smallest_strength_with_a_zero_solution():
    # the penalties' own lambda_max formula, checked against the subgradient condition in numpy:
    # at strength s the zero vector is optimal iff -g lies in s * dP(0)
    rng = np.random.default_rng(3)
    g = rng.standard_normal(7)
    c = np.array([1.0, 2.0, 0.5, 0.0, 1.0, 3.0, 1.0])
    cases = [
        (jaxl1.L1(1.0), lambda s: np.all(np.abs(g) <= s)),
        (jaxl1.L1(1.0, c), lambda s: np.all(np.abs(g[c > 0]) <= s * c[c > 0])),
        (jaxl1.ElasticNet(1.0, 0.25), lambda s: np.all(np.abs(g) <= 0.25 * s)),
        (jaxl1.NonNegativeL1(1.0), lambda s: np.all(-g <= s)),
    ]
    for pen, zero_is_optimal in cases:
        s = float(pen.max_strength(jnp.asarray(g)))
        assert zero_is_optimal(s * (1 + 1e-6)) and not zero_is_optimal(s * (1 - 1e-6))
        again = pen.with_strength(s)
        assert type(again) is type(pen) and float(getattr(again, "alpha", getattr(again, "strength", 0))) == s
    with pytest.raises(ValueError, match="strength"):
        jaxl1.L1(1.0).with_strength(-1.0)

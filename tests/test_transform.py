"""Tests of the optax transformations against independent references.

References: scikit-learn's ``Lasso`` and :func:`jaxl1.fit` (the proximal step after a
full-batch gradient step is ISTA, whose fixed point is the penalized solution),
``optax.adam`` itself (``prox_adam`` at zero strength), closed forms of the prox.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.linear_model import Lasso

import jaxl1

# --------------------------------------------------------------------------- #
# a least-squares problem, one shape for all the tests that use it
# --------------------------------------------------------------------------- #
N, P = 60, 20


def _problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, P))
    w_true = np.zeros(P)
    w_true[:5] = 2 * rng.standard_normal(5)
    y = X @ w_true + 0.5 * rng.standard_normal(N)
    return X, y


X_LS, Y_LS = _problem()
LIP = float(np.linalg.norm(X_LS, 2) ** 2 / N)  # Lipschitz constant of grad of (1/2n)||y - Xw||^2


def _lsq_grad(w, X, y):
    return X.T @ (X @ w - y) / X.shape[0]


def _run(tx, steps, w0=None):
    """``steps`` full-batch steps of ``tx`` on the least-squares problem, in one scan."""

    @jax.jit
    def go(X, y):
        w = jnp.zeros(P) if w0 is None else w0

        def body(carry, _):
            w, state = carry
            updates, state = tx.update(_lsq_grad(w, X, y), state, w)
            return (optax.apply_updates(w, updates), state), None

        (w, _), _ = jax.lax.scan(body, (w, tx.init(w)), None, length=steps)
        return w

    return np.asarray(go(jnp.asarray(X_LS), jnp.asarray(Y_LS)))


def _ista(penalty, steps=3000):
    return _run(optax.chain(optax.sgd(1 / LIP), jaxl1.proximal(penalty, 1 / LIP)), steps)


def _lasso_objective(w, lam):
    return 0.5 * np.mean((Y_LS - X_LS @ w) ** 2) + lam * np.abs(w).sum()


# --------------------------------------------------------------------------- #
# ISTA: the penalized least-squares solutions
# --------------------------------------------------------------------------- #
def test_sgd_then_proximal_is_ista_and_reaches_sklearn_lasso():
    lam = 0.1
    w = _ista(jaxl1.L1(lam))
    ref = Lasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X_LS, Y_LS).coef_
    assert np.abs(w - ref).max() < 1e-6
    np.testing.assert_array_equal(w == 0, ref == 0)
    assert 0 < (w == 0).sum() < P  # a genuinely sparse solution, not a trivial one


@pytest.mark.parametrize(
    "penalty",
    [
        jaxl1.L1(0.1, weights=np.r_[0.0, 0.0, np.linspace(0.5, 2.0, P - 2)]),
        jaxl1.ElasticNet(alpha=0.1, l1_ratio=0.5),
    ],
    ids=["weighted_l1", "elastic_net"],
)
def test_ista_reaches_fit(penalty):
    # fit's tol is a relative duality gap: 1e-12 bounds the coefficient error only
    # by about sqrt(2 gap / mu) ~ 1e-6 here, so the reference is solved further
    w = _ista(penalty)
    ref = np.asarray(jaxl1.fit(X_LS, Y_LS, penalty, fit_intercept=False, tol=1e-14).coef)
    assert np.abs(w - ref).max() < 1e-6
    np.testing.assert_array_equal(w == 0, ref == 0)
    assert (w == 0).any()


# --------------------------------------------------------------------------- #
# the Adam-aware step
# --------------------------------------------------------------------------- #
def test_prox_adam_reaches_lasso_where_a_scalar_threshold_after_adam_does_not():
    # A fixed point of prox_adam satisfies the lasso optimality conditions whatever
    # Adam's preconditioner is; a scalar threshold after adam's step solves a
    # problem reweighted by sqrt(v_hat) and, here, keeps no zero at all.
    lam, lr = 0.1, 1e-2
    ref = Lasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X_LS, Y_LS).coef_
    w_adam = _run(jaxl1.prox_adam(lr, jaxl1.L1(lam)), 3000)
    w_scalar = _run(optax.chain(optax.adam(lr), jaxl1.proximal(jaxl1.L1(lam), lr)), 3000)
    assert np.abs(w_adam - ref).max() < 1e-6
    np.testing.assert_array_equal(w_adam == 0, ref == 0)
    assert np.abs(w_scalar - ref).max() > 0.1
    assert (w_scalar == 0).sum() < (ref == 0).sum()
    assert _lasso_objective(w_scalar, lam) - _lasso_objective(ref, lam) > 1e-2


def test_prox_adam_at_zero_strength_is_adam():
    a, b = (_trajectory(tx) for tx in (optax.adam(1e-2), jaxl1.prox_adam(1e-2, jaxl1.L1(0.0))))
    chex.assert_trees_all_close(a, b, rtol=1e-12, atol=1e-14)


def test_prox_adam_per_coordinate_threshold():
    # first step: m_hat = g, v_hat = g^2, so each coordinate moves by lr*sign(g)
    # and is thresholded at lr * lam * c_j / (|g_j| + eps)
    lr, lam, eps = 0.25, 0.5, 1e-3
    params = jnp.array([1.0, 0.45, 0.5, -2.0])
    grads = jnp.array([0.5, 0.5, 2.0, -1.0])
    weights = jnp.array([1.0, 1.0, 1.0, 3.0])
    tx = jaxl1.prox_adam(lr, jaxl1.L1(lam, weights=weights), eps=eps)
    updates, _ = tx.update(grads, tx.init(params), params)
    d = jnp.abs(grads) + eps
    half = params - lr * grads / d
    expected = jnp.sign(half) * jnp.maximum(jnp.abs(half) - lr * lam * weights / d, 0)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new, expected, rtol=1e-12)
    assert new[1] == 0 and new[2] != 0


def test_prox_adam_other_separable_penalties():
    from sklearn.linear_model import ElasticNet

    nonneg = Lasso(alpha=0.05, positive=True, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X_LS, Y_LS)
    enet = ElasticNet(alpha=0.1, l1_ratio=0.5, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X_LS, Y_LS)
    ridge = np.linalg.solve(X_LS.T @ X_LS / N + 2 * 0.05 * np.eye(P), X_LS.T @ Y_LS / N)  # L2 has no 1/2
    for penalty, ref in [
        (jaxl1.NonNegativeL1(0.05), nonneg.coef_),
        (jaxl1.ElasticNet(0.1, 0.5), enet.coef_),
        (jaxl1.L2(0.05), ridge),
    ]:
        w = _run(jaxl1.prox_adam(1e-2, penalty), 3000)
        assert np.abs(w - ref).max() < 1e-6
        np.testing.assert_array_equal(w == 0, ref == 0)


def test_prox_adam_rejects_group_penalty():
    with pytest.raises(TypeError, match="separable"):
        jaxl1.prox_adam(1e-2, jaxl1.GroupL1(0.1, axis=1))


# --------------------------------------------------------------------------- #
# masks, schedules, hyperparameters, state
# --------------------------------------------------------------------------- #
PARAMS = {
    "dense": {"kernel": jnp.array([[1.0, -0.05], [0.02, 2.0]]), "bias": jnp.array([0.01, -0.02])},
    "out": {"kernel": jnp.array([0.03, -3.0]), "bias": jnp.array([0.04])},
}
UPDATES = jax.tree.map(lambda x: 0.01 * jnp.ones_like(x), PARAMS)
KERNELS = {"dense": {"kernel": True, "bias": False}, "out": {"kernel": True, "bias": False}}


def _trajectory(tx, steps=5):
    """``steps`` steps of ``tx`` from ``PARAMS`` with gradients ``sin(3 w + k)``: the list of iterates."""

    @jax.jit
    def go(params):
        def body(carry, k):
            params, state = carry
            updates, state = tx.update(jax.tree.map(lambda x: jnp.sin(3 * x + k), params), state, params)
            params = optax.apply_updates(params, updates)
            return (params, state), params

        return jax.lax.scan(body, (params, tx.init(params)), jnp.arange(steps))[1]

    stacked = go(PARAMS)
    return [jax.tree.map(lambda x, k=k: x[k], stacked) for k in range(steps)]


def _kernels(tree):
    """Mask of the leaves called ``kernel`` (linen, plain dicts and nnx, whose path ends in ``.value``)."""
    is_kernel = lambda path, _: any(getattr(k, "key", None) == "kernel" for k in path)
    return jax.tree_util.tree_map_with_path(is_kernel, tree)


@pytest.mark.parametrize("mask", [KERNELS, _kernels], ids=["pytree", "callable"])
@pytest.mark.parametrize(
    "make, plain",
    [
        (lambda m: jaxl1.proximal(jaxl1.L1(0.5), 0.2, mask=m), optax.identity()),
        (lambda m: jaxl1.prox_adam(0.2, jaxl1.L1(0.5), mask=m), optax.adam(0.2)),
    ],
    ids=["proximal", "prox_adam"],
)
def test_masked_leaves_are_untouched(mask, make, plain):
    # masked-out leaves get the update they would get without the penalty;
    # the others get what they get when every leaf is penalized
    tx, everywhere = make(mask), make(None)
    out, _ = tx.update(UPDATES, tx.init(PARAMS), PARAMS)
    all_penalized, _ = everywhere.update(UPDATES, everywhere.init(PARAMS), PARAMS)
    unpenalized, _ = plain.update(UPDATES, plain.init(PARAMS), PARAMS)
    for layer in ("dense", "out"):
        np.testing.assert_allclose(out[layer]["bias"], unpenalized[layer]["bias"], rtol=1e-14)
        np.testing.assert_array_equal(out[layer]["kernel"], all_penalized[layer]["kernel"])
    if isinstance(plain.init(PARAMS), optax.EmptyState):  # proximal: passed through as they are
        assert out["dense"]["bias"] is UPDATES["dense"]["bias"]
    new = optax.apply_updates(PARAMS, out)
    assert (new["dense"]["kernel"] == 0).any() and (new["dense"]["bias"] != 0).all()



def _left_out(mask_tree, tree):
    """The leaves of ``tree`` under the ``False`` leaves of a mask (or of a prefix of one)."""
    subtrees = jax.tree.structure(mask_tree).flatten_up_to(tree)
    return [x for keep, sub in zip(jax.tree.leaves(mask_tree), subtrees, strict=True) if not keep
            for x in jax.tree.leaves(sub)]


@pytest.mark.parametrize(
    "mask", [KERNELS, _kernels, {"dense": True, "out": False}], ids=["pytree", "callable", "prefix"]
)
def test_proximal_passes_unmasked_updates_through_bit_for_bit(mask):
    # proximal(mask=...) is optax.masked around the proximal step: a leaf the mask leaves out
    # gets the incoming update itself (the same object outside jit, the same bits in a jitted chain)
    tree = mask(PARAMS) if callable(mask) else mask
    tx = jaxl1.proximal(jaxl1.L1(0.5), 0.2, mask=mask)
    out, _ = tx.update(UPDATES, tx.init(PARAMS), PARAMS)
    assert all(a is b for a, b in zip(_left_out(tree, out), _left_out(tree, UPDATES), strict=True))
    chained = _trajectory(optax.chain(optax.adam(0.2), jaxl1.proximal(jaxl1.L1(0.5), 0.2, mask=mask)), steps=8)
    for with_prox, adam_alone in zip(chained, _trajectory(optax.adam(0.2), steps=8), strict=True):
        chex.assert_trees_all_equal(_left_out(tree, with_prox), _left_out(tree, adam_alone))
    assert (chained[-1]["dense"]["kernel"] == 0).any()  # and the masked leaves were thresholded


def test_prox_adam_at_zero_strength_is_adam_in_float32():
    # Adam's moments and bias corrections are optax's own (optax.tree helpers): over ten
    # float32 steps the iterates agree to float32 rounding, and a leaf the mask leaves out
    # gets Adam's update to the last bits (optax.masked passes it through)
    params = jax.tree.map(lambda x: x.astype(jnp.float32), PARAMS)
    none = jax.tree.map(lambda _: False, params)

    def run(tx, steps=10):
        state, iterates, updates = tx.init(params), [], []
        p = params
        for k in range(steps):
            u, state = tx.update(jax.tree.map(lambda x: jnp.sin(3 * x + k), p), state, p)
            p = optax.apply_updates(p, u)
            iterates.append(p), updates.append(u)
        return iterates, updates

    adam_w, adam_u = run(optax.adam(1e-2))
    for tx in (jaxl1.prox_adam(1e-2, jaxl1.L1(0.0)), jaxl1.prox_adam(1e-2, jaxl1.L1(0.5), mask=none)):
        w, u = run(tx)
        assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(w))
        chex.assert_trees_all_close(w, adam_w, rtol=1e-7, atol=1e-7)
    chex.assert_trees_all_close(u, adam_u, rtol=5e-7, atol=0)  # the masked-out run: Adam's update itself

def test_prefix_mask_and_full_weights():
    mask = {"dense": True, "out": False}  # a prefix of the parameters' structure
    weights = jax.tree.map(lambda x: 2 * jnp.ones_like(x), PARAMS)  # given for every leaf
    tx = jaxl1.proximal(jaxl1.L1(0.25, weights=weights), 0.2, mask=mask)
    out, _ = tx.update(UPDATES, tx.init(PARAMS), PARAMS)
    new = optax.apply_updates(PARAMS, out)
    dense = PARAMS["dense"]["kernel"] + 0.01
    np.testing.assert_allclose(new["dense"]["kernel"], jaxl1.soft_threshold(dense, 0.1))
    np.testing.assert_array_equal(out["out"]["kernel"], UPDATES["out"]["kernel"])


def test_group_penalty_zeros_whole_rows():
    kernel = jnp.array([[0.05, -0.05, 0.02], [1.0, 2.0, -1.0], [0.01, 0.0, 0.03]])
    tx = jaxl1.proximal(jaxl1.GroupL1(0.5, axis=1), 0.2)
    out, _ = tx.update(jnp.zeros_like(kernel), tx.init(kernel), kernel)
    new = optax.apply_updates(kernel, out)
    np.testing.assert_array_equal(new[0], 0.0)
    np.testing.assert_array_equal(new[2], 0.0)
    assert (new[1] != 0).all()


def test_schedule_is_followed_step_by_step():
    lam = 0.5
    lr = optax.piecewise_constant_schedule(0.1, {2: 0.5, 4: 0.1})
    for tx, thresholds in [
        (jaxl1.proximal(jaxl1.L1(lam), lr), [float(lr(t)) * lam for t in range(6)]),
        (jaxl1.proximal(jaxl1.L1(9.0), 0.1, strength=lambda t: 0.1 * (t + 1)), [0.01 * (t + 1) for t in range(6)]),
    ]:
        params = 10.0 * jnp.ones(3)
        state = tx.init(params)
        for t in range(6):
            updates, state = tx.update(jnp.zeros(3), state, params)
            new = optax.apply_updates(params, updates)
            np.testing.assert_allclose(params - new, thresholds[t], rtol=1e-12)
            params = new
        assert int(state.count) == 6


def test_state_structure_does_not_depend_on_arguments():
    sched = optax.linear_schedule(0.1, 0.0, 10)
    variants = [
        jaxl1.proximal(jaxl1.L1(0.1), 0.1),
        jaxl1.proximal(0.1, sched, mask=_kernels),
        jaxl1.proximal(jaxl1.ElasticNet(0.1), jnp.asarray(0.1), strength=sched),
    ]
    structures = {jax.tree.structure(tx.init(PARAMS)) for tx in variants}
    assert len(structures) == 1


def test_inject_hyperparams_gives_the_same_trajectory():
    sched = optax.exponential_decay(0.2, 1, 0.8)
    pairs = [
        (
            jaxl1.proximal(jaxl1.L1(0.3), sched, mask=KERNELS),
            optax.inject_hyperparams(jaxl1.proximal)(jaxl1.L1(0.0), sched, mask=KERNELS, strength=0.3),
        ),
        (
            jaxl1.proximal(jaxl1.ElasticNet(0.3, 0.5), 0.2),
            optax.inject_hyperparams(jaxl1.proximal)(jaxl1.ElasticNet(1.0, 0.5), learning_rate=0.2, strength=0.3),
        ),
        (
            jaxl1.prox_adam(sched, jaxl1.L1(0.3), mask=_kernels),
            optax.inject_hyperparams(jaxl1.prox_adam, static_args="mask")(
                sched, jaxl1.L1(0.0), mask=_kernels, strength=0.3
            ),
        ),
    ]
    for plain, injected in pairs:
        if isinstance(plain.init(PARAMS), jaxl1.ProximalState):
            plain, injected = (optax.chain(optax.sgd(0.2), tx) for tx in (plain, injected))
        a, b = _trajectory(plain), _trajectory(injected)
        chex.assert_trees_all_close(a, b, rtol=1e-12, atol=1e-14)
        assert any(int((x == 0).sum()) for x in jax.tree.leaves(a))


def test_no_retrace_when_the_strength_changes():
    tx = optax.chain(optax.sgd(0.1), optax.inject_hyperparams(jaxl1.proximal)(jaxl1.L1(0.0), 0.1, strength=0.1))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, state, grads):
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params = jnp.linspace(-1.0, 1.0, 8)
    state = tx.init(params)
    zeros = []
    for strength in (1.0, 2.0, 5.0):
        state[1].hyperparams["strength"] = jnp.asarray(strength)
        new, state = step(params, state, jnp.zeros(8))
        np.testing.assert_allclose(new, jaxl1.soft_threshold(params, 0.1 * strength), rtol=1e-12)
        zeros.append(int((new == 0).sum()))
    assert zeros[0] < zeros[1] < zeros[2]


def test_multisteps_accumulates_then_takes_one_proximal_step():
    # (MultiSteps accumulates in float32 by default: compare to float32 accuracy)
    lr, lam = 0.5, 0.4
    tx = optax.MultiSteps(optax.chain(optax.sgd(lr), jaxl1.proximal(jaxl1.L1(lam), lr)), every_k_schedule=2)
    params = jnp.array([1.0, -0.3, 0.1, 2.0])
    g1, g2 = jnp.array([0.2, 0.4, -0.2, 1.0]), jnp.array([0.0, -0.2, 0.2, 3.0])
    state = tx.init(params)
    u1, state = tx.update(g1, state, params)
    np.testing.assert_array_equal(u1, 0.0)
    u2, state = tx.update(g2, state, params)
    expected = jaxl1.soft_threshold(params - lr * (g1 + g2) / 2, lr * lam)
    new = optax.apply_updates(params, u2)
    np.testing.assert_allclose(new, expected, rtol=1e-6)
    np.testing.assert_array_equal(new == 0, expected == 0)
    assert (expected == 0).sum() == 1


def test_a_number_means_l1():
    for number, penalty in [(0.3, jaxl1.L1(0.3)), (jnp.asarray(0.3), jaxl1.L1(0.3))]:
        a = jaxl1.proximal(number, 0.5).update(UPDATES, jaxl1.ProximalState(jnp.zeros([], jnp.int32)), PARAMS)[0]
        b = jaxl1.proximal(penalty, 0.5).update(UPDATES, jaxl1.ProximalState(jnp.zeros([], jnp.int32)), PARAMS)[0]
        chex.assert_trees_all_equal(a, b)


def test_boundaries():
    with pytest.raises(ValueError, match="learning_rate"):
        jaxl1.proximal(jaxl1.L1(0.1), -1.0)
    with pytest.raises(ValueError, match="b2"):
        jaxl1.prox_adam(0.1, 0.1, b2=1.0)
    with pytest.raises(ValueError, match="strength"):
        jaxl1.proximal(jaxl1.L1(0.1), 0.1, strength=-1.0)
    with pytest.raises(TypeError, match="prox"):
        jaxl1.proximal("l1", 0.1)

    class Clip:  # any object with prox(w, step) is a penalty for proximal
        def prox(self, w, step):
            return jax.tree.map(lambda x: jnp.clip(x, -1.0, 1.0), w)

    out, _ = jaxl1.proximal(Clip(), 0.1).update(UPDATES, jaxl1.ProximalState(jnp.zeros([], jnp.int32)), PARAMS)
    assert float(optax.apply_updates(PARAMS, out)["out"]["kernel"][1]) == -1.0
    with pytest.raises(TypeError, match="strength"):
        jaxl1.proximal(Clip(), 0.1, strength=0.1)
    tx = jaxl1.proximal(jaxl1.L1(0.1), 0.1)
    with pytest.raises(ValueError, match="params"):
        tx.update(PARAMS, tx.init(PARAMS))


def test_sparsity():
    tree = {"a": jnp.array([0.0, 1.0, 0.0, 2.0]), "b": {"c": jnp.zeros((2, 3)), "d": jnp.ones(2)}}
    s = jaxl1.sparsity(tree)
    assert float(s.per_leaf["a"]) == 0.5 and float(s.per_leaf["b"]["c"]) == 1.0 and float(s.per_leaf["b"]["d"]) == 0
    assert float(s.total) == pytest.approx(8 / 12)
    masked = jaxl1.sparsity(tree, mask={"a": True, "b": False})
    assert masked.per_leaf["b"] is None and float(masked.total) == 0.5
    assert float(jax.jit(lambda t: jaxl1.sparsity(t).total)(tree)) == pytest.approx(8 / 12)


# --------------------------------------------------------------------------- #
# neural-network libraries
# --------------------------------------------------------------------------- #
RNG = np.random.default_rng(1)
XS = jnp.asarray(RNG.standard_normal((32, 8)))
YS = jnp.asarray(XS[:, :2] @ RNG.standard_normal((2, 4)))


def _mse(pred):
    return jnp.mean((pred - YS) ** 2)


def _numpy_init(shapes, seed=0):
    """Parameters for the shapes from ``jax.eval_shape(init, ...)``, drawn with numpy.

    (Random initialization run eagerly compiles many small programs; this keeps the
    tests quick.)  Matrices get N(0, 1/fan_in) entries, vectors zeros.
    """
    rng = np.random.default_rng(seed)

    def draw(s):
        if len(s.shape) < 2:
            return jnp.zeros(s.shape, s.dtype)
        return jnp.asarray(rng.standard_normal(s.shape) / np.sqrt(s.shape[0]), s.dtype)

    return jax.tree.map(draw, shapes)


def _train(apply, params, tx, steps=30):
    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(lambda p: _mse(apply(p, XS)))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    state, losses = tx.init(params), []
    for _ in range(steps):
        params, state, loss = step(params, state)
        losses.append(float(loss))
    return params, losses


def test_flax_linen_model():
    nn = pytest.importorskip("flax.linen")
    model = nn.Sequential([nn.Dense(16), nn.relu, nn.Dense(4)])
    params = _numpy_init(jax.eval_shape(model.init, jax.random.key(0), XS))
    tx = optax.chain(optax.adam(3e-2), jaxl1.proximal(jaxl1.L1(0.5), 3e-2, mask=_kernels))
    params, losses = _train(model.apply, params, tx)
    s = jaxl1.sparsity(params, mask=_kernels)
    assert float(s.total) > 0.2 and losses[-1] < losses[0]
    assert float(jaxl1.sparsity(params, mask=lambda p: jax.tree.map(lambda k: not k, _kernels(p))).total) < 0.5


def test_flax_nnx_model():
    nnx = pytest.importorskip("flax.nnx")

    rng = np.random.default_rng(0)
    init = lambda key, shape, dtype: jnp.asarray(rng.standard_normal(shape) / np.sqrt(shape[0]), dtype)

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(8, 16, kernel_init=init, rngs=rngs)
            self.out = nnx.Linear(16, 4, kernel_init=init, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.nn.relu(self.hidden(x)))

    model = MLP(nnx.Rngs(0))
    tx = optax.chain(optax.adam(3e-2), jaxl1.proximal(jaxl1.L1(0.5), 3e-2, mask=_kernels))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer):
        loss, grads = nnx.value_and_grad(lambda m: _mse(m(XS)))(model)
        optimizer.update(model, grads)
        return loss

    losses = [float(step(model, optimizer)) for _ in range(30)]
    state = nnx.state(model, nnx.Param)
    assert float(jaxl1.sparsity(state, mask=_kernels).total) > 0.2 and losses[-1] < losses[0]
    assert (model.hidden.kernel[...] == 0).any() and (model.hidden.bias[...] != 0).any()


def test_haiku_model():
    hk = pytest.importorskip("haiku")
    net = hk.without_apply_rng(hk.transform(lambda x: hk.nets.MLP([16, 4])(x)))
    params = _numpy_init(jax.eval_shape(net.init, jax.random.key(0), XS))
    is_w = lambda p: jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "w", p)
    tx = jaxl1.prox_adam(3e-2, jaxl1.L1(1e-2), mask=is_w)
    params, losses = _train(net.apply, params, tx)
    assert float(jaxl1.sparsity(params, mask=is_w).total) > 0.2 and losses[-1] < losses[0]


# --------------------------------------------------------------------------- #
# an MLP on scikit-learn's digits
# --------------------------------------------------------------------------- #
def test_digits_mlp_is_accurate_and_sparse():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = jnp.asarray(X / 16.0, jnp.float32), jnp.asarray(y)
    shapes = [
        {"kernel": jax.ShapeDtypeStruct((a, b), jnp.float32), "bias": jax.ShapeDtypeStruct((b,), jnp.float32)}
        for a, b in [(64, 64), (64, 10)]
    ]
    params = _numpy_init(shapes)

    def apply(params, x):
        hidden = jax.nn.relu(x @ params[0]["kernel"] + params[0]["bias"])
        return hidden @ params[1]["kernel"] + params[1]["bias"]

    def loss(params, X, y):
        return optax.softmax_cross_entropy_with_integer_labels(apply(params, X), y).mean()

    lr = 1e-2
    tx = optax.chain(optax.adam(lr), jaxl1.proximal(jaxl1.L1(0.1), lr, mask=_kernels))

    @jax.jit
    def train(params, X, y):
        def body(carry, _):
            params, state = carry
            updates, state = tx.update(jax.grad(loss)(params, X, y), state, params)
            return (optax.apply_updates(params, updates), state), None

        return jax.lax.scan(body, (params, tx.init(params)), None, length=250)[0][0]

    params = train(params, X, y)
    accuracy = float(jnp.mean(apply(params, X).argmax(-1) == y))
    zeros = float(jaxl1.sparsity(params, mask=_kernels).total)
    assert accuracy >= 0.9 and zeros >= 0.3, (accuracy, zeros)


def test_prox_adam_takes_a_separable_penalty_defined_outside_the_package():
    # prox_adam asks the penalty (coordinate_parts: separable; with_strength: strength=) and never its class
    import dataclasses as dc

    @dc.dataclass(frozen=True)
    class HalfL1:
        strength: float

        def value(self, w):
            return 0.5 * self.strength * sum(jnp.sum(jnp.abs(x)) for x in jax.tree.leaves(w))

        def prox(self, w, step):
            return jax.tree.map(lambda x: jaxl1.soft_threshold(x, 0.5 * step * self.strength), w)

        def coordinate_parts(self, p, dtype):
            return jnp.full(p, 0.5 * self.strength, dtype), jnp.zeros(p, dtype)

        def with_strength(self, strength):
            return HalfL1(strength)

    rng = np.random.default_rng(0)
    A = jnp.asarray(rng.standard_normal((20, 6)))
    b = jnp.asarray(rng.standard_normal(20))
    loss = lambda w: 0.5 * jnp.mean((A @ w - b) ** 2)

    def run(tx):
        w = jnp.zeros(6)
        state = tx.init(w)
        for _ in range(30):
            updates, state = tx.update(jax.grad(loss)(w), state, w)
            w = optax.apply_updates(w, updates)
        return w

    ref = run(jaxl1.prox_adam(0.05, jaxl1.L1(0.1)))
    np.testing.assert_allclose(run(jaxl1.prox_adam(0.05, HalfL1(0.2))), ref, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(run(jaxl1.prox_adam(0.05, HalfL1(5.0), strength=0.2)), ref, rtol=1e-6, atol=1e-7)
    assert int((ref == 0).sum()) >= 1

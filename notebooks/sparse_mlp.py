# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A sparse fully connected network: the proximal step against an L1 loss term
#
# The usual way to put an L1 penalty on a network is to add `lam * sum |w|` to the
# loss and let the optimizer follow its (sub)gradient.  That shrinks the weights,
# but a gradient step lands exactly on zero only by accident: the weights end up
# oscillating around zero and none of them *is* zero, so nothing can be pruned.
#
# The proximal step handles the penalty exactly instead: after the smooth update, every
# weight within the step's threshold of zero is set to zero (soft-thresholding).
# jaxl1 gives it as optax transformations:
#
# * `optax.chain(optax.sgd(lr), jaxl1.proximal(jaxl1.L1(lam), lr, mask=...))`: SGD, then
#   soft-thresholding at `lr * lam` (the proximal-gradient method);
# * `optax.chain(optax.adam(lr), jaxl1.proximal(jaxl1.L1(lam), lr, mask=...))`: the same
#   after an Adam step;
# * `jaxl1.prox_adam(lr, jaxl1.L1(lam), mask=...)`: Adam whose proximal step is taken in
#   Adam's own per-coordinate metric, so its fixed points are those of
#   `loss + lam * sum |w|`, the same objective as the loss-term approach.
#
# The first part redoes the common PyTorch recipe (SGD with an L1 term, then a count of
# the exact zeros) beside SGD with the proximal step.  The second part trains a smaller
# MLP (64 hidden units) with Adam the three ways over a range of strengths, each
# method's whole sweep being one `jax.vmap`-ed, jitted training run.  Everywhere the
# penalty is on the weight matrices (Flax's `kernel`s), not on the biases.

# %%
import time
from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.model_selection import train_test_split

import jaxl1

plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "font.size": 9})

# %% [markdown]
# ## Data
#
# With `USE_MNIST = True` the notebook tries to download MNIST through
# `sklearn.datasets.fetch_openml` (and keeps `MNIST_SAMPLES` of its images); without a
# network, or with the default `False`, it uses scikit-learn's bundled 8x8 digits
# (1797 images), which is what runs in CI.

# %%
USE_MNIST = False
MNIST_SAMPLES = 20_000


def load_data(use_mnist):
    if use_mnist:
        try:
            from sklearn.datasets import fetch_openml

            X, y = fetch_openml("mnist_784", version=1, return_X_y=True, as_frame=False)
            X, y = X[:MNIST_SAMPLES] / 255.0, y[:MNIST_SAMPLES].astype(int)
            return "MNIST", X, y
        except Exception as err:  # no network, no cache: fall back
            print(f"MNIST could not be loaded ({type(err).__name__}: {err}); using the bundled digits")
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return "digits", X / 16.0, y


DATASET, X, y = load_data(USE_MNIST)
X_train, X_test, y_train, y_test = train_test_split(
    X.astype(np.float32), y, test_size=0.25, random_state=0, stratify=y)
X_train, X_test, y_train, y_test = map(jnp.asarray, (X_train, X_test, y_train, y_test))
print(f"{DATASET}: {X_train.shape[0]} training and {X_test.shape[0]} test images of {X.shape[1]} pixels")

# %% [markdown]
# ## The model and the mask

# %%
class MLP(nn.Module):
    hidden: int = 64

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.hidden)(x))  # "Dense_0": pixels -> hidden
        return nn.Dense(10)(x)  # "Dense_1": hidden -> classes


# the mask of the penalized leaves: the kernels (True), not the biases (False)
is_kernel = lambda path, _: any(getattr(k, "key", None) == "kernel" for k in path)
kernels = lambda params: jax.tree_util.tree_map_with_path(is_kernel, params)


def kernel_leaves(params):
    return [w for w, m in zip(jax.tree.leaves(params), jax.tree.leaves(kernels(params))) if m]


def l1_of_kernels(params):
    return sum(jnp.abs(w).sum() for w in kernel_leaves(params))


def accuracy(model, params):
    return jnp.mean(model.apply(params, X_test).argmax(-1) == y_test)


def check_sparsity(params, small=1e-6):
    """The fractions of kernel weights that are exactly zero and that are below `small` in size."""
    ws = kernel_leaves(params)
    tiny = sum((jnp.abs(w) < small).sum() for w in ws) / sum(w.size for w in ws)
    return jaxl1.sparsity(params, mask=kernels).total, tiny


# %% [markdown]
# ## SGD: the L1 term in the loss, or the proximal step
#
# The PyTorch recipe trains a 784-128-10 MLP on MNIST with `SGD(lr=0.01)`, batches
# of 64 and `loss + 1e-4 * sum |w|`, then counts the weights that are exactly zero.
# No package this project depends on ships MNIST (scikit-learn's `fetch_openml`,
# torchvision and keras all download it at run time), so here the same recipe runs
# on scikit-learn's bundled 8x8 digits, with a 64-128-10 MLP (`USE_MNIST = True`
# above gives the 784-128-10 shape, after a download).  Two runs start from the same
# initial weights (Flax's default initialization) and see the same batches, with
# `SGD_LAM = 1e-4`:
#
# * naive: `SGD_LAM * sum |w|` over both weight matrices is added to the loss, and
#   `optax.sgd(0.01)` follows the gradient of the sum;
# * proximal: `optax.sgd(0.01)` on the loss alone, followed by
#   `jaxl1.proximal(jaxl1.L1(SGD_LAM), 0.01, mask=kernels)`, which soft-thresholds the
#   weight matrices at `0.01 * SGD_LAM` after every step.
#
# Both minimize the same objective, cross-entropy plus `SGD_LAM * sum |w|`: with SGD,
# `lam` means the same number in both.  Test accuracy and the exact zeros are recorded
# after every epoch.

# %%
SGD_LR, SGD_BATCH, SGD_LAM, SGD_EPOCHS = 0.01, 64, 1e-4, 1000

sgd_model = MLP(hidden=128)
sgd_params0 = sgd_model.init(jax.random.key(0), X_train[:1])


def train_sgd(proximal, key=jax.random.key(1)):
    """SGD_EPOCHS epochs of minibatch SGD; returns the parameters and per-epoch (accuracy, zeros)."""
    if proximal:
        tx = optax.chain(optax.sgd(SGD_LR), jaxl1.proximal(jaxl1.L1(SGD_LAM), SGD_LR, mask=kernels))
    else:
        tx = optax.sgd(SGD_LR)
    n = X_train.shape[0]
    n_batches = n // SGD_BATCH

    def loss(params, x, labels):
        value = optax.softmax_cross_entropy_with_integer_labels(sgd_model.apply(params, x), labels).mean()
        return value if proximal else value + SGD_LAM * l1_of_kernels(params)

    def step(carry, idx):
        params, state = carry
        grads = jax.grad(loss)(params, X_train[idx], y_train[idx])
        updates, state = tx.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    def epoch(carry, key):
        batches = jax.random.permutation(key, n)[: n_batches * SGD_BATCH].reshape(n_batches, SGD_BATCH)
        carry = jax.lax.scan(step, carry, batches)[0]
        params = carry[0]
        return carry, (accuracy(sgd_model, params), jaxl1.sparsity(params, mask=kernels).total)

    (params, _), history = jax.lax.scan(epoch, (sgd_params0, tx.init(sgd_params0)),
                                        jax.random.split(key, SGD_EPOCHS))
    return params, history


sgd_runs = {}
for name, proximal in [("naive", False), ("proximal", True)]:
    start = time.perf_counter()
    params, (acc, zeros) = jax.jit(train_sgd, static_argnums=0)(proximal)
    sgd_runs[name] = (params, np.asarray(acc), np.asarray(zeros))
    print(f"{name:8s} {SGD_EPOCHS} epochs trained in {time.perf_counter() - start:.1f} s")

steps = SGD_EPOCHS * (X_train.shape[0] // SGD_BATCH)
print(f"\nafter {SGD_EPOCHS} epochs ({steps} steps of batch {SGD_BATCH}), lr {SGD_LR}, lam {SGD_LAM:g}:")
for name, label in [("naive", "L1 term in the loss + optax.sgd"), ("proximal", "optax.sgd + jaxl1.proximal")]:
    params = sgd_runs[name][0]
    exact, tiny = check_sparsity(params)
    print(f"{name:8s} {'(' + label + '):':34s} test accuracy {float(accuracy(sgd_model, params)):.3f}, "
          f"exactly zero weights {float(exact):.2%}, |w| < 1e-6: {float(tiny):.2%}")

print(f"\n{'epoch':>6s} | {'naive: accuracy  zeros':>24s} | {'proximal: accuracy  zeros':>27s}")
for e in [1, 10, 30, 100, 300, 1000]:
    if e <= SGD_EPOCHS:
        (_, a0, z0), (_, a1, z1) = sgd_runs["naive"], sgd_runs["proximal"]
        print(f"{e:6d} | {a0[e - 1]:>17.3f} {z0[e - 1]:>6.2%} | {a1[e - 1]:>20.3f} {z1[e - 1]:>6.2%}")

# %% [markdown]
# The two runs reach the same accuracy (they follow the same objective, and their
# accuracy curves below lie on top of each other), but only the
# proximal one has weights that are exactly zero, and their number grows with training.
# At this strength the threshold is small: `lr * lam = 1e-6` per step, while the
# initial weights are about `0.1` in size, so the penalty alone needs on the order of
# `1e5` steps to bring a weight to zero.  The weights leaving the pixels that are blank
# in every training image show it exactly: their loss gradient is zero, so only the
# penalty moves them, by `1e-6` per step.

# %%
blank = np.asarray(X_train).std(axis=0) == 0
w_init = np.asarray(sgd_params0["params"]["Dense_0"]["kernel"])[blank]
reachable = np.abs(w_init) <= steps * SGD_LR * SGD_LAM
print(f"{int(blank.sum())} blank pixels, {w_init.size} weights leaving them; "
      f"{int(reachable.sum())} started within steps * lr * lam = {steps * SGD_LR * SGD_LAM:.3f} of zero")
for name in ["naive", "proximal"]:
    w = np.asarray(sgd_runs[name][0]["params"]["Dense_0"]["kernel"])[blank]
    print(f"{name:8s}: {int((w == 0).sum())} of them are exactly zero, "
          f"{int((np.abs(w) < 1e-6).sum())} are below 1e-6 in size")

# %%
epochs = np.arange(1, SGD_EPOCHS + 1)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
for name, style in [("naive", dict(color="0.6", lw=3)), ("proximal", dict(color="tab:blue", lw=1, ls="--"))]:
    _, acc, zeros = sgd_runs[name]
    axes[0].plot(epochs, acc, label=name, **style)
    axes[1].plot(epochs, 100 * zeros, label=name, **style)
axes[0].set_ylabel(f"test accuracy ({DATASET})")
axes[1].set_ylabel("exactly zero kernel weights (%)")
for ax in axes:
    ax.set_xscale("log")
    ax.set_xlabel("epoch")
    ax.legend(frameon=False, fontsize=8)
fig.suptitle(f"SGD({SGD_LR}), batch {SGD_BATCH}, lam = {SGD_LAM:g}", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# The naive run sets none of them to zero: each step moves them by `1e-6` towards zero
# and past it, and they oscillate within `1e-6` of zero for ever.  The proximal run
# stops every weight that reaches zero there, and has zeroed exactly the weights that
# had the time to reach it.  The other zeros are weights that reached zero where their
# loss gradient is small (below `lam` in size), so that the threshold keeps them there.
# The naive run has about as many weights below `1e-6` as the proximal run has zeros,
# but it takes a threshold chosen after training to call them zero.  A larger `lam` or learning rate
# gives zeros sooner (the threshold is their product); so does Adam with the proximal
# step in its own metric, below, at this same `lam`.
#
# ## Adam: three optimizers over a range of strengths

# %%
model = MLP()
params0 = model.init(jax.random.key(0), X_train[:1])

LR, EPOCHS, BATCH = 1e-2, 40, 128
METHODS = ["loss term + adam", "adam + jaxl1.proximal", "jaxl1.prox_adam"]


def optimizer(method, lam):
    if method == "loss term + adam":
        return optax.adam(LR)
    if method == "adam + jaxl1.proximal":
        return optax.chain(optax.adam(LR), jaxl1.proximal(jaxl1.L1(lam), LR, mask=kernels))
    return jaxl1.prox_adam(LR, jaxl1.L1(lam), mask=kernels)


def train(method, lam, key):
    """Minibatch training for EPOCHS epochs; returns the final parameters."""
    tx = optimizer(method, lam)
    n = X_train.shape[0]
    n_batches = n // BATCH

    def loss(params, x, labels):
        logits = model.apply(params, x)
        value = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return value + lam * l1_of_kernels(params) if method == "loss term + adam" else value

    def step(carry, idx):
        params, state = carry
        grads = jax.grad(loss)(params, X_train[idx], y_train[idx])
        updates, state = tx.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    def epoch(carry, key):
        batches = jax.random.permutation(key, n)[: n_batches * BATCH].reshape(n_batches, BATCH)
        return jax.lax.scan(step, carry, batches)[0], None

    (params, _), _ = jax.lax.scan(epoch, (params0, tx.init(params0)), jax.random.split(key, EPOCHS))
    return params


def near_zero(params, threshold=1e-3):
    """Fraction of kernel weights with |w| < threshold (small, not necessarily zero)."""
    return check_sparsity(params, threshold)[1]


# %% [markdown]
# ### The sweep
#
# `jaxl1.sparsity(params, kernels).total` counts exact zeros among the kernel weights.

# %%
LAMS = jnp.array([0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0])

results, trained = {}, {}
for method in METHODS:
    start = time.perf_counter()
    sweep = jax.jit(jax.vmap(partial(train, method), in_axes=(0, None)))
    params = sweep(LAMS, jax.random.key(1))
    results[method] = {
        "accuracy": np.asarray(jax.vmap(partial(accuracy, model))(params)),
        "zeros": np.asarray(jax.vmap(lambda p: jaxl1.sparsity(p, kernels).total)(params)),
        "near_zero": np.asarray(jax.vmap(near_zero)(params)),
    }
    trained[method] = params
    print(f"{method:22s} {len(LAMS)} strengths trained in {time.perf_counter() - start:.1f} s")

print(f"\n{'lam':>7s} | " + " | ".join(f"{m:>22s}" for m in METHODS))
print(f"{'':>7s} | " + " | ".join(f"{'accuracy  exact zeros':>22s}" for _ in METHODS))
for k, lam in enumerate(np.asarray(LAMS)):
    row = " | ".join(f"{results[m]['accuracy'][k]:>9.3f} {results[m]['zeros'][k]:>11.1%}" + " " for m in METHODS)
    print(f"{lam:7.0e} | {row}")

# %%
lam_axis = np.asarray(LAMS)[1:]
styles = {"loss term + adam": ("tab:gray", "s"), "adam + jaxl1.proximal": ("tab:orange", "^"),
          "jaxl1.prox_adam": ("tab:blue", "o")}
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
for method in METHODS:
    color, marker = styles[method]
    r = results[method]
    axes[0].plot(lam_axis, r["accuracy"][1:], marker=marker, color=color, ms=4, label=method)
    axes[1].plot(lam_axis, 100 * r["zeros"][1:], marker=marker, color=color, ms=4, label=method)
axes[1].plot(lam_axis, 100 * results["loss term + adam"]["near_zero"][1:], ":", color="tab:gray",
             label="loss term: |w| < 1e-3 (not zero)")
axes[0].axhline(results["jaxl1.prox_adam"]["accuracy"][0], color="k", lw=0.8, ls="--", label="no penalty")
axes[0].set_ylabel(f"test accuracy ({DATASET})")
axes[1].set_ylabel("exactly zero kernel weights (%)")
for ax in axes:
    ax.set_xscale("log")
    ax.set_xlabel("strength lam")
axes[0].legend(frameon=False, fontsize=8, loc="lower left")
axes[1].legend(frameon=False, fontsize=8, loc="upper left")
fig.tight_layout()
plt.show()

# %% [markdown]
# The loss term never produces an exact zero, at any strength: the dotted line counts
# the weights it has made *small* (below `1e-3`), which are many, but they are not zero.
# From `lam ~ 3e-2` on its accuracy falls to chance, still without a single zero weight.
#
# `prox_adam` minimizes the same objective for the same `lam`, and there the weights
# that the penalty kills are exactly zero: at `lam = 1e-3` about 70% of the kernel
# weights are zero, for a test accuracy within about a point of the unpenalized
# network.  From `lam ~ 3e-2` on, the all-zero kernels are a fixed point of the
# proximal step, and that is where it ends.
#
# `adam` followed by `jaxl1.proximal` also gives exact zeros, but its `lam` is on
# another scale: the threshold is the scalar `lr * lam` while Adam's steps are
# normalized per coordinate, so here it takes a `lam` several hundred times larger for
# the same sparsity (see the `prox_adam` docstring).
#
# ### The weights at one strength
#
# The same `lam = 1e-3` for the loss term and `prox_adam`: the histogram of `|w|`
# over both kernels (exact zeros in the bar at the left), and, for `prox_adam`, how
# many of each input pixel's 64 outgoing weights survive.

# %%
k = int(np.argmin(np.abs(np.asarray(LAMS) - 1e-3)))
pick = lambda params: jax.tree.map(lambda leaf: leaf[k], params)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [2.2, 1]})
bins = np.linspace(-8, 0.5, 44)
for method in ["loss term + adam", "jaxl1.prox_adam"]:
    p = pick(trained[method])["params"]
    w = np.abs(np.concatenate([np.ravel(p["Dense_0"]["kernel"]), np.ravel(p["Dense_1"]["kernel"])]))
    color = styles[method][0]
    axes[0].hist(np.log10(w[w > 0]), bins=bins, color=color, alpha=0.6, label=f"{method}: |w| > 0")
    axes[0].bar(-8.6, np.mean(w == 0) * w.size, width=0.5, color=color, alpha=0.8)
axes[0].set_xticks([-8.6, -6, -4, -2, 0], ["exactly 0", "1e-6", "1e-4", "1e-2", "1"])
axes[0].set_xlabel("|w| (kernel weights)")
axes[0].set_ylabel("count")
axes[0].legend(frameon=False, fontsize=8)
axes[0].set_title(f"lam = {float(LAMS[k]):.0e}")

first = np.asarray(pick(trained["jaxl1.prox_adam"])["params"]["Dense_0"]["kernel"])
side = int(round(np.sqrt(first.shape[0])))
image = axes[1].imshow((first != 0).sum(axis=1).reshape(side, side), cmap="viridis")
axes[1].set_title("prox_adam: nonzero weights\nleaving each input pixel", fontsize=9)
axes[1].set_xticks([])
axes[1].set_yticks([])
fig.colorbar(image, ax=axes[1], fraction=0.046)
fig.tight_layout()
plt.show()

# %% [markdown]
# Pixels on the border of the digits carry no information (they are blank in almost
# every image), and the proximal step has removed every weight leaving them: those
# inputs can be dropped from the network.

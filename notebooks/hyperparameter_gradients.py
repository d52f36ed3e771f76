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
# # Tuning the lasso strength by gradient descent
#
# Fit a lasso on a training split, score it on a validation split: the held-out loss
# $V(\lambda) = \frac{1}{n_{val}}\|y_{val} - X_{val}\hat w(\lambda) - \hat b(\lambda)\|^2$
# is a function of one number, which a grid of strengths maps out.
# `jaxl1.fit` is differentiable in its strength (by implicit differentiation at the
# solution, not by unrolling the solver), so $V$ can also be minimized by gradient
# steps on $\log\lambda$: that is `jaxl1.tune`.  A grid is the right tool for one
# strength; the gradient is what makes it possible to tune many, e.g. one penalty
# factor per feature (`tune_weights=True`), where a grid over `p` dimensions is out of
# reach.
#
# The data: the diabetes data with all pairwise products and squares of its 10
# features (64 features for 296 training samples), where the lasso has something to
# select.

# %%
import time

import jax

jax.config.update("jax_enable_x64", True)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import PolynomialFeatures, StandardScaler  # noqa: E402

import jaxl1  # noqa: E402

plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "font.size": 9})

data = load_diabetes()
poly = PolynomialFeatures(2, include_bias=False).fit(data.data)
names = poly.get_feature_names_out(data.feature_names)
# `sex` takes two values, so `sex^2` is an affine function of `sex`: drop the duplicate
keep = names != "sex^2"
X, names = poly.transform(data.data)[:, keep], names[keep]
X_train, X_val, y_train, y_val = train_test_split(X, data.target, test_size=0.33, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
print(f"{X_train.shape[0]} training and {X_val.shape[0]} validation samples, {X.shape[1]} features")

# %% [markdown]
# ## The held-out loss on a grid
#
# One `fit_path` call on the training split, scored on the validation split.

# %%
path = jaxl1.fit_path(X_train, y_train, n_lambdas=100)
grid = np.asarray(path.lambdas)
grid_mse = np.mean((y_val[:, None] - np.asarray(path.predict(X_val))) ** 2, axis=0)
k = int(np.argmin(grid_mse))
lam_max = float(grid[0])
print(f"lambda_max = {lam_max:.2f}")
print(f"grid minimum: lambda = {grid[k]:.3f}, validation MSE = {grid_mse[k]:.1f}, "
      f"{int((path.coef[k] != 0).sum())} nonzero coefficients")

# %% [markdown]
# ## Gradient descent on $\log\lambda$
#
# `jaxl1.tune` runs `n_steps` Adam steps on $\log\lambda$; each step is one solve and
# one implicit-differentiation solve.  Two starts, one from each side of the grid's
# minimum.

# %%
STEPS = 40
runs = {}
for label, init in [("start at lambda_max / 2", lam_max / 2), ("start at lambda_max / 1000", lam_max / 1000)]:
    start = time.perf_counter()
    runs[label] = jaxl1.tune(X_train, y_train, X_val, y_val, init_lambda=init, n_steps=STEPS,
                             optimizer=optax.adam(0.2))
    res = runs[label]
    print(f"{label:27s}: best lambda = {res.lambda_best:.3f}, validation MSE = {res.score_best:.1f}, "
          f"{int((res.fit.coef != 0).sum())} nonzero  ({time.perf_counter() - start:.1f} s)")

# %%
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(grid, grid_mse, "-", color="0.6", lw=2, label="grid: fit_path on train, MSE on validation")
ax.plot(grid[k], grid_mse[k], "*", color="k", ms=11, label=f"grid minimum ({grid[k]:.2f})")
for (label, res), color in zip(runs.items(), ["tab:red", "tab:blue"]):
    lams, scores = res.lambdas[:-1], res.scores
    ax.plot(lams, scores, "-", color=color, lw=0.8, alpha=0.6)
    ax.scatter(lams, scores, c=np.arange(len(scores)), cmap="Reds" if color == "tab:red" else "Blues",
               vmin=-10, vmax=len(scores), s=16, zorder=3, edgecolors=color, linewidths=0.5)
    ax.plot([], [], "o", color=color, ms=4, label=f"jaxl1.tune, {label} (darker = later)")
    ax.annotate("start", (lams[0], scores[0]), xytext=(0, 8), textcoords="offset points", ha="center",
                fontsize=8, color=color)
ax.set_xscale("log")
ax.set_xlabel(r"$\lambda$")
ax.set_ylabel("validation MSE")
ax.set_ylim(grid_mse.min() - 60, grid_mse.min() + 650)
ax.legend(frameon=False, fontsize=8, loc="upper center")
fig.tight_layout()
plt.show()

# %% [markdown]
# Both trajectories follow the grid's curve (every point of a trajectory is an exact
# fit, scored like the grid) and settle at the grid's minimum, from either side.  The
# curve is not convex in $\log\lambda$, though: the shoulder around $\lambda \approx 5$
# to $6$ holds a shallow local minimum, where a run with smaller steps (`tune`'s
# default `optax.adam(0.1)` from its default start `0.1 * lambda_max`) stops; here
# Adam's momentum carries the run through it.  With one strength the grid sees the
# whole picture, and a coarse grid is a good way to choose the starting point.
#
# ## Many hyperparameters: one penalty factor per feature
#
# With `tune_weights=True` the penalty is $\lambda\sum_j c_j |w_j|$ and the 64
# factors $c_j = e^{\gamma_j}$ are tuned along with $\lambda$, by the same gradient.
# This fits the validation split much harder than one strength can (so its
# validation score is optimistic: a third split would be needed to report it).

# %%
start = time.perf_counter()
weighted = jaxl1.tune(X_train, y_train, X_val, y_val, init_lambda=float(grid[k]), n_steps=STEPS,
                      tune_weights=True)
print(f"weighted lasso: validation MSE {weighted.score_best:.1f} (single-strength grid: {grid_mse[k]:.1f}), "
      f"{int((weighted.fit.coef != 0).sum())} nonzero  ({time.perf_counter() - start:.1f} s)")
order = np.argsort(weighted.weights_best)
print("smallest factors (penalized least):", ", ".join(f"{names[j]} {weighted.weights_best[j]:.2f}"
                                                         for j in order[:5]))

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(np.arange(STEPS), weighted.scores, "o-", ms=3, color="tab:purple", label="tune(..., tune_weights=True)")
ax.axhline(grid_mse[k], color="k", ls="--", lw=0.8, label="best single strength (grid)")
ax.set_xlabel("step")
ax.set_ylabel("validation MSE")
ax.legend(frameon=False, fontsize=8)
fig.tight_layout()
plt.show()

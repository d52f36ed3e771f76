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
# # Beyond the lasso: group lasso, MCP and stability selection
#
# Three tools of `jaxl1` that go past the plain lasso path, each on data bundled with scikit-learn:
#
# 1. the **group lasso** along a path (`fit_path(groups=...)`): whole groups of columns enter together;
# 2. **MCP**, a non-convex penalty (`fit_path(penalty="mcp")`) that shrinks large coefficients less than
#    the lasso, beside the lasso's path;
# 3. **stability selection** (`stability_selection`): the share of half-samples on which each feature is
#    selected, along the path, in one call.
#
# Everything runs in float64.

# %%
import jax

jax.config.update("jax_enable_x64", True)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_diabetes  # noqa: E402

import jaxl1  # noqa: E402

# %% [markdown]
# ## 1. The group lasso: the breast-cancer measurements as groups
#
# The 30 columns of the breast-cancer data are 10 measurements of the cell nuclei (radius, texture, ...),
# each summarized three times: the mean, the standard error and the worst value.  Column `j` belongs to
# measurement `j % 10`.  The group lasso penalizes $\lambda \sum_g \sqrt{3}\,\|w_g\|_2$ on the logistic
# loss, so a measurement enters the model with its three summaries at once.  Correlated measurements
# (radius, perimeter, area) can take each other's place along the path: a group may enter and leave again.

# %%
data = load_breast_cancer()
X = (data.data - data.data.mean(0)) / data.data.std(0)
y = data.target.astype(float)
groups = np.arange(30) % 10
measurements = [name.replace("mean ", "") for name in data.feature_names[:10]]

gpath = jaxl1.fit_path(X, y, loss="logistic", groups=groups, n_lambdas=30, eps=0.01, tol=1e-10)
norms = np.stack([np.linalg.norm(np.asarray(gpath.coef)[:, groups == g], axis=1) for g in range(10)], 1)
entry = [int(np.argmax(norms[:, g] > 0)) if (norms[:, g] > 0).any() else 30 for g in range(10)]
print("group lasso: all strengths converged:", bool(gpath.converged.all()))
print(f"group lambda_max: {float(gpath.lambdas[0]):.10g}")
print("groups in the order they first enter:", ", ".join(measurements[g] for g in np.argsort(entry, kind="stable")))
k = 12
print(f"at lambda = {float(gpath.lambdas[k]):.12g}: " +
      ", ".join(f"{measurements[g]}={norms[k, g]:.4f}" for g in range(10) if norms[k, g] > 0))

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for g in range(10):
    ax.plot(np.asarray(gpath.lambdas), norms[:, g], label=measurements[g])
ax.set_xscale("log")
ax.invert_xaxis()
ax.set_xlabel("lambda")
ax.set_ylabel("group norm ||w_g||")
ax.set_title("Group-lasso logistic path: one curve per measurement")
ax.legend(fontsize=7, ncol=2)
plt.show()

# %% [markdown]
# ## 2. MCP beside the lasso on the diabetes data
#
# MCP penalizes a coefficient like the lasso near zero and not at all beyond $\gamma\lambda$, so the
# coefficients it keeps are not shrunk.  Its path starts at the same `lambda_max` (the penalties agree at
# zero) and walks down from there, each strength warm-started from the last.  With standardized columns
# ($x_j^\top x_j / n = 1$) its $\gamma$ is the usual one (ncvreg's, skglm's).

# %%
Xd, yd = load_diabetes(return_X_y=True)
Xd = (Xd - Xd.mean(0)) / Xd.std(0)
lasso = jaxl1.fit_path(Xd, yd, n_lambdas=50, tol=1e-12)
mcp = jaxl1.fit_path(Xd, yd, lambdas=lasso.lambdas, penalty="mcp", gamma=3.0, tol=1e-12)
k = 20
lam = float(lasso.lambdas[k])
print(f"at lambda = {lam:.12g}: lasso {int((lasso.coef[k] != 0).sum())} features, "
      f"MCP {int((mcp.coef[k] != 0).sum())} features")
print("lasso:", " ".join(f"{v + 0.0:.4f}" for v in np.asarray(lasso.coef[k])))
print("MCP:  ", " ".join(f"{v + 0.0:.4f}" for v in np.asarray(mcp.coef[k])))

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, path, title in ((axes[0], lasso, "lasso"), (axes[1], mcp, "MCP, gamma = 3")):
    ax.plot(np.asarray(path.lambdas), np.asarray(path.coef))
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("lambda")
    ax.set_title(title)
axes[0].set_ylabel("coefficient")
plt.show()

# %% [markdown]
# ## 3. Stability selection on the diabetes data
#
# The lasso path is fitted on 100 random halves of the rows, as one compiled computation; each feature's
# selection probability along the path is the share of halves that select it.  The stable set holds the
# features whose probability reaches the threshold on the leading strengths where at most 5 features are
# selected on average (`max_selected`, their $q_\Lambda$); Meinshausen and Bühlmann's bound
# $q_\Lambda^2 / ((2\pi_{thr} - 1)\,p)$ then caps the expected number of false selections.

# %%
names = load_diabetes().feature_names
stab = jaxl1.stability_selection(Xd, yd, n_subsamples=100, n_lambdas=30, threshold=0.8, max_selected=5,
                                 random_state=0, tol=1e-10)
top = np.asarray(stab.max_probability)
print("stable set (threshold 0.8):", ", ".join(names[int(j)] for j in stab.stable_set))
print(f"expected false selections at most: {float(stab.expected_false_selections):.3f}")
print(f"strengths in the region: {int(np.asarray(stab.region).sum())} of 30")
print("largest selection probability in the region:", ", ".join(f"{names[j]}={top[j]:.2f}" for j in range(10)))

# %%
jaxl1.plot_stability(stab, names=names)
plt.show()

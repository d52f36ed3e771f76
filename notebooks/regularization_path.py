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
# # The lasso path of the diabetes data, next to scikit-learn's
#
# `jaxl1.fit_path` fits the lasso for a whole decreasing grid of strengths in one
# compiled call.  Its objective is scikit-learn's,
#
# $$\frac{1}{2n}\,\|y - Xw - b\|^2 + \lambda\,\|w\|_1 ,$$
#
# so `lambda` is the `alpha` of `Lasso`, and the default grid (100 strengths from
# `lambda_max` down to `1e-3 * lambda_max`) is the grid of `lasso_path`.
# scikit-learn's `lasso_path` fits no intercept; on centred `X` and `y` it solves the
# same problem as `fit_path` with `fit_intercept=True` on the raw data.
#
# Everything runs in float64 so that the two solvers can be compared to many digits.

# %%
import time

import jax

jax.config.update("jax_enable_x64", True)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.linear_model import LassoCV, lasso_path  # noqa: E402

import jaxl1  # noqa: E402

plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80, "font.size": 9})

data = load_diabetes()
X, y = data.data, data.target
names = np.array(data.feature_names)
print(X.shape, X.dtype)

# %% [markdown]
# ## The path
#
# `tol` is a relative duality gap: every strength stops at `gap <= tol * P(0)`.
# scikit-learn's `tol` is relative to `||y||^2 / n = 2 P(0)`, so half of jaxl1's
# number asks for the same certificate.

# %%
TOL = 1e-10

start = time.perf_counter()
path = jaxl1.fit_path(X, y, n_lambdas=100, tol=TOL)
path.coef.block_until_ready()
print(f"first call (compiles): {time.perf_counter() - start:.2f} s")

start = time.perf_counter()
path = jaxl1.fit_path(X, y, n_lambdas=100, tol=TOL)
path.coef.block_until_ready()
print(f"second call:           {time.perf_counter() - start:.3f} s")
p0 = 0.5 * np.mean((y - y.mean()) ** 2)  # the objective at w = 0
print("all strengths converged:", bool(path.converged.all()),
      f"| largest gap / P(0): {float(path.gap.max()) / p0:.1e}")

lambdas = np.asarray(path.lambdas)
coef = np.asarray(path.coef)

# %%
Xc, yc = X - X.mean(axis=0), y - y.mean()
sk_alphas, sk_coefs, _ = lasso_path(Xc, yc, alphas=lambdas, tol=TOL / 2, max_iter=100_000)
sk_coef = sk_coefs.T  # (K, p), one row per strength like path.coef

default_alphas, _, _ = lasso_path(Xc, yc, eps=1e-3)  # scikit-learn's own 100-point grid
print("lambda_max:", float(jaxl1.lambda_max(X, y)), "| scikit-learn's alpha_max:", default_alphas[0])
print("largest difference between the two default grids:", np.abs(default_alphas - lambdas).max())
diff = np.abs(coef - sk_coef).max()
print(f"max |coef_jaxl1 - coef_sklearn| over the path: {diff:.2e}"
      f"  (relative to the largest coefficient, {np.abs(coef).max():.0f}: {diff / np.abs(coef).max():.1e})")

# %%
fig, ax = plt.subplots(figsize=(8, 4.2))
colors = plt.cm.tab10(np.arange(X.shape[1]))
# feature names at the right end, nudged apart where the final values are close
label_y = coef[-1].copy()
order = np.argsort(label_y)
min_gap = 0.045 * np.ptp(coef)
for a, b in zip(order[:-1], order[1:]):
    label_y[b] = max(label_y[b], label_y[a] + min_gap)
for j in range(X.shape[1]):
    ax.plot(lambdas, coef[:, j], color=colors[j], lw=1.8)
    ax.plot(lambdas[::4], sk_coef[::4, j], "o", color=colors[j], ms=3.5, mfc="none")
    ax.annotate(names[j], (lambdas[-1], label_y[j]), xytext=(4, 0), textcoords="offset points",
                va="center", fontsize=8, color=colors[j])
ax.set_xscale("log")
ax.invert_xaxis()
ax.set_xlabel(r"$\lambda$ (scikit-learn's alpha)")
ax.set_ylabel("coefficient")
ax.plot([], [], "k-", label="jaxl1.fit_path")
ax.plot([], [], "ko", mfc="none", ms=4, label="sklearn lasso_path (every 4th strength)")
ax.legend(loc="upper left", frameon=False)
ax.set_title("Lasso path, diabetes (n=442, p=10)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The lines (jaxl1) and the circles (scikit-learn) coincide: both solve the problem
# to a duality gap of about `1e-10 * P(0)`, so their coefficients agree to the
# accuracy that gap guarantees.
#
# ## Cross-validation
#
# `jaxl1.cross_validate` fits the path on every training split inside one compiled
# call (the folds are `KFold(5)`'s contiguous blocks, the grid is computed once on
# all the data, as `LassoCV` does) and refits on all the data.  `lambda_best`
# minimizes the mean held-out error (glmnet's `lambda.min`); `lambda_1se` is the
# largest strength whose error is within one standard error of that minimum
# (glmnet's `lambda.1se`): a sparser model that is statistically as good.

# %%
cv = jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=100, tol=1e-8)
lam_best, lam_1se = float(cv.lambda_best), float(cv.lambda_1se)
sk_cv = LassoCV(cv=5, tol=1e-8 / 2, max_iter=100_000).fit(X, y)
print(f"lambda_best = {lam_best:.5f}   (scikit-learn LassoCV(cv=5).alpha_ = {sk_cv.alpha_:.5f})")
print(f"lambda_1se  = {lam_1se:.5f}")

cv_lams = np.asarray(cv.lambdas)
for label, lam in [("lambda_best", lam_best), ("lambda_1se", lam_1se)]:
    k = int(np.argmin(np.abs(cv_lams - lam)))
    w = np.asarray(cv.path.coef[k])
    print(f"{label}: {int((w != 0).sum())} features, mean CV MSE {float(cv.mean_score[k]):.0f}:",
          ", ".join(f"{n}={v:.0f}" for n, v in zip(names, w) if v != 0))

# %%
fig, ax = plt.subplots(figsize=(8, 3.6))
mean, se = np.asarray(cv.mean_score), np.asarray(cv.std_score)
ax.errorbar(cv_lams, mean, yerr=se, fmt="o", ms=2.5, color="tab:red", ecolor="0.65", elinewidth=0.8,
            label="jaxl1.cross_validate mean MSE ± 1 SE")
ax.plot(sk_cv.alphas_, sk_cv.mse_path_.mean(axis=1), "k-", lw=0.8, label="scikit-learn LassoCV mean MSE")
ax.axvline(lam_best, color="tab:blue", ls="--", label=rf"$\lambda_{{best}}$ = {lam_best:.3g}")
ax.axvline(lam_1se, color="tab:green", ls="--", label=rf"$\lambda_{{1se}}$ = {lam_1se:.3g}")
ax.set_xscale("log")
ax.invert_xaxis()
ax.set_ylim(mean.min() - 100, mean.min() + 900)  # the far left (few features) runs up to ~6000
ax.set_xlabel(r"$\lambda$")
ax.set_ylabel("5-fold CV mean squared error")
ax.legend(frameon=False, loc="upper right")
# the number of nonzero coefficients of the refitted path, on a top axis
nnz = (np.asarray(cv.path.coef) != 0).sum(axis=1)
top = ax.twiny()
top.set_xscale("log")
top.set_xlim(ax.get_xlim())
top.set_xticks(cv_lams[::11], [str(n) for n in nnz[::11]])
top.minorticks_off()
top.set_xlabel("nonzero coefficients")
fig.tight_layout()
plt.show()

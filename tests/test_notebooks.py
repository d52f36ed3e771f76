"""The notebooks: paired with their jupytext twins, executed, and the numbers they print checked.

Every notebook is a jupytext percent-format ``.py`` paired with an executed ``.ipynb``.
``test_notebook_matches_its_py`` checks that the two hold the same cells, so that the
code reviewed and the code run are the same.  ``test_notebook_runs_and_prints`` executes
each notebook's cells in a fresh kernel (with this checkout's ``jaxl1`` first on the
path) and checks what it prints against an independent computation (scikit-learn) or a
bound that must hold whatever the machine; nothing here depends on timings.  Each
notebook runs once, in one test, so that pytest-xdist never runs one twice.

Regenerate a notebook after editing its ``.py`` and execute it in place with::

    jupytext --to notebook notebooks/NAME.py
    python -m jupyter execute --inplace notebooks/NAME.ipynb
"""

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import jupytext  # noqa: E402  (test dependencies: never skipped)
import nbclient  # noqa: E402
import ipykernel  # noqa: E402,F401  (the notebooks run in its python3 kernel)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOURCES = sorted(p for p in NOTEBOOKS.glob("*.py") if p.name != "conftest.py")


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_there_are_notebooks():
    assert len(SOURCES) >= 4


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_matches_its_py(source):
    executed = source.with_suffix(".ipynb")
    assert executed.exists(), f"{executed.name} is missing: run jupytext --to notebook {source.name}"
    py_cells = _cells(jupytext.read(source))
    nb = jupytext.read(executed)
    assert _cells(nb) == py_cells, f"{executed.name} is out of date with {source.name}"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.get("outputs") for cell in code if "plt.show()" in cell.source), (
        f"{executed.name} was not executed: its figures are missing")


# --------------------------------------------------------------------------- #
# running them
# --------------------------------------------------------------------------- #
def _execute(source, monkeypatch):
    """Run the notebook's cells in a fresh kernel; return everything they print to stdout."""
    # the kernel is `python -m ipykernel_launcher`: this interpreter, and this checkout's jaxl1
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    nb = jupytext.read(source)
    nbclient.NotebookClient(nb, timeout=None, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code"
                   for out in cell.get("outputs", []) if out.get("name") == "stdout")


def _find(pattern, text):
    """The groups of the first match of ``pattern``; fails if the notebook no longer prints it."""
    match = re.search(pattern, text, flags=re.MULTILINE)
    assert match, f"the notebook no longer prints a line matching {pattern!r}:\n{text}"
    return match.groups()


NUM = r"([-+]?\d+(?:\.\d*)?(?:e[-+]?\d+)?)"


def check_regularization_path(out):
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Lasso, LassoCV

    data = load_diabetes()
    X, y, names = data.data, data.target, np.array(data.feature_names)
    n = X.shape[0]
    Xc, yc = X - X.mean(axis=0), y - y.mean()

    converged, gap = _find(rf"all strengths converged: (\w+) \| largest gap / P\(0\): {NUM}", out)
    assert converged == "True" and float(gap) <= 1e-10
    (lam_max,) = _find(rf"^lambda_max: {NUM}", out)
    assert float(lam_max) == pytest.approx(np.abs(Xc.T @ yc).max() / n, rel=1e-12)
    (rel_diff,) = _find(rf"over the path: .*: {NUM}\)", out)
    assert float(rel_diff) < 1e-6

    # cross-validation: the same folds and grid as LassoCV, so the same choice and the same scores
    sk = LassoCV(cv=5, tol=1e-10, max_iter=100_000).fit(X, y)
    (lam_best,) = _find(rf"^lambda_best = {NUM}", out)
    assert abs(float(lam_best) - sk.alpha_) <= 0.6e-5  # printed to 5 decimals
    (mse_best,) = _find(rf"^lambda_best: \d+ features, mean CV MSE {NUM}", out)
    k = int(np.argmin(np.abs(sk.alphas_ - sk.alpha_)))
    assert abs(float(mse_best) - sk.mse_path_[k].mean()) <= 1.0  # printed to units

    # the model at lambda_1se, refitted on all the data, against scikit-learn's Lasso there
    (lam_1se,) = _find(rf"^lambda_1se  = {NUM}", out)
    assert float(lam_1se) > float(lam_best)
    (coefs,) = _find(r"^lambda_1se: \d+ features, mean CV MSE \d+: (.*)$", out)
    printed = {name: float(v) for name, v in (item.split("=") for item in coefs.split(", "))}
    ref = Lasso(alpha=float(lam_1se), tol=1e-12, max_iter=100_000).fit(X, y).coef_
    assert set(printed) == set(names[ref != 0])
    for j, name in enumerate(names):
        if name in printed:
            assert abs(printed[name] - ref[j]) <= 1.0, (name, printed[name], ref[j])


def check_hyperparameter_gradients(out):
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Lasso
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    # the notebook's data, built here again
    data = load_diabetes()
    poly = PolynomialFeatures(2, include_bias=False).fit(data.data)
    keep = poly.get_feature_names_out(data.feature_names) != "sex^2"
    X = poly.transform(data.data)[:, keep]
    X_train, X_val, y_train, y_val = train_test_split(X, data.target, test_size=0.33, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)

    def val_mse(lam):
        model = Lasso(alpha=lam, tol=1e-12, max_iter=1_000_000).fit(X_train, y_train)
        return np.mean((y_val - model.predict(X_val)) ** 2), int((model.coef_ != 0).sum())

    lam, mse, nnz = _find(rf"^grid minimum: lambda = {NUM}, validation MSE = {NUM}, (\d+) nonzero", out)
    ref_mse, ref_nnz = val_mse(float(lam))
    assert float(mse) == pytest.approx(ref_mse, abs=0.5) and int(nnz) == ref_nnz

    tuned = re.findall(rf"^start at .*: best lambda = {NUM}, validation MSE = {NUM}", out, flags=re.MULTILINE)
    assert len(tuned) == 2
    for lam_t, mse_t in tuned:
        assert float(mse_t) <= float(mse) + 0.5  # gradient steps find the grid's minimum
        assert float(mse_t) == pytest.approx(val_mse(float(lam_t))[0], abs=0.5)

    (weighted,) = _find(rf"^weighted lasso: validation MSE {NUM}", out)
    assert float(weighted) < float(mse)  # started at the grid's best strength, tuned on the same split


def check_gpu_paths(out):
    import jax

    (device,) = _find(r"^device: (\w+)", out)
    assert device == jax.devices()[0].platform.upper()
    rows = re.findall(rf"^\s*(\d+)\s+(\d+) \|.*\|\s+{NUM} \| (\w+)$", out, flags=re.MULTILINE)
    assert len(rows) == 4
    for _, _, rel_diff, converged in rows:
        assert converged == "True" and float(rel_diff) < 1e-4


def check_sparse_mlp(out):
    runs = {}
    for name in ("naive", "proximal"):
        acc, zeros, small = _find(
            rf"^{name} +\(.*\): +test accuracy {NUM}, exactly zero weights {NUM}%, \|w\| < 1e-6: {NUM}%", out)
        runs[name] = float(acc), float(zeros) / 100, float(small) / 100
    for acc, _, _ in runs.values():
        assert acc > 0.9
    assert runs["naive"][1] < 0.01  # a gradient step lands on zero only by accident
    assert runs["proximal"][1] > runs["naive"][1]
    # weights leaving blank pixels: no loss gradient, the threshold pulls them in by lr * lam per step
    (reachable,) = _find(r"^\d+ blank pixels, \d+ weights leaving them; (\d+) started within", out)
    (zeroed,) = _find(r"^proximal: (\d+) of them are exactly zero", out)
    assert int(reachable) > 0 and abs(int(zeroed) - int(reachable)) <= 1

    # the Adam sweep: the loss term gives (almost) no zeros, prox_adam gives many at small strengths
    table = re.findall(rf"^\s*{NUM} \| +{NUM} +{NUM}% +\| +{NUM} +{NUM}% +\| +{NUM} +{NUM}%", out, flags=re.MULTILINE)
    assert len(table) == 10
    sweep = {float(r[0]): [float(x) for x in r[1:]] for r in table}
    assert all(row[1] < 1.0 for row in sweep.values())  # loss term + adam: exact zeros (%)
    unpenalized_acc = sweep[0.0][4]
    acc, zeros = sweep[1e-3][4], sweep[1e-3][5]
    assert zeros > 50 and acc > unpenalized_acc - 0.03  # prox_adam at lam = 1e-3, as the text says


def check_beyond_the_lasso(out):
    from skglm.datafits import LogisticGroup
    from skglm.penalties import WeightedGroupL2
    from skglm.solvers import GroupProxNewton
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.linear_model import Lasso, lasso_path

    # 1. the group lasso: lambda_max and the first group in numpy, the group norms against skglm
    data = load_breast_cancer()
    X = (data.data - data.data.mean(0)) / data.data.std(0)
    y = data.target.astype(float)
    n = X.shape[0]
    groups = np.arange(30) % 10
    measurements = [name.replace("mean ", "") for name in data.feature_names[:10]]
    (converged,) = _find(r"^group lasso: all strengths converged: (\w+)", out)
    assert converged == "True"
    g0 = X.T @ (y - y.mean()) / n
    per_group = np.array([np.linalg.norm(g0[groups == g]) / np.sqrt(3) for g in range(10)])
    (lam_max,) = _find(rf"^group lambda_max: {NUM}", out)
    assert float(lam_max) == pytest.approx(per_group.max(), rel=1e-9)
    (order,) = _find(r"^groups in the order they first enter: (.*)$", out)
    assert order.split(", ")[0] == measurements[int(np.argmax(per_group))]
    lam, norms = _find(rf"^at lambda = {NUM}: (.*=.*)$", out)
    printed = {name: float(v) for name, v in (item.split("=") for item in norms.split(", "))}
    idx = [np.flatnonzero(groups == g) for g in range(10)]
    ptr = np.r_[0, np.cumsum([len(i) for i in idx])].astype(np.int32)
    ind = np.concatenate(idx).astype(np.int32)
    datafit = LogisticGroup(grp_ptr=ptr, grp_indices=ind)
    Xf = np.asfortranarray(X)
    datafit.initialize(Xf, 2 * y - 1)
    pen = WeightedGroupL2(alpha=float(lam), weights=np.full(10, np.sqrt(3)), grp_ptr=ptr, grp_indices=ind)
    w = GroupProxNewton(fit_intercept=True, tol=1e-12, max_iter=500).solve(Xf, 2 * y - 1, datafit, pen)[0][:30]
    ref = {measurements[g]: np.linalg.norm(w[groups == g]) for g in range(10)}
    assert set(printed) == {m for m, v in ref.items() if v > 0}
    for m, v in printed.items():
        assert abs(v - ref[m]) <= 2e-4, (m, v, ref[m])

    # 2. the lasso against scikit-learn; MCP's stationarity conditions in numpy (gamma = 3, unit columns)
    Xd, yd = load_diabetes(return_X_y=True)
    Xd = (Xd - Xd.mean(0)) / Xd.std(0)
    nd = Xd.shape[0]
    lam, k_lasso, k_mcp = _find(rf"^at lambda = {NUM}: lasso (\d+) features, MCP (\d+) features", out)
    lam = float(lam)
    (lasso_line,) = _find(r"^lasso: (.*)$", out)
    (mcp_line,) = _find(r"^MCP: +(.*)$", out)
    w_lasso = np.array([float(v) for v in lasso_line.split()])
    w_mcp = np.array([float(v) for v in mcp_line.split()])
    ref = Lasso(alpha=lam, tol=1e-12, max_iter=100_000).fit(Xd, yd).coef_
    np.testing.assert_allclose(w_lasso, ref, atol=6e-5)
    assert int(k_lasso) == int((ref != 0).sum()) and int(k_mcp) == int((w_mcp != 0).sum())
    corr = Xd.T @ (yd - yd.mean() - Xd @ w_mcp) / nd  # the intercept is the mean: the columns are centred
    on = w_mcp != 0
    want = np.sign(w_mcp) * np.maximum(lam - np.abs(w_mcp) / 3.0, 0.0)
    np.testing.assert_allclose(corr[on], want[on], atol=2e-3)  # coefficients printed to 4 decimals
    assert np.all(np.abs(corr[~on]) <= lam + 2e-3)
    assert np.abs(w_mcp).sum() > np.abs(w_lasso).sum()  # less shrinkage

    # 3. stability selection against scikit-learn's lasso_path on the same halves and strengths
    import jaxl1

    names = load_diabetes().feature_names
    stab = jaxl1.stability_selection(Xd, yd, n_subsamples=100, n_lambdas=30, threshold=0.8, max_selected=5,
                                     random_state=0, tol=1e-10)  # for its subsamples and strengths only
    lams = np.asarray(stab.lambdas)
    nz = []
    for rows in np.asarray(stab.subsamples):
        Xs, ys = Xd[rows], yd[rows]
        coefs = lasso_path(Xs - Xs.mean(0), ys - ys.mean(), alphas=lams, tol=1e-12, max_iter=100_000)[1]
        nz.append(coefs.T != 0)  # (K, p)
    nz = np.array(nz)
    prob = nz.mean(0)
    avg = (np.cumsum(nz, axis=1) > 0).sum(2).mean(0)
    region = avg <= 5
    top = np.where(region[:, None], prob, 0.0).max(0)
    (n_region,) = _find(r"^strengths in the region: (\d+) of 30", out)
    assert int(n_region) == int(region.sum())
    (stable,) = _find(r"^stable set \(threshold 0.8\): (.*)$", out)
    assert stable.split(", ") == [names[j] for j in np.flatnonzero(top >= 0.8)]
    (bound,) = _find(rf"^expected false selections at most: {NUM}", out)
    assert float(bound) == pytest.approx(avg[region].max() ** 2 / (0.6 * 10), abs=6e-4)
    (probs,) = _find(r"^largest selection probability in the region: (.*)$", out)
    printed = {name: float(v) for name, v in (item.split("=") for item in probs.split(", "))}
    for j, name in enumerate(names):
        assert abs(printed[name] - top[j]) <= 0.006, (name, printed[name], top[j])


CHECKS = {
    "regularization_path": check_regularization_path,
    "hyperparameter_gradients": check_hyperparameter_gradients,
    "gpu_paths": check_gpu_paths,
    "sparse_mlp": check_sparse_mlp,
    "beyond_the_lasso": check_beyond_the_lasso,
}


def test_every_notebook_is_checked():
    assert sorted(CHECKS) == sorted(p.stem for p in SOURCES)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs_and_prints(source, monkeypatch):
    out = _execute(source, monkeypatch)
    CHECKS[source.stem](out)

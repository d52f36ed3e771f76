"""``jaxl1.plot_path`` and ``jaxl1.plot_cv``: what they draw is the data they are given (Agg backend)."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.datasets import load_diabetes  # noqa: E402

import jaxl1  # noqa: E402


@pytest.fixture(scope="module")
def diabetes_cv():
    data = load_diabetes()
    cv = jaxl1.cross_validate(data.data, data.target, n_folds=5, n_lambdas=20)
    return cv, list(data.feature_names)


def _axes():
    fig = Figure()
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _top_ticks(ax):
    (top,) = ax.child_axes
    ax.figure.canvas.draw()
    return np.asarray(top.get_xticks()), [t.get_text() for t in top.get_xticklabels()]


def test_import_jaxl1_does_not_import_matplotlib():
    code = "import sys, jaxl1; jaxl1.plot_path; print(sorted(m for m in sys.modules if m.startswith('matplotlib')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_missing_matplotlib_says_how_to_install_it(diabetes_cv, monkeypatch):
    cv, _ = diabetes_cv
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for fn, arg in ((jaxl1.plot_path, cv.path), (jaxl1.plot_cv, cv)):
        with pytest.raises(ImportError, match=r"needs matplotlib, which is not installed: pip install matplotlib"):
            fn(arg)


def test_plot_path_draws_the_coefficients(diabetes_cv):
    cv, names = diabetes_cv
    path = cv.path
    lambdas, coef = np.asarray(path.lambdas), np.asarray(path.coef)
    ax = _axes()
    assert jaxl1.plot_path(path, ax=ax, names=names, max_legend=4, title="diabetes") is ax
    p = coef.shape[1]
    for j in range(p):  # one line per coefficient, in column order
        np.testing.assert_array_equal(ax.lines[j].get_xdata(), lambdas)
        np.testing.assert_array_equal(ax.lines[j].get_ydata(), coef[:, j])
    assert ax.get_xscale() == "log" and ax.get_title() == "diabetes"
    lo, hi = ax.get_xlim()
    assert lo > lambdas.max() and hi < lambdas.min()  # every strength shown, decreasing to the right
    # the top axis: strengths of the grid labelled with their number of nonzero coefficients
    ticks, labels = _top_ticks(ax)
    assert 2 <= len(ticks) <= 8 and ticks[0] == lambdas[0] and ticks[-1] == lambdas[-1]
    nnz = (coef != 0).sum(axis=1)
    for t, label in zip(ticks, labels, strict=True):
        (k,) = np.flatnonzero(lambdas == t)
        assert label == str(nnz[k])
    assert labels[0] == "0" and labels[-1] == str(p)
    # the legend names the 4 features with the largest coefficients, then counts the rest
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    largest = {names[j] for j in np.argsort(-np.abs(coef).max(axis=0))[:4]}
    assert set(legend[:4]) == largest and legend[4] == f"{p - 4} more features"


def test_plot_path_of_a_cv_result_and_default_names(diabetes_cv):
    cv, _ = diabetes_cv
    ax = jaxl1.plot_path(cv, ax=_axes())
    np.testing.assert_array_equal(ax.lines[3].get_ydata(), np.asarray(cv.path.coef)[:, 3])
    assert "x3" in [t.get_text() for t in ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="names must hold 10 names"):
        jaxl1.plot_path(cv.path, ax=_axes(), names=["a", "b"])


def test_plot_cv_draws_mean_plus_minus_se_and_both_lambdas(diabetes_cv):
    cv, _ = diabetes_cv
    lambdas, mean, se = (np.asarray(a) for a in (cv.lambdas, cv.mean_score, cv.std_score))
    ax = _axes()
    assert jaxl1.plot_cv(cv, ax=ax, ylabel="held-out MSE") is ax
    (bars,) = ax.containers
    points, _, (segments,) = bars.lines
    np.testing.assert_array_equal(points.get_xdata(), lambdas)
    np.testing.assert_array_equal(points.get_ydata(), mean)
    seg = np.asarray(segments.get_segments())  # (K, 2, 2): from (lambda, mean - se) to (lambda, mean + se)
    np.testing.assert_allclose(seg[:, 0, 0], lambdas, rtol=1e-15)
    np.testing.assert_allclose(seg[:, 1, 0], lambdas, rtol=1e-15)
    np.testing.assert_allclose(np.sort(seg[:, :, 1], axis=1), np.stack([mean - se, mean + se], 1), rtol=1e-14)
    # vertical lines at lambda_best and lambda_1se (two different strengths on diabetes)
    assert float(cv.lambda_1se) > float(cv.lambda_best)
    vertical = {line.get_label(): line.get_xdata() for line in ax.lines if line.get_label().startswith("lambda_")}
    assert set(vertical) == {f"lambda_best = {float(cv.lambda_best):.4g}", f"lambda_1se = {float(cv.lambda_1se):.4g}"}
    for label, x in vertical.items():
        lam = float(cv.lambda_best if label.startswith("lambda_best") else cv.lambda_1se)
        assert list(x) == [lam, lam]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["mean over folds ± 1 standard error", *vertical]
    assert ax.get_ylabel() == "held-out MSE" and ax.get_xscale() == "log"
    ticks, labels = _top_ticks(ax)
    nnz = (np.asarray(cv.path.coef) != 0).sum(axis=1)
    assert labels == [str(nnz[np.flatnonzero(lambdas == t)[0]]) for t in ticks]


def test_a_new_figure_without_ax(diabetes_cv):
    import matplotlib.pyplot as plt

    cv, _ = diabetes_cv
    before = set(plt.get_fignums())
    ax1, ax2 = jaxl1.plot_path(cv.path), jaxl1.plot_cv(cv)
    assert ax1.figure is not ax2.figure
    assert len(set(plt.get_fignums()) - before) == 2
    plt.close(ax1.figure)
    plt.close(ax2.figure)


def test_plot_stability_draws_the_probabilities():
    data = load_diabetes()
    res = jaxl1.stability_selection(data.data, data.target, n_subsamples=20, n_lambdas=20, random_state=0,
                                    max_selected=4, threshold=0.8)
    probs, lambdas = np.asarray(res.probabilities), np.asarray(res.lambdas)
    stable = res.stable_set.tolist()
    assert 0 < len(stable) < 10
    ax = _axes()
    assert jaxl1.plot_stability(res, ax=ax, names=data.feature_names, title="diabetes") is ax
    for j in range(10):  # one line per feature, in column order, then the threshold
        np.testing.assert_allclose(ax.lines[j].get_xdata(), lambdas)
        np.testing.assert_allclose(ax.lines[j].get_ydata(), probs[:, j])
        grey = ax.lines[j].get_color() == "0.75"
        assert grey == (j not in stable)
    np.testing.assert_allclose(ax.lines[10].get_ydata(), [0.8, 0.8])
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(texts[:len(stable)]) == sorted(data.feature_names[j] for j in stable)
    assert texts[len(stable):] == ["threshold = 0.8", f"{10 - len(stable)} unstable features"]
    assert ax.get_xscale() == "log" and ax.get_xlim()[0] > ax.get_xlim()[1]
    # the strengths beyond max_selected are shaded: from the region's last strength down
    region = np.asarray(res.region)
    assert region[0] and not region.all()
    (span,) = ax.patches
    assert np.isclose(span.get_x(), lambdas[region].min()) or np.isclose(span.get_x() + span.get_width(),
                                                                           lambdas[region].min())
    ticks, labels = _top_ticks(ax)
    sizes = dict(zip(np.round(lambdas, 12), np.round(np.asarray(res.average_selected)).astype(int)))
    assert labels == [str(sizes[t]) for t in np.round(ticks, 12)]
    with pytest.raises(ValueError, match="names must hold 10 names"):
        jaxl1.plot_stability(res, ax=_axes(), names=["a"])

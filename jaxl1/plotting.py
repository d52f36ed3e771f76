r"""Plots of a regularization path, of a cross-validation curve (glmnet's ``plot`` and ``plot.cv``) and of
stability selection's selection probabilities.

Both functions draw on a matplotlib ``Axes`` (a new figure when ``ax`` is not
given) and return it.  matplotlib is optional: it is imported when a function is
called, never by ``import jaxl1``.

The strength axis is logarithmic and decreasing from left to right, so that the
path grows to the right (from ``lambda_max``, where every coefficient is zero, to
the least regularized fit).  A second axis on top labels a few strengths of the
grid with the number of nonzero coefficients there (glmnet's ``df``).  Strengths
that are not positive cannot be placed on a log axis and are not shown.
"""

from __future__ import annotations

import numpy as np

__all__ = ["plot_path", "plot_cv", "plot_stability"]

MAX_TOP_TICKS = 8  # strengths labelled with their nonzero count on the top axis
_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "black",
           "tab:olive", "tab:cyan"]


def _need_matplotlib(what):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(f"jaxl1.{what} needs matplotlib, which is not installed: pip install matplotlib") from None


def _new_axes(figsize):
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _x_limits(ax, lambdas):
    """Log-scale limits that show every positive strength, largest on the left."""
    positive = lambdas[lambdas > 0]
    if positive.size == 0:
        return
    lo, hi = float(positive.min()), float(positive.max())
    if lo == hi:
        lo, hi = lo / 2, hi * 2
    pad = (hi / lo) ** 0.03
    ax.set_xlim(hi * pad, lo / pad)


def _nonzero_axis(ax, lambdas, nnz):
    """A top axis (following the bottom one's limits) that labels a few strengths with their nonzero count."""
    from matplotlib.ticker import NullLocator

    top = ax.secondary_xaxis("top")
    positive = np.flatnonzero(lambdas > 0)
    if positive.size:
        pick = np.linspace(0, positive.size - 1, min(positive.size, MAX_TOP_TICKS)).round().astype(int)
        idx = positive[np.unique(pick)]
        top.set_xticks(lambdas[idx], [str(int(nnz[i])) for i in idx])
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xlabel("nonzero coefficients")
    return top


def _path_arrays(path):
    path = getattr(path, "path", path)  # a CVResult: its path refitted on all the data
    lambdas = np.asarray(path.lambdas, dtype=float).reshape(-1)
    coef = np.asarray(path.coef, dtype=float)
    if coef.ndim != 2 or coef.shape[0] != lambdas.shape[0]:
        raise ValueError(f"path.coef must have shape (K, p) with K = len(path.lambdas) = {lambdas.shape[0]}, "
                         f"got {coef.shape}")
    return lambdas, coef


def plot_path(path, ax=None, *, names=None, max_legend: int = 12, title: str | None = None,
              ylabel: str = "coefficient", legend: bool = True):
    r"""Plot a coefficient path against :math:`\log\lambda`, with the nonzero count on a top axis.

    Every coefficient is one line, in column order (``ax.lines[j]`` is feature ``j``), drawn
    against the strengths on a log axis.  The ``max_legend`` features with the largest
    coefficients along the path are coloured and named in the legend; the others are grey,
    with one legend entry.  A top axis labels a few strengths with their number of nonzero
    coefficients (``ax.child_axes[0]``).

    Args:
      path: a :class:`jaxl1.PathResult` (or a :class:`jaxl1.CVResult`, whose refitted path is drawn).
      ax: the matplotlib ``Axes`` to draw on; by default a new figure (``matplotlib.pyplot``).
      names: optional ``p`` feature names for the legend (default ``x0``, ``x1``, ...).
      max_legend: how many features to colour and name.
      title: optional title.
      ylabel: the label of the coefficient axis.
      legend: draw the legend (to the right of the axes).

    Returns:
      The ``Axes``.

    Raises:
      ImportError: matplotlib is not installed.

    Examples:
      >>> import jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> path = jaxl1.fit_path(X, y, n_lambdas=20)
      >>> ax = jaxl1.plot_path(path, names=load_diabetes().feature_names)
      >>> len(ax.lines[:10]), ax.get_xscale()
      (10, 'log')
    """
    _need_matplotlib("plot_path")
    lambdas, coef = _path_arrays(path)
    p = coef.shape[1]
    names = [f"x{j}" for j in range(p)] if names is None else [str(n) for n in names]
    if len(names) != p:
        raise ValueError(f"names must hold {p} names (one per coefficient), got {len(names)}")
    ax = _new_axes((8.5, 5.0)) if ax is None else ax
    peak = np.abs(coef).max(axis=0) if coef.size else np.zeros(p)
    named = [j for j in np.argsort(-peak, kind="stable") if peak[j] > 0][:max(int(max_legend), 0)]
    named.sort(key=lambda j: -coef[-1, j])  # legend top to bottom as the lines end on the right
    rank = {j: r for r, j in enumerate(named)}
    grey = None
    for j in range(p):
        if j in rank:
            r = rank[j]
            ax.plot(lambdas, coef[:, j], color=_COLORS[r % len(_COLORS)], ls="-" if r < len(_COLORS) else "--",
                    lw=1.6, label=names[j], marker="." if len(lambdas) <= 30 else None, ms=4)
        else:
            (grey,) = ax.plot(lambdas, coef[:, j], color="0.75", lw=0.8, label="_nolegend_")
    ax.axhline(0.0, color="k", lw=0.6)
    ax.set_xscale("log")
    _x_limits(ax, lambdas)
    ax.set_xlabel("lambda (log scale)")
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    _nonzero_axis(ax, lambdas, (coef != 0).sum(axis=1))
    if legend:
        handles = [ax.lines[j] for j in named]
        extra = int((peak > 0).sum()) - len(named)
        if grey is not None and extra > 0:
            grey.set_label(f"{extra} more feature{'s' if extra > 1 else ''}")
            handles.append(grey)
        if handles:
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                      frameon=False)
    return ax


def plot_cv(cv, ax=None, *, title: str | None = None, ylabel: str = "held-out score", legend: bool = True):
    r"""Plot a cross-validation curve: mean held-out score ±1 standard error against :math:`\log\lambda`.

    The points with their error bars (``ax.containers[0]``, a matplotlib ``ErrorbarContainer``)
    are ``cv.mean_score`` ± ``cv.std_score``; vertical lines mark ``lambda_best`` (solid) and
    ``lambda_1se`` (dashed); a top axis labels a few strengths with the number of nonzero
    coefficients of the path refitted on all the data (``ax.child_axes[0]``).

    Args:
      cv: a :class:`jaxl1.CVResult`.
      ax: the matplotlib ``Axes`` to draw on; by default a new figure (``matplotlib.pyplot``).
      title: optional title.
      ylabel: the label of the score axis (the score is the mean squared error for the squared
        loss, the deviance for the logistic loss).
      legend: draw the legend.

    Returns:
      The ``Axes``.

    Raises:
      ImportError: matplotlib is not installed.

    Examples:
      >>> import jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> cv = jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=30)
      >>> ax = jaxl1.plot_cv(cv, ylabel="held-out mean squared error")
      >>> [t.get_text().split(" =")[0] for t in ax.get_legend().get_texts()][1:]
      ['lambda_best', 'lambda_1se']
    """
    _need_matplotlib("plot_cv")
    lambdas = np.asarray(cv.lambdas, dtype=float)
    mean = np.asarray(cv.mean_score, dtype=float)
    se = np.asarray(cv.std_score, dtype=float)
    lam_best, lam_1se = float(cv.lambda_best), float(cv.lambda_1se)
    ax = _new_axes((8.0, 5.0)) if ax is None else ax
    bars = ax.errorbar(lambdas, mean, yerr=se, fmt="o", color="tab:red", ms=3.5, ecolor="0.55", elinewidth=1,
                       capsize=2.5, label="mean over folds ± 1 standard error")
    best = ax.axvline(lam_best, color="tab:blue", ls="-", lw=1.2, label=f"lambda_best = {lam_best:.4g}")
    one_se = ax.axvline(lam_1se, color="tab:green", ls="--", lw=1.2, label=f"lambda_1se = {lam_1se:.4g}")
    ax.set_xscale("log")
    _x_limits(ax, lambdas)
    ax.set_xlabel("lambda (log scale)")
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    _nonzero_axis(ax, lambdas, (np.asarray(cv.path.coef) != 0).sum(axis=1))
    if legend:
        ax.legend(handles=[bars, best, one_se], fontsize="small", loc="best")
    return ax


def plot_stability(result, ax=None, *, names=None, max_legend: int = 12, title: str | None = None,
                   legend: bool = True):
    r"""Plot stability selection's selection probabilities against :math:`\log\lambda` (the stability path).

    Every feature is one line, in column order (``ax.lines[j]`` is feature ``j``): the stable features
    (:attr:`jaxl1.StabilityResult.stable_set`) are coloured and named, the others grey.  A dashed
    horizontal line marks the threshold; with ``max_selected`` the strengths outside the region the stable
    set is read from are shaded.  A top axis labels a few strengths with the average number of features
    selected there or at a larger strength (``average_selected``, :math:`q_\Lambda`).

    Args:
      result: a :class:`jaxl1.StabilityResult`.
      ax: the matplotlib ``Axes`` to draw on; by default a new figure (``matplotlib.pyplot``).
      names: optional ``p`` feature names for the legend (default ``x0``, ``x1``, ...).
      max_legend: how many stable features to name (those with the largest probabilities first).
      title: optional title.
      legend: draw the legend (to the right of the axes).

    Returns:
      The ``Axes``.

    Raises:
      ImportError: matplotlib is not installed.

    Examples:
      >>> import jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> data = load_diabetes()
      >>> res = jaxl1.stability_selection(data.data, data.target, n_subsamples=20, n_lambdas=20,
      ...                                 random_state=0)
      >>> ax = jaxl1.plot_stability(res, names=data.feature_names)
      >>> len(ax.lines), ax.get_ylabel()
      (11, 'selection probability')
    """
    _need_matplotlib("plot_stability")
    lambdas = np.asarray(result.lambdas, dtype=float)
    probs = np.asarray(result.probabilities, dtype=float)
    p = probs.shape[1]
    names = [f"x{j}" for j in range(p)] if names is None else [str(n) for n in names]
    if len(names) != p:
        raise ValueError(f"names must hold {p} names (one per feature), got {len(names)}")
    stable = [int(j) for j in result.stable_set]
    best = np.asarray(result.max_probability, dtype=float)
    stable.sort(key=lambda j: (-best[j], j))
    rank = {j: r for r, j in enumerate(stable)}
    ax = _new_axes((8.5, 5.0)) if ax is None else ax
    grey = None
    for j in range(p):
        if j in rank:
            r = rank[j]
            named = r < max(int(max_legend), 0)
            ax.plot(lambdas, probs[:, j], color=_COLORS[r % len(_COLORS)], lw=1.6,
                    ls="-" if r < len(_COLORS) else "--", label=names[j] if named else "_nolegend_")
        else:
            (grey,) = ax.plot(lambdas, probs[:, j], color="0.75", lw=0.8, label="_nolegend_")
    line = ax.axhline(result.threshold, color="k", ls="--", lw=1.0, label=f"threshold = {result.threshold:g}")
    region = np.asarray(result.region)
    if not region.all():
        outside = lambdas[~region]
        lo = float(outside[outside > 0].min()) if np.any(outside > 0) else None
        if lo is not None:
            edge = float(lambdas[region].min()) if region.any() else float(lambdas.max()) * 2
            ax.axvspan(edge, lo / 10, color="0.92", zorder=0, label="_nolegend_")
    ax.set_xscale("log")
    _x_limits(ax, lambdas)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("lambda (log scale)")
    ax.set_ylabel("selection probability")
    if title is not None:
        ax.set_title(title)
    _nonzero_axis(ax, lambdas, np.round(np.asarray(result.average_selected, dtype=float)))
    ax.child_axes[0].set_xlabel("features selected so far (average over subsamples)")
    if legend:
        handles = [ax.lines[j] for j in stable[:max(int(max_legend), 0)]] + [line]
        if grey is not None:
            grey.set_label(f"{p - len(stable)} unstable feature{'s' if p - len(stable) != 1 else ''}")
            handles.append(grey)
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    return ax

r"""Stability selection: the whole path on many random subsamples, in one compiled call.

Meinshausen and Bühlmann's stability selection fits the lasso path on ``B`` random
subsamples of half of the rows and records, for every feature and every strength, the
fraction of subsamples whose fit selects it (its *selection probability*).  A feature
whose probability reaches a threshold :math:`\pi_{thr} \in (0.5, 1)` somewhere in a region
:math:`\Lambda` of the path is *stable*; if, in that region, the union of the selected sets
holds :math:`q_\Lambda` features on average, the expected number of stable features that
are noise is at most

.. math:: E[V] \le \frac{q_\Lambda^2}{(2\pi_{thr} - 1)\,p}

(their Theorem 1, under exchangeability of the noise features).  The randomized lasso
multiplies each feature's penalty by :math:`1 / W_j`, :math:`W_j` drawn uniformly in
``[weakness, 1]`` for every subsample.

Here the ``B`` paths are independent runs of one program, mapped one after the other on
one device or spread over several (``jax.shard_map``), with the selection counts summed
as the runs go (memory does not grow with ``B``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import _design, _validation
from ._jit import jit
from .path import (_STATIC, _in_threads, _on_device, _over_runs, _path_core, _path_spec, _path_weights, _placed,
                   _run_threads)
from .solver import warn_if_stopped
from .solvers._problem import sparse_gram_choice, sparse_moments

__all__ = ["StabilityResult", "stability_selection"]


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["lambdas", "probabilities", "average_selected", "subsamples", "factors", "converged"],
    meta_fields=["threshold", "max_selected"],
)
@dataclass(frozen=True)
class StabilityResult:
    r"""Selection probabilities along a path, from :func:`stability_selection`.

    Attributes:
      lambdas: ``(K,)`` the strengths (decreasing), computed on all the data.
      probabilities: ``(K, p)`` the fraction of subsamples whose fit at each strength has the
        feature nonzero (for a coefficient matrix, nonzero for some response or class).
      average_selected: ``(K,)`` the number of features selected at that strength *or any larger
        one*, averaged over the subsamples (:math:`q_\Lambda` for the region from ``lambdas[0]``
        down to that strength; non-decreasing).
      subsamples: ``(B, m)`` the rows of each subsample (sorted).
      factors: ``(B, p)`` each subsample's penalty factors (ones without randomization).
      converged: ``(B, K)`` whether each fit met ``tol``.
      threshold: the probability a stable feature reaches.
      max_selected: the region of the path the stable set is read from: the strengths whose
        ``average_selected`` is at most this (``None``: the whole path).

    :attr:`stable_set`, :attr:`max_probability` and :attr:`expected_false_selections` follow from
    these; the first is a numpy array (its size depends on the data), so it is read outside ``jit``.

    Examples:
      >>> import numpy as np, jaxl1
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((100, 30))
      >>> y = X[:, :3] @ np.array([3.0, -2.0, 2.0]) + rng.standard_normal(100)
      >>> res = jaxl1.stability_selection(X, y, n_subsamples=20, n_lambdas=20, random_state=0,
      ...                                 max_selected=6)
      >>> res.probabilities.shape, res.stable_set.tolist()
      ((20, 30), [0, 1, 2])
      >>> bool(res.expected_false_selections <= 6**2 / ((2 * 0.9 - 1) * 30))
      True
    """

    lambdas: jax.Array
    probabilities: jax.Array
    average_selected: jax.Array
    subsamples: jax.Array
    factors: jax.Array
    converged: jax.Array
    threshold: float
    max_selected: float | None

    @property
    def region(self) -> jax.Array:
        """``(K,)`` booleans: the strengths of the region the stable set is read from (a leading block of the
        path: those whose ``average_selected`` is at most ``max_selected``; all of them when it is ``None``)."""
        if self.max_selected is None:
            return jnp.ones(self.lambdas.shape, bool)
        return self.average_selected <= self.max_selected

    @property
    def max_probability(self) -> jax.Array:
        """``(p,)`` each feature's largest selection probability over the region (0 when it is empty)."""
        return jnp.max(jnp.where(self.region[:, None], self.probabilities, 0.0), axis=0)

    @property
    def stable_set(self) -> np.ndarray:
        """The indices of the features whose ``max_probability`` reaches ``threshold``, increasing."""
        return np.flatnonzero(np.asarray(self.max_probability) >= self.threshold)

    @property
    def expected_false_selections(self) -> jax.Array:
        r"""Meinshausen and Bühlmann's bound on the expected number of noise features in the stable set,
        :math:`q_\Lambda^2 / ((2\pi_{thr} - 1) p)`, with :math:`q_\Lambda` the ``average_selected`` at the
        region's end (0 for an empty region)."""
        q = jnp.max(jnp.where(self.region, self.average_selected, 0.0))
        return q**2 / ((2 * self.threshold - 1) * self.probabilities.shape[1])


def _stability_run(run, X, y, s, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset, moments=None, *,
                   randomized, **static):
    """One subsample's path: its convergence flags, and (selected per strength, size of the cumulative selected
    set per strength), zero for a padding run (``run = (rows, factors, valid)``); ``moments``: a sparse ``X``'s in
    the Gram form, on the subsample's weights (:func:`_subsample_weights`)."""
    rows, f, ok = run
    if _design.is_sparse(X):  # the rows left out get no weight
        keep = jnp.zeros(s.shape, bool).at[rows].set(True)
        Xr, yr, sr, orr = X, y, jnp.where(keep, s, 0.0), offset
    else:  # the subsample's own rows: half the work in every product over the samples
        Xr, yr, sr = X[rows], y[rows], s[rows]
        orr = None if offset is None else offset[rows]
    w = weights
    if randomized:
        w = weights * f.reshape(f.shape + (1,) * (weights.ndim - 1))
    path = _path_core(Xr, yr, sr / jnp.sum(sr), lambdas, w, l1_ratio, tol, max_iter, bounds, orr, None, moments,
                      **static)
    nz = path.coef != 0
    if nz.ndim == 3:  # a coefficient matrix per strength: a feature is in when its row is
        nz = jnp.any(nz, axis=2)
    union = jnp.cumsum(nz, axis=0) > 0  # selected at this strength or a larger one
    ok = ok.astype(jnp.int32)
    return path.converged, (nz.astype(jnp.int32) * ok, jnp.sum(union, axis=1, dtype=jnp.int32) * ok)


_stability_run_jit = jit(_stability_run, static_argnames=("randomized",) + _STATIC)


def _stability_impl(subsamples, factors, valid, X, y, s, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset,
                    *, devices, randomized, **static):
    """The selection counts, the summed sizes of the cumulative selected sets and each run's convergence."""
    one_run = partial(_stability_run, randomized=randomized, **static)
    args = (X, y, s, lambdas, weights, l1_ratio, tol, max_iter, bounds, offset)
    return _over_runs(one_run, (subsamples, factors, valid), args, devices, summed=True)


_stability_jit = jit(_stability_impl, static_argnames=("devices", "randomized") + _STATIC)


def _subsample_weights(s, rows):
    """The normalized weights of a sparse ``X``'s subsample run, as :func:`_stability_run` forms them: ``s`` on
    ``rows``, 0 elsewhere (numpy)."""
    sb = np.zeros_like(s)
    sb[rows] = s[rows]
    return sb / sb.sum(dtype=sb.dtype)


def _check_threshold(threshold, n_subsamples):
    _validation.reject_bools(threshold=threshold)
    if not isinstance(threshold, (int, float, np.integer, np.floating)) or not 0.5 < float(threshold) < 1.0:
        raise ValueError(f"threshold must be a number in (0.5, 1), got {threshold!r}")
    threshold = float(threshold)
    need = math.ceil(1.0 / (threshold - 0.5) - 1e-9)
    if n_subsamples < need:
        raise ValueError(f"n_subsamples={n_subsamples} is too few subsamples for the bound at threshold={threshold}: "
                         f"the selection probabilities are multiples of 1/n_subsamples, and at least one step must "
                         f"lie between 0.5 and the threshold (n_subsamples >= 1 / (threshold - 0.5) = {need})")
    return threshold


def _draw_subsamples(subsamples, n_subsamples, fraction, n, rng):
    if subsamples is None:
        _validation.reject_bools(fraction=fraction)
        if not isinstance(fraction, (int, float, np.integer, np.floating)) or not 0.0 < float(fraction) < 1.0:
            raise ValueError(f"fraction must be a number in (0, 1), got {fraction!r}")
        m = int(math.floor(float(fraction) * n))
        if m < 2:
            raise ValueError(f"fraction={fraction} of n={n} rows leaves a subsample of {m} row(s); at least 2 are "
                             f"needed")
        return np.stack([np.sort(rng.choice(n, m, replace=False)) for _ in range(n_subsamples)])
    sub = np.asarray(subsamples)
    if sub.ndim != 2 or sub.shape[0] < 1 or sub.shape[1] < 2:
        raise ValueError(f"subsamples must be a (B, m) array of row indices with B >= 1 and m >= 2, got shape "
                         f"{sub.shape}")
    if not np.issubdtype(sub.dtype, np.integer):
        raise ValueError(f"subsamples must hold integer row indices, got dtype {sub.dtype}")
    if sub.min() < 0 or sub.max() >= n:
        raise ValueError(f"subsamples must hold row indices in [0, {n}), got values in [{sub.min()}, {sub.max()}]")
    srt = np.sort(sub, axis=1)
    if np.any(srt[:, 1:] == srt[:, :-1]):
        raise ValueError("subsamples must not repeat a row within a subsample (they are drawn without replacement)")
    return srt


def stability_selection(
    X, y, loss: str = "squared", n_subsamples: int = 100, fraction: float = 0.5, *, lambdas=None,
    n_lambdas: int = 100, eps: float = 1e-3, threshold: float = 0.9, weakness: float = 1.0,
    max_selected: float | None = None, subsamples=None, random_state=None, l1_ratio: float | None = None,
    fit_intercept: bool = True, sample_weight=None, tol: float | None = None, max_iter: int = 20_000,
    weights=None, positive: bool = False, standardize: bool = False, bounds=None, grouped: bool = False,
    offset=None, form: str = "auto", chunk_size: int | None = None, check_every: int = 10,
    ws_size: int | None = None, devices=None, penalty: str = "l1", gamma: float | None = None, groups=None,
) -> StabilityResult:
    r"""Stability selection (Meinshausen and Bühlmann): selection probabilities along the path, in one call.

    The strengths are computed once on all the data (``lambda_max`` down to ``eps * lambda_max``,
    as :func:`jaxl1.fit_path`).  The path is then fitted on ``n_subsamples`` random subsamples
    of ``floor(fraction * n)`` rows drawn without replacement, each as :func:`jaxl1.fit_path` would
    fit those rows alone; the fits are independent runs of one compiled program (spread over
    ``devices``).  With ``weakness < 1`` every subsample's fit multiplies each feature's penalty by
    :math:`1/W_j`, :math:`W_j \sim U[\text{weakness}, 1]` (the randomized lasso).

    Args:
      X, y, loss, l1_ratio, fit_intercept, sample_weight, tol, max_iter, weights, positive, standardize,
        bounds, grouped, offset, form, chunk_size, check_every, ws_size, penalty, gamma, groups: as in
        :func:`jaxl1.fit_path` (the sample weights and the offset follow their rows into each subsample;
        ``penalty="mcp"`` or ``"scad"`` selects with the non-convex penalties; with ``groups`` whole groups
        are selected together, and ``weakness`` must be 1).
      n_subsamples: ``B``, the number of subsamples (Meinshausen and Bühlmann use 100).
      fraction: the share of the rows in each subsample (in (0, 1); one half by default).
      lambdas, n_lambdas, eps: the strengths, as in :func:`jaxl1.fit_path`.
      threshold: :math:`\pi_{thr}` in (0.5, 1), the selection probability of a stable feature.
      weakness: :math:`\alpha` in (0, 1]; 1 (default) is plain subsampling.
      max_selected: read the stable set from the leading strengths whose average number of selected
        features (:attr:`StabilityResult.average_selected`) is at most this; ``None`` (default): the
        whole path.  This is :math:`q_\Lambda` of the error bound.
      subsamples: optional ``(B, m)`` integer row indices, one subsample per row (then ``n_subsamples``,
        ``fraction`` and ``random_state`` do not draw them).
      random_state: seed (or ``numpy.random.Generator``) for the subsamples and the random factors.
      devices: the devices the subsamples are spread over (default: as in :func:`jaxl1.fit_path`).

    Returns:
      A :class:`StabilityResult`: ``probabilities`` ``(K, p)``, ``stable_set``,
      ``expected_false_selections``, and the subsamples and factors that were used.

    Raises:
      ValueError: as :func:`jaxl1.fit_path`; naming ``threshold`` outside (0.5, 1), ``n_subsamples``
        too few for the bound (fewer than ``1 / (threshold - 0.5)``), ``fraction`` outside (0, 1),
        ``weakness`` outside (0, 1] (or below 1 with ``positive=True``: use ``bounds=(0, None)``),
        ``max_selected`` not positive, ``subsamples`` that are not distinct row indices, or a
        subsample that cannot be fitted (all its sample weights zero, a single class for the
        logistic and multinomial losses, no positive count for the Poisson loss).  The error bound is
        Meinshausen and Bühlmann's, proven for subsamples of half of the rows (``fraction=0.5``).

    Examples:
      >>> import numpy as np, jaxl1
      >>> from sklearn.datasets import load_diabetes
      >>> X, y = load_diabetes(return_X_y=True)
      >>> res = jaxl1.stability_selection(X, y, n_subsamples=50, n_lambdas=30, random_state=0,
      ...                                 max_selected=3)
      >>> res.probabilities.shape, [int(j) for j in res.stable_set]
      ((30, 10), [2, 8])
    """
    spec = _path_spec(X, y, loss, l1_ratio, lambdas, n_lambdas, eps, fit_intercept, sample_weight, tol, max_iter,
                      weights, positive, form, chunk_size, check_every, ws_size, standardize, bounds, grouped, offset,
                      penalty, gamma, groups, sparse_gram=True)
    n, p = spec.X.shape
    _validation.reject_bools(n_subsamples=n_subsamples, weakness=weakness)
    if subsamples is None:
        n_subsamples = _validation.check_integer("n_subsamples", n_subsamples)
    if not isinstance(weakness, (int, float, np.integer, np.floating)) or not 0.0 < float(weakness) <= 1.0:
        raise ValueError(f"weakness must be a number in (0, 1], got {weakness!r}")
    randomized = float(weakness) < 1.0
    if randomized and groups is not None:
        raise ValueError("weakness < 1 (random penalty factors per feature) is not supported with groups")
    if randomized and spec.kind == "nonneg":
        raise ValueError("weakness < 1 (random penalty factors) is not supported with positive=True, whose penalty "
                         "takes no factors: use bounds=(0, None) instead")
    if max_selected is not None:
        _validation.reject_bools(max_selected=max_selected)
        if not isinstance(max_selected, (int, float, np.integer, np.floating)) or not float(max_selected) > 0:
            raise ValueError(f"max_selected must be a positive number or None, got {max_selected!r}")
        max_selected = float(max_selected)
    try:
        rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    except (TypeError, ValueError):
        raise ValueError(f"random_state must be None, an integer seed or a numpy.random.Generator, got "
                         f"{random_state!r}") from None
    rows = _draw_subsamples(subsamples, n_subsamples, fraction, n, rng)
    B, m = rows.shape
    threshold = _check_threshold(threshold, B)
    dtype = spec.X.dtype
    factors = (1.0 / rng.uniform(float(weakness), 1.0, size=(B, p)) if randomized else np.ones((B, p))).astype(dtype)

    s_host = np.asarray(spec.s)
    if np.any(s_host[rows].sum(axis=1) <= 0):
        raise ValueError("sample_weight: a subsample has only rows of zero weight (nothing to fit)")
    y_host = np.asarray(spec.y)
    for b in range(B):  # every subsample must be fittable on its own (both labels, a positive count, ...)
        s_b = np.zeros_like(s_host)
        s_b[rows[b]] = s_host[rows[b]]
        _validation.check_two_classes(y_host, s_b, spec.loss,
                                      f" in subsample {b} (use a larger fraction, or pass subsamples)")

    devices = _validation.check_devices(devices, X, y, sample_weight, lambdas, weights, bounds, offset)[:B]
    spec = _placed(spec, devices)
    w = spec.weights
    if randomized and w is None:
        w = _path_weights(jnp.ones(p, dtype), spec.kind, (p,) + spec.y.shape[1:])
    threads = _run_threads(spec.arrays, devices)
    sparse = _design.is_sparse(spec.X)
    # a sparse X takes the Gram form in the threaded runs only, each from its subsample's moments
    gram = sparse_gram_choice(spec.X, spec.s) if (sparse and threads >= 1) else None
    # (form="gram" with the runs in one program, concrete on a CPU: the data form, as cross_validate takes it)
    form = "data" if (sparse and gram is None and form == "gram") else form
    spec = spec._replace(weights=w, form=_validation.check_form(spec.loss, m, p, form, sparse=sparse, gram=gram))
    spec = spec._replace(ws_size=_validation.check_ws_size(ws_size, spec.loss, m, p, spec.form))

    n_dev = max(len(devices), 1)
    padded = -(-B // n_dev) * n_dev
    take = np.minimum(np.arange(padded), B - 1)  # the padding repeats the last subsample, and is not counted
    valid = np.arange(padded) < B
    sparse_gram = sparse and spec.form == "gram"
    if threads > 1 or sparse_gram:  # concrete inputs on one CPU device: the paths as calls from a thread per core
        args = _on_device(spec.arrays)
        data_options = dict(spec.options, form="data", ws_size=_validation.check_ws_size(ws_size, spec.loss, m, p,
                                                                                           "data"))

        def run(i):  # (a sparse X in the Gram form: the subsample's moments, or where they overflow the data form)
            moments = None
            if sparse_gram:
                moments = sparse_moments(spec.X, _subsample_weights(s_host, rows[i]), spec.fit_intercept)
            options = data_options if (sparse_gram and moments is None) else spec.options
            return _stability_run_jit((rows[i].astype(np.int32), factors[i], np.asarray(True)), *args, moments,
                                      randomized=randomized, **options)

        outs = _in_threads(run, B, threads)
        conv = np.stack([np.asarray(o[0]) for o in outs])
        counts, sizes = (sum(np.asarray(o[1][i]) for o in outs) for i in (0, 1))
    else:
        conv, (counts, sizes) = _stability_jit(
            jnp.asarray(rows[take], jnp.int32), jnp.asarray(factors[take]), jnp.asarray(valid), *spec.arrays,
            devices=devices if len(devices) > 1 else (), randomized=randomized, **spec.options)
    # (the inputs are concrete: the subsamples are checked above) summarized in numpy and put: on a first call
    # each eager operation would compile a program (seven of them: 0.94 -> 0.67 s for the first call on diabetes)
    conv = np.asarray(conv)[:B]
    probabilities, average = (jax.device_put((np.asarray(a) / B).astype(dtype)) for a in (counts, sizes))
    warn_if_stopped("jaxl1.stability_selection", np.where(conv, 0, 1), max_iter)
    return StabilityResult(spec.lambdas, probabilities, average, jax.device_put(rows), jax.device_put(factors),
                           jax.device_put(conv), threshold, max_selected)

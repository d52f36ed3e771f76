"""``fit_path``'s glmnet stopping rules (``dfmax``, ``pmax``, ``early_stop``): the stopped path is the full
path's prefix, of the length the rules give when they are applied in numpy to the full path (the supports,
and the deviance ratio computed from the predictions); and the refusals."""

import jax
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_breast_cancer, load_diabetes

import jaxl1

KW = dict(tol=1e-12, max_iter=100_000)
MNLAM = 5  # glmnet's mnlam: no df or deviance stop before this strength


def _variables(coef):
    """(K, p) nonzero variables: a row of a coefficient matrix counts once."""
    return coef != 0 if coef.ndim == 2 else np.any(coef != 0, axis=2)


def _reference_length(coef, dev, *, dfmax=None, pmax=None, fdev=None, devmax=None):
    """The number of strengths glmnet's rules keep, applied one strength after the other to a full path."""
    nz = _variables(np.asarray(coef))
    ever = np.zeros(nz.shape[1], bool)
    for k in range(nz.shape[0]):
        ever = ever | nz[k]
        if pmax is not None and ever.sum() > pmax:
            return k  # this strength is dropped
        if k + 1 >= MNLAM:
            if dfmax is not None and nz[k].sum() > dfmax:
                return k + 1
            if fdev is not None and (dev[k] - dev[k - 1] < fdev * dev[k] or dev[k] > devmax):
                return k + 1
    return nz.shape[0]


def _r2(path, X, y):
    z = np.asarray(path.predict(X))
    if z.ndim == 3:
        return 1 - ((y[:, None, :] - z) ** 2).sum((0, 2)) / ((y - y.mean(0)) ** 2).sum()
    return 1 - ((y[:, None] - z) ** 2).sum(0) / ((y - y.mean()) ** 2).sum()


def _logistic_dev(path, X, y):
    t = 2 * y - 1.0
    z = np.asarray(path.predict(X))
    loss = np.logaddexp(0, -t[:, None] * z).sum(0)
    m = y.mean()
    null = np.logaddexp(0, -t * np.log(m / (1 - m))).sum()
    return 1 - loss / null


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y, jaxl1.fit_path(X, y, n_lambdas=60, **KW)


def _check_prefix(short, full, k):
    assert short.coef.shape[0] == k
    for f in ("lambdas", "coef", "intercept", "gap", "n_iter", "converged"):
        np.testing.assert_array_equal(np.asarray(getattr(short, f)), np.asarray(getattr(full, f))[:k])


@pytest.mark.parametrize("rule", [dict(dfmax=3), dict(dfmax=6), dict(pmax=4), dict(pmax=7), dict(dfmax=0),
                                  dict(dfmax=6, pmax=7)])
def test_df_and_pmax_squared(diabetes, rule):
    X, y, full = diabetes
    k = _reference_length(full.coef, None, **rule)
    assert 0 < k < 60
    _check_prefix(jaxl1.fit_path(X, y, n_lambdas=60, **rule, **KW), full, k)


def test_dfmax_keeps_the_strength_that_exceeds_and_pmax_drops_it(diabetes):
    X, y, full = diabetes
    d = jaxl1.fit_path(X, y, n_lambdas=60, dfmax=4, **KW)
    p = jaxl1.fit_path(X, y, n_lambdas=60, pmax=4, **KW)
    assert (d.coef[-1] != 0).sum() > 4 and (d.coef[:-1] != 0).sum(1).max() <= 4
    assert _variables(np.asarray(p.coef)).any(0).sum() <= 4
    assert _variables(np.asarray(full.coef[: p.coef.shape[0] + 1])).any(0).sum() > 4


def test_early_stop_squared_devmax_on_a_saturating_problem():
    """p > n: R^2 goes to 1 along the path, so devmax (0.999) ends it; and a coarse fdev ends it earlier."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 120))
    y = X[:, :8] @ rng.standard_normal(8) + 0.1 * rng.standard_normal(40)
    full = jaxl1.fit_path(X, y, n_lambdas=50, eps=1e-4, **KW)
    dev = _r2(full, X, y)
    for early, (fdev, devmax) in ((True, (1e-5, 0.999)), ((1e-2, 0.999), (1e-2, 0.999)), ((0.0, 0.9), (0.0, 0.9))):
        k = _reference_length(full.coef, dev, fdev=fdev, devmax=devmax)
        assert MNLAM <= k < 50
        _check_prefix(jaxl1.fit_path(X, y, n_lambdas=50, eps=1e-4, early_stop=early, **KW), full, k)


def test_early_stop_logistic_sparse_and_chunks():
    """The deviance ratio of the logistic loss (against the intercept-only model) computed in numpy; a sparse
    X gives the same path; chunks of 3 strengths stop in the middle of a chunk."""
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    X, y = X[::2], y[::2].astype(float)
    kw = dict(loss="logistic", n_lambdas=40, eps=1e-3, **KW)
    full = jaxl1.fit_path(X, y, **kw)
    dev = _logistic_dev(full, X, y)
    rule = (8e-3, 0.999)
    k = _reference_length(full.coef, dev, fdev=rule[0], devmax=rule[1])
    assert MNLAM < k < 40 and k % 3 != 0
    short = jaxl1.fit_path(X, y, early_stop=rule, **kw)
    _check_prefix(short, full, k)
    chunked = jaxl1.fit_path(X, y, early_stop=rule, chunk_size=3, **kw)
    assert chunked.coef.shape[0] == k
    np.testing.assert_allclose(chunked.coef, full.coef[:k], atol=1e-6 * np.abs(full.coef).max())
    sparse = jaxl1.fit_path(sp.csr_matrix(X), y, early_stop=rule, **kw)
    assert sparse.coef.shape[0] == k
    np.testing.assert_allclose(sparse.coef, full.coef[:k], atol=1e-6 * np.abs(full.coef).max())


def test_multitask_counts_rows():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 15))
    Y = X[:, :5] @ rng.standard_normal((5, 3)) + 0.5 * rng.standard_normal((60, 3))
    full = jaxl1.fit_path(X, Y, n_lambdas=30, grouped=True, **KW)
    dev = _r2(full, X, Y)
    k = _reference_length(full.coef, dev, dfmax=3)
    assert MNLAM <= k < 30
    _check_prefix(jaxl1.fit_path(X, Y, n_lambdas=30, grouped=True, dfmax=3, **KW), full, k)
    k = _reference_length(full.coef, dev, fdev=1e-3, devmax=0.999)
    assert MNLAM <= k < 30
    _check_prefix(jaxl1.fit_path(X, Y, n_lambdas=30, grouped=True, early_stop=(1e-3, 0.999), **KW), full, k)


def test_no_stop_is_the_whole_grid(diabetes):
    X, y, full = diabetes
    _check_prefix(jaxl1.fit_path(X, y, n_lambdas=60, dfmax=10, pmax=10, **KW), full, 60)


@pytest.mark.parametrize("kw, match", [
    (dict(dfmax=-1), "dfmax"), (dict(dfmax=True), "dfmax"), (dict(pmax=2.5), "pmax"), (dict(pmax="3"), "pmax"),
    (dict(early_stop="yes"), "early_stop"), (dict(early_stop=(-1.0, 0.9)), "fdev"),
    (dict(early_stop=(1e-5, 1.5)), "devmax"), (dict(early_stop=(1e-5,)), "early_stop"),
])
def test_refusals(diabetes, kw, match):
    X, y, _ = diabetes
    with pytest.raises(ValueError, match=match):
        jaxl1.fit_path(X, y, n_lambdas=10, **kw)


def test_under_jit_is_refused(diabetes):
    X, y, _ = diabetes
    with pytest.raises(ValueError, match="concrete"):
        jax.jit(lambda yy: jaxl1.fit_path(X, yy, lambdas=np.array([10.0, 1.0]), dfmax=3).coef)(y)


def test_cross_validate_stops_the_full_path_first(diabetes):
    """cv.glmnet's order: the stops shorten the full-data path; the folds are fitted on its strengths."""
    X, y, _ = diabetes
    short = jaxl1.fit_path(X, y, n_lambdas=60, dfmax=6, **KW)
    cv = jaxl1.cross_validate(X, y, n_lambdas=60, dfmax=6, **KW)
    ref = jaxl1.cross_validate(X, y, lambdas=short.lambdas, **KW)
    assert cv.lambdas.shape == short.lambdas.shape
    np.testing.assert_array_equal(cv.lambdas, short.lambdas)
    np.testing.assert_allclose(cv.fold_scores, ref.fold_scores, rtol=1e-12)
    np.testing.assert_allclose(cv.path.coef, short.coef, atol=1e-9 * np.abs(short.coef).max())
    with pytest.raises(ValueError, match="pmax"):
        jaxl1.cross_validate(X, y, n_lambdas=10, pmax=-2)

r"""scikit-learn compatible estimators on top of :func:`jaxl1.fit` and :func:`jaxl1.cross_validate`.

``Lasso``, ``ElasticNet``, ``LassoCV``, ``ElasticNetCV`` and the binary
``LogisticRegressionL1`` take scikit-learn's parameter names and expose its
fitted attributes, so that they drop into ``Pipeline``, ``GridSearchCV`` and
code written for :mod:`sklearn.linear_model`::

    from jaxl1.sklearn import Lasso, LassoCV
    Lasso(alpha=0.1).fit(X, y).coef_
    LassoCV(cv=5, random_state=42).fit(X, y).alpha_

Each estimator accepts every constructor keyword of its scikit-learn namesake
(``LogisticRegression`` for ``LogisticRegressionL1``) as of scikit-learn 1.9.
Those that mean something for jaxl1 are used (``positive``, ``warm_start``,
``cv``, and for the classifier ``C``, ``l1_ratio``, ``penalty`` and
``class_weight``); the others tune scikit-learn's own solvers and are accepted,
checked where scikit-learn checks them, and ignored, as each docstring lists:

* ``selection`` and ``random_state``: coordinate descent's update order; jaxl1's
  solver has none and is deterministic (``cv=int`` folds are ``KFold`` without
  shuffling, as in scikit-learn, so ``random_state`` does not reach them either).
* ``precompute``: jaxl1 decides itself whether to form the Gram matrix (when
  ``n_samples >= n_features``); a precomputed Gram matrix is not used.
* ``copy_X``: ``X`` is never written to, whatever its value.
* ``n_jobs``: every fold and alpha is fitted in one compiled call already.
* ``verbose``: nothing is printed.
* ``solver``, ``dual`` (``False`` only), ``intercept_scaling``: liblinear's and
  lbfgs's options.

The objectives are jaxl1's means over samples, which are scikit-learn's for the
squared loss:

.. math::

    \min_{w, b}\; \frac{1}{2n}\sum_i s_i\,(y_i - x_i^\top w - b)^2
      + \alpha\rho\|w\|_1 + \tfrac12\alpha(1-\rho)\|w\|_2^2

(:math:`\rho` = ``l1_ratio``, 1 for the lasso; :math:`s_i` the sample weights
rescaled to sum to :math:`n`, so an integer weight is the same as repeating the
sample).  For :class:`LogisticRegressionL1` the loss is the mean logistic loss,
so its ``alpha`` is ``1 / (n * C)`` of ``LogisticRegression(l1_ratio=1, C=C)``.

Differences from scikit-learn worth knowing:

* ``tol`` is jaxl1's relative duality gap: a fit stops when the gap is at most
  ``tol`` times the objective at ``w = 0``.  ``dual_gap_`` is that gap in the
  units of the objective above.
* ``max_iter`` counts proximal-gradient and conjugate-gradient steps (each far
  cheaper than a coordinate-descent epoch), hence the larger default.
* ``n_iter_`` is at least 1: checking the starting point counts as one iteration.
* Every fit runs in float64 inside ``jax.enable_x64(True)``, a context manager
  that is local to the call (and to the thread): the user's global
  ``jax_enable_x64`` setting, and so the dtype of their other JAX code, is left
  as it was.  Inputs are converted to float64 NumPy arrays and every fitted
  attribute is a NumPy array or a Python number.
* The data are padded with zero-weight samples and all-zero features up to a
  few bucketed shapes (at least 512 x 32, then four sizes per octave, so at
  most 25% more), which leaves the solution unchanged: JAX compiles the solver
  once per shape, and for small data compiling (seconds) costs far more than
  solving (milliseconds), so fits on data of nearby sizes (cross-validation
  splits, grid searches) reuse one compiled solver.
* ``positive=True`` needs ``l1_ratio=1`` (jaxl1 has no non-negative elastic net).
* Every estimator also takes ``standardize=False`` (glmnet's ``standardize``): with ``True`` the
  penalty applies to the coefficients of the standardized columns (weighted standard deviation,
  ``ddof=0``), while ``coef_`` and ``intercept_`` stay on the original scale; the CV estimators
  standardize each fold's fit by its own training samples.
* ``cv`` may be an int, ``None`` (5 folds), a scikit-learn splitter or an
  iterable of ``(train, test)`` index pairs, provided that every sample is in
  exactly one test fold and every split trains on all the other samples (as
  ``KFold``, ``StratifiedKFold``, ``GroupKFold`` or ``LeaveOneGroupOut`` do):
  jaxl1 fits all folds in one compiled call from per-sample fold ids.
* ``X`` may be a ``scipy.sparse`` matrix in ``fit`` and ``predict`` (any format, taken as CSR): it
  is never densified, and the padding adds empty rows and columns only.

scikit-learn is an optional dependency of jaxl1 and is imported only here.
"""

from __future__ import annotations

import numbers
import warnings

import jax
import numpy as np
import scipy.sparse

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import check_cv
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted
except ImportError as err:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "jaxl1.sklearn needs scikit-learn, an optional dependency of jaxl1: "
        "pip install 'jaxl1[sklearn]' (or pip install scikit-learn)"
    ) from err

try:
    from sklearn.utils.validation import validate_data as _sk_validate_data
except ImportError:  # pragma: no cover - scikit-learn < 1.6

    def _sk_validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)


from ._jit import enable_x64 as _enable_x64
from ._validation import check_finite as _check_finite
from ._validation import check_groups as _check_groups
from .path import cross_validate as _cross_validate
from .penalties import L1 as _L1Penalty
from .penalties import ElasticNet as _ElasticNetPenalty
from .penalties import GroupL1 as _GroupL1Penalty
from .penalties import L21 as _L21Penalty
from .penalties import SparseGroupL1 as _SparseGroupL1Penalty
from .penalties import MCP as _MCPPenalty
from .penalties import SCAD as _SCADPenalty
from .penalties import NonNegativeL1 as _NonNegativeL1Penalty
from .solver import ConvergenceWarning as _SolveWarning
from .solver import fit as _solver_fit


def _without_solver_warnings(fn):
    """``fn`` with jaxl1's own ConvergenceWarning silenced: the estimators warn with scikit-learn's."""

    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", _SolveWarning)
            return fn(*args, **kwargs)

    return call


_fit = _without_solver_warnings(_solver_fit)
cross_validate = _without_solver_warnings(_cross_validate)

__all__ = ["Lasso", "ElasticNet", "LassoCV", "ElasticNetCV", "LogisticRegressionL1", "PoissonRegressorL1",
           "MultiTaskLasso", "MultiTaskLassoCV", "LogisticRegressionL1CV", "MCPRegression", "SCADRegression",
           "GroupLasso"]

_SPARSE = ("csr", "csc")  # the sparse formats scikit-learn's validation passes on as they are (others become CSR)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _x64():
    """A context in which JAX computes in float64, without touching the global setting."""
    return _enable_x64(True)


_MIN_ROWS, _MIN_COLS = 512, 32


def _bucket(m, floor):
    """``m`` rounded up to ``floor`` or, above it, to one of four sizes per octave.

    Sizes ``2**k < m <= 2**(k+1)`` go up to a multiple of ``2**(k-2)``: four sizes per
    octave, at most 25% padding.
    """
    if m <= floor:
        return floor
    q = 1 << max(0, (m - 1).bit_length() - 3)
    return -(-m // q) * q


def _pad(X, y, sw, folds=None):
    """Pad to bucketed shapes with zero-weight samples and all-zero features.

    JAX compiles the solver once per shape, and for small data compiling costs
    far more than solving (seconds against milliseconds), so data sets of nearby
    sizes share one compiled solver.  The padded problem has the same solution:
    a zero-weight sample adds nothing to a weighted mean (or to a fold's held-out
    error), and an all-zero feature has a zero gradient, so its coefficient stays
    at zero.  Returns ``(X, y, sample_weight, folds)`` padded.
    """
    n, p = X.shape
    n2, p2 = _bucket(n, _MIN_ROWS), _bucket(p, _MIN_COLS)
    if scipy.sparse.issparse(X):  # empty rows and columns: the stored entries stay as they are
        X = X.tocsr()
        indptr = np.concatenate([X.indptr, np.full(n2 - n, X.indptr[-1], X.indptr.dtype)])
        Xp = scipy.sparse.csr_matrix((X.data, X.indices, indptr), shape=(n2, p2))
    elif (n2, p2) == (n, p):
        Xp = X  # no copy of data that is already of a bucketed shape
    else:
        Xp = np.zeros((n2, p2))
        Xp[:n, :p] = X
    yp = np.zeros((n2,) + np.shape(y)[1:])  # (n2,) or (n2, T)
    yp[:n] = y
    swp = np.zeros(n2)
    swp[:n] = 1.0 if sw is None else sw
    if folds is not None:
        folds = np.concatenate([folds, np.zeros(n2 - n, dtype=folds.dtype)])
    return Xp, yp, swp, folds


def _check_number(name, value, *, lo=None, hi=None, lo_open=False, integer=False):
    kinds = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kinds) or not np.isfinite(value):
        what = "an integer" if integer else "a finite number"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    if lo is not None and (value <= lo if lo_open else value < lo):
        raise ValueError(f"{name} must be {'>' if lo_open else '>='} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ValueError(f"{name} must be <= {hi}, got {value!r}")
    return value


def _check_common(est):
    _check_number("tol", est.tol, lo=0.0)
    _check_number("max_iter", est.max_iter, lo=1, integer=True)
    if not isinstance(est.fit_intercept, (bool, np.bool_)):
        raise ValueError(f"fit_intercept must be a bool, got {est.fit_intercept!r}")
    _check_ignored(est)


def _check_ignored(est):
    """The values scikit-learn accepts for the keywords that jaxl1 accepts and ignores.

    They change nothing in a fit, but a value that scikit-learn would refuse (a
    misspelt ``selection``, say) is refused here too rather than silently dropped.
    """
    params = est.get_params(deep=False)
    if "selection" in params and params["selection"] not in ("cyclic", "random"):
        raise ValueError(f"selection must be 'cyclic' or 'random', got {params['selection']!r}")
    if "precompute" in params:
        pre = params["precompute"]
        if not (isinstance(pre, (bool, np.bool_)) or (isinstance(pre, str) and pre == "auto")
                or (hasattr(pre, "shape") and np.ndim(pre) == 2)):
            raise ValueError(f"precompute must be a bool, 'auto' or a Gram matrix, got {pre!r}")
    for name in ("copy_X", "dual"):
        if name in params and not isinstance(params[name], (bool, np.bool_)):
            raise ValueError(f"{name} must be a bool, got {params[name]!r}")
    if "n_jobs" in params and params["n_jobs"] is not None:
        _check_number("n_jobs", params["n_jobs"], integer=True)
    if params.get("solver") not in (None, "lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"):
        raise ValueError(f"solver must be None or one of scikit-learn's solver names, got {params['solver']!r}")
    if "intercept_scaling" in params:
        _check_number("intercept_scaling", params["intercept_scaling"], lo=0.0, lo_open=True)


def _check_positive(positive, l1_ratio):
    if positive and l1_ratio != 1:
        raise ValueError(
            f"positive=True is supported with l1_ratio=1 only (got l1_ratio={l1_ratio!r}): "
            "jaxl1 has no non-negative elastic-net penalty"
        )


def _sample_weight(sample_weight, n):
    """``None`` or a float64 ``(n,)`` array of non-negative weights with a positive sum."""
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight, dtype=np.float64)
    if sw.ndim == 0:
        sw = np.full(n, float(sw))
    if sw.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    _check_finite("sample_weight", sw)
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative")
    if not sw.sum() > 0:
        raise ValueError("sample_weight must not be all zero: at least one weight must be positive")
    return sw


def _warn_not_converged(name, gap, tol, n_iter, what="", measure="duality gap"):
    warnings.warn(
        f"{name} did not converge{what}: {measure} {gap:.3g} after {n_iter} iterations "
        f"(relative tolerance {tol:g}). Increase max_iter, loosen tol, or scale the features.",
        ConvergenceWarning,
        stacklevel=3,
    )


def _solve_and_store(est, Xp, yp, swp, penalty, loss, init, p, gap_attr="dual_gap_"):
    """Fit the padded problem in float64 and set ``coef_``, ``intercept_``, ``dual_gap_`` (or ``gap_attr``),
    ``n_iter_`` on the single-output estimator ``est`` (warning if the solve stopped short); returns ``est``."""
    with _x64():
        res = jax.device_get(
            _fit(Xp, yp, penalty, loss=loss, fit_intercept=est.fit_intercept, sample_weight=swp, tol=float(est.tol),
                 max_iter=int(est.max_iter), init=init, standardize=bool(est.standardize))
        )
    est.coef_ = np.asarray(res.coef[:p], dtype=np.float64)
    est.intercept_ = float(res.intercept)
    setattr(est, gap_attr, float(res.gap))
    est.n_iter_ = max(int(res.n_iter), 1)
    if not bool(res.converged):
        measure = "duality gap" if res.certificate == "duality_gap" else "stationarity measure"
        _warn_not_converged(type(est).__name__, float(res.gap), est.tol, est.n_iter_, measure=measure)
    return est


def _fold_ids(cv, X, y, groups, classifier=False):
    """Per-sample fold ids for ``jaxl1.cross_validate`` from ``cv`` (int, splitter or iterable; an int is
    ``StratifiedKFold`` for a ``classifier``, as in scikit-learn)."""
    n = X.shape[0]
    splitter = check_cv(5 if cv is None else cv, y, classifier=classifier)
    folds = np.full(n, -1, dtype=np.int64)
    k = -1
    for k, (train, test) in enumerate(splitter.split(X, y, groups)):
        train, test = np.arange(n)[train], np.arange(n)[test]  # also accepts boolean masks
        in_train = np.zeros(n, dtype=bool)
        in_train[train] = True
        if np.any(folds[test] >= 0) or np.any(in_train[test]) or len(np.unique(train)) + len(test) != n:
            why = ("overlaps an earlier test fold" if np.any(folds[test] >= 0)
                   else "does not train on exactly the samples outside its test fold")
            raise ValueError(
                f"cv={cv!r} cannot be used: jaxl1 needs every sample in exactly one test fold and every "
                f"split trained on all the other samples (as KFold, StratifiedKFold, GroupKFold and "
                f"LeaveOneGroupOut do); split {k} {why}"
            )
        folds[test] = k
    if k < 1:
        raise ValueError(f"cv={cv!r} must give at least 2 splits, got {k + 1}")
    missing = np.flatnonzero(folds < 0)
    if len(missing):
        raise ValueError(
            f"cv={cv!r} cannot be used: jaxl1 needs every sample in exactly one test fold, "
            f"but {len(missing)} samples (e.g. index {missing[0]}) are in none"
        )
    return folds


# --------------------------------------------------------------------------- #
# regressors
# --------------------------------------------------------------------------- #
class _LinearRegressor(RegressorMixin, BaseEstimator):
    """Shared validation, fitting and prediction for ``Lasso`` and ``ElasticNet``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _l1_ratio(self):
        raise NotImplementedError

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Args:
          X: ``(n_samples, n_features)`` training data.
          y: ``(n_samples,)`` targets.
          sample_weight: optional ``(n_samples,)`` non-negative weights; an integer
            weight is the same as repeating the sample.

        Returns:
          ``self``.
        """
        _check_common(self)
        _check_number("alpha", self.alpha, lo=0.0)
        l1_ratio = _check_number("l1_ratio", self._l1_ratio(), lo=0.0, hi=1.0)
        _check_positive(self.positive, l1_ratio)
        X, y = _sk_validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=_SPARSE)
        sw = _sample_weight(sample_weight, X.shape[0])
        p = X.shape[1]
        Xp, yp, swp, _ = _pad(X, y, sw)
        init = None
        if self.warm_start and np.shape(getattr(self, "coef_", None)) == (p,):
            init = np.zeros(Xp.shape[1])
            init[:p] = self.coef_
        alpha = float(self.alpha)
        # Lasso uses ElasticNet(alpha, 1), the same penalty, so the two estimators share compiled code.
        penalty = _NonNegativeL1Penalty(alpha) if self.positive else _ElasticNetPenalty(alpha, float(l1_ratio))
        return _solve_and_store(self, Xp, yp, swp, penalty, "squared", init, p)

    def predict(self, X):
        """Predictions ``X @ coef_ + intercept_``, ``(n_samples,)``."""
        check_is_fitted(self)
        X = _sk_validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=_SPARSE)
        return X @ self.coef_ + self.intercept_


class Lasso(_LinearRegressor):
    r"""Linear regression with an L1 penalty, scikit-learn's ``Lasso``.

    Minimizes :math:`\frac{1}{2n}\|y - Xw - b\|^2 + \alpha\|w\|_1` (weighted means
    with ``sample_weight``) with :func:`jaxl1.fit`, in float64.

    Args:
      alpha: penalty strength (scikit-learn's ``alpha``), ``>= 0``.
      fit_intercept: fit an unpenalized intercept.
      tol: relative duality gap at which to stop (see the module notes).
      max_iter: the most iterations (proximal-gradient and conjugate-gradient steps).
      warm_start: start from the previous ``coef_`` when refitting.
      positive: constrain the coefficients to be non-negative
        (:class:`jaxl1.NonNegativeL1`).
      precompute, copy_X, random_state, selection: scikit-learn's coordinate-descent
        options, accepted and ignored (see the module notes): jaxl1 forms the Gram
        matrix itself when it pays, never writes to ``X``, and has no update order.

    Attributes:
      coef_: ``(n_features,)`` coefficients, exact zeros off the support.
      intercept_: the intercept (``0.0`` without ``fit_intercept``).
      dual_gap_: the duality gap at the solution.
      n_iter_: iterations taken.
      n_features_in_: number of features seen in ``fit``.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import Lasso
      >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
      >>> y = np.array([1.0, 0.0, 1.0, 2.0])
      >>> Lasso(alpha=0.1).fit(X, y).coef_.round(3)
      array([0.8, 0. ])
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, precompute=False, copy_X=True, max_iter=10_000,
                 tol=1e-4, warm_start=False, positive=False, random_state=None, selection="cyclic",
                 standardize=False):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.standardize = standardize
        self.random_state = random_state
        self.selection = selection

    def _l1_ratio(self):
        return 1.0


class ElasticNet(_LinearRegressor):
    r"""Linear regression with the elastic-net penalty, scikit-learn's ``ElasticNet``.

    Minimizes :math:`\frac{1}{2n}\|y - Xw - b\|^2 + \alpha\rho\|w\|_1 + \tfrac12\alpha(1-\rho)\|w\|_2^2`,
    :math:`\rho` = ``l1_ratio``, with :func:`jaxl1.fit`, in float64.

    Args:
      alpha: penalty strength, ``>= 0``.
      l1_ratio: the mixing :math:`\rho \in [0, 1]` (1 is the lasso, 0 ridge).
      fit_intercept, tol, max_iter, warm_start, positive: as in :class:`Lasso`
        (``positive=True`` needs ``l1_ratio=1``).
      precompute, copy_X, random_state, selection: accepted and ignored, as in :class:`Lasso`.

    Attributes:
      coef_, intercept_, dual_gap_, n_iter_, n_features_in_: as in :class:`Lasso`.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import ElasticNet
      >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
      >>> y = np.array([1.0, 0.0, 1.0, 2.0])
      >>> ElasticNet(alpha=0.1, l1_ratio=0.5).fit(X, y).coef_.round(3)
      array([0.8, 0. ])
    """

    def __init__(self, alpha=1.0, *, l1_ratio=0.5, fit_intercept=True, precompute=False, max_iter=10_000,
                 copy_X=True, tol=1e-4, warm_start=False, positive=False, random_state=None, selection="cyclic",
                 standardize=False):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.copy_X = copy_X
        self.tol = tol
        self.warm_start = warm_start
        self.positive = positive
        self.standardize = standardize
        self.random_state = random_state
        self.selection = selection

    def _l1_ratio(self):
        return self.l1_ratio


class PoissonRegressorL1(RegressorMixin, BaseEstimator):
    r"""Poisson regression (log link) with an L1 or elastic-net penalty.

    Minimizes :math:`\frac1n \sum_i (e^{z_i} - y_i z_i) + \alpha\rho\|w\|_1 + \tfrac12\alpha(1-\rho)\|w\|_2^2`,
    :math:`z = Xw + b`, with :func:`jaxl1.fit` (``loss="poisson"``) in float64: scikit-learn's
    ``PoissonRegressor`` objective (half the mean deviance) with the penalty of ``ElasticNet``
    (``l1_ratio=0`` is ``PoissonRegressor(alpha)`` itself).  With ``sample_weight`` the means are
    weighted: for rates ``y = counts / exposure`` pass the exposure as ``sample_weight``, as with
    scikit-learn's ``PoissonRegressor``.

    Args:
      alpha: penalty strength, ``>= 0``.
      l1_ratio: the elastic-net mixing in ``[0, 1]`` (1: the lasso).
      fit_intercept: fit an unpenalized intercept.
      tol: relative duality gap at which to stop.
      max_iter: the most iterations.
      warm_start: start from the previous ``coef_`` when refitting.
      standardize: penalize the coefficients of the standardized columns (glmnet's ``standardize``);
        ``coef_`` stays on the original scale.

    Attributes:
      coef_: ``(n_features,)`` coefficients, exact zeros off the support.
      intercept_: the intercept.
      dual_gap_: the duality gap at the solution.
      n_iter_: iterations taken.
      n_features_in_: number of features seen in ``fit``.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import PoissonRegressorL1
      >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
      >>> y = np.array([1.0, 2.0, 4.0, 9.0])
      >>> model = PoissonRegressorL1(alpha=0.1).fit(X, y)
      >>> model.coef_.round(3), model.predict(X[:1]).round(3)
      (array([0.714, 0.   ]), array([1.018]))
    """

    def __init__(self, alpha=1.0, *, l1_ratio=1.0, fit_intercept=True, tol=1e-4, max_iter=10_000, warm_start=False,
                 standardize=False):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.standardize = standardize

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.positive_only = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model to non-negative targets ``y`` (counts or rates).

        Raises:
          ValueError: a negative or non-finite ``y``, or one that is zero wherever the weight is positive.
        """
        _check_common(self)
        _check_number("alpha", self.alpha, lo=0.0)
        l1_ratio = _check_number("l1_ratio", self.l1_ratio, lo=0.0, hi=1.0)
        X, y = _sk_validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=_SPARSE)
        if np.any(y < 0):
            raise ValueError("y must be non-negative for PoissonRegressorL1 (counts or rates)")
        sw = _sample_weight(sample_weight, X.shape[0])
        if not np.sum(y if sw is None else y * sw) > 0:
            raise ValueError("y must not be zero wherever sample_weight is positive for PoissonRegressorL1 "
                             "(the fitted rate would be 0)")
        p = X.shape[1]
        Xp, yp, swp, _ = _pad(X, y, sw)
        init = None
        if self.warm_start and np.shape(getattr(self, "coef_", None)) == (p,):
            init = np.zeros(Xp.shape[1])
            init[:p] = self.coef_
        penalty = _ElasticNetPenalty(float(self.alpha), float(l1_ratio))
        return _solve_and_store(self, Xp, yp, swp, penalty, "poisson", init, p)

    def predict(self, X):
        """The predicted mean ``exp(X @ coef_ + intercept_)``, ``(n_samples,)``."""
        check_is_fitted(self)
        X = _sk_validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=_SPARSE)
        return np.exp(X @ self.coef_ + self.intercept_)

    def score(self, X, y, sample_weight=None):
        """D², the fraction of the Poisson deviance explained (scikit-learn's ``PoissonRegressor.score``)."""
        from sklearn.metrics import d2_tweedie_score

        return d2_tweedie_score(y, self.predict(X), sample_weight=sample_weight, power=1)


class _FoldedRegressor(RegressorMixin, BaseEstimator):
    """Shared fitting and prediction for ``MCPRegression`` and ``SCADRegression``."""

    _shape_name = ""  # the name of the concavity parameter
    _shape_bound = 0.0  # it must be larger than this

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _penalty(self, alpha, shape):
        raise NotImplementedError

    def fit(self, X, y, sample_weight=None):
        """Fit the model (a stationary point of the non-convex objective, reached from ``w = 0``, or from the
        previous ``coef_`` with ``warm_start``).

        Args:
          X: ``(n_samples, n_features)`` training data, dense or sparse.
          y: ``(n_samples,)`` targets.
          sample_weight: optional ``(n_samples,)`` non-negative weights.

        Returns:
          ``self``.
        """
        _check_common(self)
        _check_number("alpha", self.alpha, lo=0.0)
        shape = _check_number(self._shape_name, getattr(self, self._shape_name), lo=self._shape_bound, lo_open=True)
        X, y = _sk_validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=_SPARSE)
        sw = _sample_weight(sample_weight, X.shape[0])
        p = X.shape[1]
        Xp, yp, swp, _ = _pad(X, y, sw)
        init = None
        if self.warm_start and np.shape(getattr(self, "coef_", None)) == (p,):
            init = np.zeros(Xp.shape[1])
            init[:p] = self.coef_
        penalty = self._penalty(float(self.alpha), float(shape))
        return _solve_and_store(self, Xp, yp, swp, penalty, "squared", init, p, gap_attr="optimality_")

    def predict(self, X):
        """Predictions ``X @ coef_ + intercept_``, ``(n_samples,)``."""
        check_is_fitted(self)
        X = _sk_validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=_SPARSE)
        return X @ self.coef_ + self.intercept_


_FOLDED_DOC = r"""

    Minimizes :math:`\frac{1}{2n}\|y - Xw - b\|^2 + \sum_j p(|w_j|)` with :func:`jaxl1.fit` in float64, the
    objective of skglm's ``{peer}`` and of ncvreg.  The objective is not convex: the fit is a stationary
    point reached from ``w = 0`` (or from ``coef_`` with ``warm_start``), certified by the stationarity
    measure ``optimality_`` (the squared proximal-gradient mapping over ``2L``, in objective units; there is
    no duality gap), and ``tol`` is relative to the objective at ``w = 0``.  For the best stationary points
    walk a path down from ``lambda_max`` (:func:`jaxl1.fit_path` with ``penalty="{kind}"``), or choose the
    strength by ``jaxl1.cross_validate(..., penalty="{kind}")``.  The concavity is in the units of the
    columns' curvature: standardize the columns (or pass ``standardize=True``) for ncvreg's meaning.

    Attributes:
      coef_: ``(n_features,)`` coefficients, exact zeros off the support.
      intercept_: the intercept (``0.0`` without ``fit_intercept``).
      optimality_: the stationarity measure at the solution.
      n_iter_: iterations taken.
      n_features_in_: number of features seen in ``fit``.
"""


class MCPRegression(_FoldedRegressor):
    __doc__ = r"""Linear regression with the minimax concave penalty (:class:`jaxl1.MCP`).""" + _FOLDED_DOC.replace(
        "{peer}", "MCPRegression").replace("{kind}", "mcp") + r"""
    Args:
      alpha: the strength :math:`\lambda \ge 0`.
      gamma: the concavity :math:`\gamma > 1` (default 3).
      fit_intercept, tol, max_iter, warm_start, standardize: as in :class:`Lasso`.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import MCPRegression
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((100, 5)); y = X @ np.array([2.0, 0, 0, -1.5, 0]) + 0.1 * rng.standard_normal(100)
      >>> MCPRegression(alpha=0.2).fit(X, y).coef_.round(2)  # the large coefficients are not shrunk
      array([ 1.99,  0.  ,  0.  , -1.5 ,  0.  ])
    """

    _shape_name = "gamma"
    _shape_bound = 1.0

    def __init__(self, alpha=1.0, gamma=3.0, *, fit_intercept=True, tol=1e-4, max_iter=10_000, warm_start=False,
                 standardize=False):
        self.alpha = alpha
        self.gamma = gamma
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.standardize = standardize

    def _penalty(self, alpha, shape):
        return _MCPPenalty(alpha, gamma=shape)


class SCADRegression(_FoldedRegressor):
    __doc__ = r"""Linear regression with the smoothly clipped absolute deviation penalty (:class:`jaxl1.SCAD`).""" + \
        _FOLDED_DOC.replace("{peer}", "SCAD penalty").replace("{kind}", "scad") + r"""
    Args:
      alpha: the strength :math:`\lambda \ge 0`.
      a: the concavity :math:`a > 2` (default 3.7).
      fit_intercept, tol, max_iter, warm_start, standardize: as in :class:`Lasso`.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import SCADRegression
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((100, 5)); y = X @ np.array([2.0, 0, 0, -1.5, 0]) + 0.1 * rng.standard_normal(100)
      >>> SCADRegression(alpha=0.2).fit(X, y).coef_.round(2)
      array([ 1.99,  0.  ,  0.  , -1.5 ,  0.  ])
    """

    _shape_name = "a"
    _shape_bound = 2.0

    def __init__(self, alpha=1.0, a=3.7, *, fit_intercept=True, tol=1e-4, max_iter=10_000, warm_start=False,
                 standardize=False):
        self.alpha = alpha
        self.a = a
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.standardize = standardize

    def _penalty(self, alpha, shape):
        return _SCADPenalty(alpha, a=shape)


def _group_ids(groups, p):
    """scikit-learn-style ``groups`` as ``(p,)`` integer ids: ``None`` (every feature its own group), an integer
    (contiguous groups of that size, as celer's and skglm's ``GroupLasso``), a list of lists of column indices
    (a partition of the columns) or a ``(p,)`` array of ids ``0 .. G-1``."""
    if groups is None:
        return np.arange(p)
    if isinstance(groups, numbers.Integral) and not isinstance(groups, bool):
        if groups < 1 or p % groups:
            raise ValueError(f"groups: an integer group size must divide n_features={p}, got {groups!r}")
        return np.arange(p) // int(groups)
    if isinstance(groups, (list, tuple)) and len(groups) and all(isinstance(g, (list, tuple, np.ndarray))
                                                                  for g in groups):
        ids = np.full(p, -1)
        for k, cols in enumerate(groups):
            cols = np.asarray(cols)
            if cols.ndim != 1 or not np.issubdtype(cols.dtype, np.integer) or cols.size == 0 or \
                    np.any((cols < 0) | (cols >= p)):
                raise ValueError(f"groups: group {k} must be a non-empty list of column indices in [0, {p}), "
                                 f"got {groups[k]!r}")
            if np.any(ids[cols] >= 0):
                raise ValueError(f"groups: a column is in more than one group (group {k})")
            ids[cols] = k
        if np.any(ids < 0):
            raise ValueError(f"groups: columns {np.flatnonzero(ids < 0)[:5].tolist()} are in no group (the groups "
                             "must cover the columns)")
        return ids
    return np.asarray(_check_groups(groups, p), dtype=int)


class GroupLasso(RegressorMixin, BaseEstimator):
    r"""Linear regression with the group lasso (or the sparse-group lasso), celer's and skglm's ``GroupLasso``.

    Minimizes :math:`\frac{1}{2n}\|y - Xw - b\|^2 + \alpha\,((1 - \rho) \sum_g c_g \|w_g\|_2 + \rho \|w\|_1)`
    with :func:`jaxl1.fit` in float64 (:class:`jaxl1.GroupL1`, or :class:`jaxl1.SparseGroupL1` for
    ``0 < l1_ratio``), certified by the duality gap.  Whole groups of features enter or leave together.

    Args:
      alpha: the strength :math:`\alpha \ge 0`.
      groups: the groups of the features: an integer (contiguous groups of that size), a list of lists of
        column indices covering the columns, or a ``(n_features,)`` array of ids ``0 .. G-1``; ``None``
        (default): every feature its own group (the lasso).
      weights: optional ``(G,)`` non-negative group factors :math:`c_g` (default the square root of each
        group's size; 0 leaves a group unpenalized).
      l1_ratio: :math:`\rho` in [0, 1), the L1 share (0: the group lasso).
      fit_intercept, tol, max_iter, warm_start: as in :class:`Lasso`.

    Attributes:
      coef_: ``(n_features,)`` coefficients, exact zeros on the groups left out.
      intercept_: the intercept (``0.0`` without ``fit_intercept``).
      dual_gap_: the duality gap at the solution.
      n_iter_: iterations taken.
      n_features_in_: number of features seen in ``fit``.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import GroupLasso
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((100, 6)); y = X[:, :2] @ np.array([1.0, -1.0]) + 0.1 * rng.standard_normal(100)
      >>> GroupLasso(alpha=0.1, groups=2).fit(X, y).coef_.round(2)  # groups (0, 1), (2, 3), (4, 5)
      array([ 0.9 , -0.88,  0.  ,  0.  ,  0.  ,  0.  ])
    """

    standardize = False  # (the group penalties are not standardized)

    def __init__(self, alpha=1.0, *, groups=None, weights=None, l1_ratio=0.0, fit_intercept=True, tol=1e-4,
                 max_iter=10_000, warm_start=False):
        self.alpha = alpha
        self.groups = groups
        self.weights = weights
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Args:
          X: ``(n_samples, n_features)`` training data, dense or sparse.
          y: ``(n_samples,)`` targets.
          sample_weight: optional ``(n_samples,)`` non-negative weights.

        Returns:
          ``self``.
        """
        _check_common(self)
        _check_number("alpha", self.alpha, lo=0.0)
        l1_ratio = _check_number("l1_ratio", self.l1_ratio, lo=0.0, hi=1.0)
        if l1_ratio >= 1.0:
            raise ValueError("l1_ratio must be below 1 (1 is the lasso: use jaxl1.sklearn.Lasso)")
        X, y = _sk_validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=_SPARSE)
        sw = _sample_weight(sample_weight, X.shape[0])
        p = X.shape[1]
        ids = _group_ids(self.groups, p)
        n_groups = int(ids.max()) + 1
        if self.weights is None:
            c = np.sqrt(np.bincount(ids, minlength=n_groups).astype(float))
        else:
            c = np.asarray(self.weights, dtype=float)
            if c.shape != (n_groups,) or not np.all(np.isfinite(c)) or np.any(c < 0):
                raise ValueError(f"weights must be {n_groups} finite non-negative group factors, one per group, "
                                 f"got {self.weights!r}")
        Xp, yp, swp, _ = _pad(X, y, sw)
        pad = Xp.shape[1] - p
        if pad:  # the padding columns (all zero) form one more group, whose coefficients stay at zero
            ids = np.concatenate([ids, np.full(pad, n_groups)])
            c = np.concatenate([c, [1.0]])
        init = None
        if self.warm_start and np.shape(getattr(self, "coef_", None)) == (p,):
            init = np.zeros(Xp.shape[1])
            init[:p] = self.coef_
        groups = tuple(int(g) for g in ids)
        alpha = float(self.alpha)
        penalty = (_GroupL1Penalty(alpha, groups=groups, weights=c) if l1_ratio == 0.0 else
                   _SparseGroupL1Penalty(alpha, float(l1_ratio), groups=groups, weights=c))
        return _solve_and_store(self, Xp, yp, swp, penalty, "squared", init, p)

    def predict(self, X):
        """Predictions ``X @ coef_ + intercept_``, ``(n_samples,)``."""
        check_is_fitted(self)
        X = _sk_validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=_SPARSE)
        return X @ self.coef_ + self.intercept_


def _check_multi_task_y(name, y):
    if np.ndim(y) != 2:
        raise ValueError(f"{name} needs a 2-D y of shape (n_samples, n_tasks), got shape {np.shape(y)}; "
                         "for a single task use Lasso / LassoCV")


class MultiTaskLasso(RegressorMixin, BaseEstimator):
    r"""Several responses sharing one support, scikit-learn's ``MultiTaskLasso``.

    Minimizes :math:`\frac{1}{2n}\|Y - XW - b\|_F^2 + \alpha \sum_j \|W_{j\cdot}\|_2` over ``W`` of shape
    ``(n_features, n_tasks)`` with :func:`jaxl1.fit` and the row penalty :class:`jaxl1.L21`, in float64:
    a feature enters for every task at once.

    Args:
      alpha: penalty strength, ``>= 0``.
      fit_intercept: fit one unpenalized intercept per task.
      tol: relative duality gap at which to stop.
      max_iter: the most iterations.
      warm_start: start from the previous ``coef_`` when refitting.
      copy_X, random_state, selection: scikit-learn's coordinate-descent options, accepted and ignored.

    Attributes:
      coef_: ``(n_tasks, n_features)`` coefficients (scikit-learn's layout), whole zero columns off the support.
      intercept_: ``(n_tasks,)`` intercepts.
      dual_gap_: the duality gap at the solution.
      n_iter_: iterations taken.
      n_features_in_: number of features seen in ``fit``.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import MultiTaskLasso
      >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
      >>> Y = np.array([[1.0, 2.0], [0.0, 0.1], [1.0, 2.0], [2.0, 4.1]])
      >>> MultiTaskLasso(alpha=0.1).fit(X, Y).coef_.round(3)
      array([[0.911, 0.   ],
             [1.821, 0.   ]])
    """

    def __init__(self, alpha=1.0, *, fit_intercept=True, copy_X=True, max_iter=10_000, tol=1e-4, warm_start=False,
                 random_state=None, selection="cyclic"):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.max_iter = max_iter
        self.tol = tol
        self.warm_start = warm_start
        self.random_state = random_state
        self.selection = selection

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model to ``y`` of shape ``(n_samples, n_tasks)`` (optional ``sample_weight``: weighted means)."""
        _check_common(self)
        _check_number("alpha", self.alpha, lo=0.0)
        X, y = _sk_validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=_SPARSE,
                                 multi_output=True)
        _check_multi_task_y(type(self).__name__, y)
        sw = _sample_weight(sample_weight, X.shape[0])
        p, T = X.shape[1], y.shape[1]
        Xp, yp, swp, _ = _pad(X, y, sw)
        init = None
        if self.warm_start and np.shape(getattr(self, "coef_", None)) == (T, p):
            init = np.zeros((Xp.shape[1], T))
            init[:p] = self.coef_.T
        with _x64():
            res = jax.device_get(
                _fit(Xp, yp, _L21Penalty(float(self.alpha)), loss="squared", fit_intercept=self.fit_intercept,
                     sample_weight=swp, tol=float(self.tol), max_iter=int(self.max_iter), init=init)
            )
        self.coef_ = np.ascontiguousarray(np.asarray(res.coef[:p], dtype=np.float64).T)
        self.intercept_ = np.asarray(res.intercept, dtype=np.float64)
        self.dual_gap_ = float(res.gap)
        self.n_iter_ = max(int(res.n_iter), 1)
        if not bool(res.converged):
            _warn_not_converged(type(self).__name__, self.dual_gap_, self.tol, self.n_iter_)
        return self

    def predict(self, X):
        """Predictions ``X @ coef_.T + intercept_``, ``(n_samples, n_tasks)``."""
        check_is_fitted(self)
        X = _sk_validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=_SPARSE)
        return X @ self.coef_.T + self.intercept_


# --------------------------------------------------------------------------- #
# cross-validated regressors
# --------------------------------------------------------------------------- #
class _LinearRegressorCV(RegressorMixin, BaseEstimator):
    """Shared cross-validation for ``LassoCV``, ``ElasticNetCV`` and ``MultiTaskLassoCV``."""

    _multi_task = False  # a 2-D y and the row penalty L21 (MultiTaskLassoCV)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        if self._multi_task:
            tags.target_tags.multi_output = True
            tags.target_tags.single_output = False
        return tags

    def _l1_ratios(self):
        raise NotImplementedError

    def _grid(self, l1_ratios):
        """``(lambdas, n_lambdas)`` for ``jaxl1.cross_validate`` from ``alphas`` / ``n_alphas``."""
        _check_number("eps", self.eps, lo=0.0, hi=1.0, lo_open=True)
        alphas = self.alphas
        if self.n_alphas is not None:
            if not (alphas is None or isinstance(alphas, numbers.Integral)):
                raise ValueError("give either an array of alphas or n_alphas, not both")
            alphas = self.n_alphas
        if alphas is None:
            alphas = 100
        if isinstance(alphas, numbers.Integral) and not isinstance(alphas, bool):
            _check_number("n_alphas" if self.n_alphas is not None else "alphas", alphas, lo=1, integer=True)
            if any(r == 0 for r in l1_ratios):
                raise ValueError("l1_ratio=0 needs an explicit array of alphas (a ridge path has no alpha_max)")
            return None, int(alphas)
        arr = np.asarray(alphas, dtype=np.float64).reshape(-1)
        if arr.size < 1 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"alphas must be an int or a non-empty array of finite values >= 0, got {alphas!r}")
        return np.sort(arr)[::-1].copy(), arr.size

    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate the path, pick ``alpha_`` and keep the model refitted on all the data.

        Args:
          X: ``(n_samples, n_features)`` training data.
          y: ``(n_samples,)`` targets.
          sample_weight: optional ``(n_samples,)`` non-negative weights (training
            objectives and held-out errors are weighted means).
          groups: optional group labels passed to the ``cv`` splitter.

        Returns:
          ``self``.
        """
        _check_common(self)
        ratios = [_check_number("l1_ratio", r, lo=0.0, hi=1.0) for r in self._l1_ratios()]
        for r in ratios:
            _check_positive(getattr(self, "positive", False), r)
        lambdas, n_lambdas = self._grid(ratios)
        X, y = _sk_validate_data(self, X, y, dtype=np.float64, y_numeric=True, accept_sparse=_SPARSE,
                                 multi_output=self._multi_task)
        if self._multi_task:
            _check_multi_task_y(type(self).__name__, y)
        sw = _sample_weight(sample_weight, X.shape[0])
        folds = _fold_ids(self.cv, X, y, groups)
        p = X.shape[1]
        Xp, yp, swp, folds = _pad(X, y, sw, folds)
        results = []
        with _x64():
            for r in ratios:
                res = cross_validate(
                    Xp, yp, folds=folds, loss="squared", l1_ratio=float(r), lambdas=lambdas, n_lambdas=n_lambdas,
                    eps=float(self.eps), fit_intercept=self.fit_intercept, sample_weight=swp, tol=float(self.tol),
                    max_iter=int(self.max_iter), positive=bool(getattr(self, "positive", False)),
                    standardize=bool(getattr(self, "standardize", False)), grouped=self._multi_task,
                )
                results.append(jax.device_get(res))
        alphas = np.stack([np.asarray(r.lambdas, np.float64) for r in results])  # (n_ratios, K)
        mse = np.stack([np.asarray(r.fold_scores, np.float64).T for r in results])  # (n_ratios, K, n_folds)
        mean = mse.mean(axis=-1)
        i_ratio, i_alpha = np.unravel_index(np.argmin(mean), mean.shape)
        best = results[i_ratio]
        path = best.path
        single = not self._multiple_ratios()
        self.l1_ratio_ = float(ratios[i_ratio])
        self.alpha_ = float(alphas[i_ratio, i_alpha])
        self.alpha_1se_ = float(best.lambda_1se)
        self.alphas_ = alphas[0] if single else alphas
        self.mse_path_ = mse[0] if single else mse
        self.coef_ = np.asarray(path.coef[i_alpha, :p], dtype=np.float64)
        self.intercept_ = float(path.intercept[i_alpha]) if not self._multi_task else np.asarray(
            path.intercept[i_alpha], dtype=np.float64)
        if self._multi_task:  # scikit-learn's (n_tasks, n_features)
            self.coef_ = np.ascontiguousarray(self.coef_.T)
        self.dual_gap_ = float(path.gap[i_alpha])
        self.n_iter_ = max(int(path.n_iter[i_alpha]), 1)
        conv = np.concatenate([np.asarray(r.path.converged).reshape(-1) for r in results])
        if not conv.all():
            _warn_not_converged(type(self).__name__, float(np.max([np.max(r.path.gap) for r in results])),
                                self.tol, int(np.max([np.max(r.path.n_iter) for r in results])),
                                f" for {int((~conv).sum())} of {conv.size} alphas on the full data")
        fold_conv = np.concatenate([np.asarray(r.fold_converged).reshape(-1) for r in results])
        if not fold_conv.all():
            warnings.warn(f"{type(self).__name__}: {int((~fold_conv).sum())} of {fold_conv.size} fold fits "
                          f"(folds x alphas) stopped at max_iter={self.max_iter} before reaching tol={self.tol}; "
                          "their held-out scores, and so alpha_, are less reliable. Increase max_iter.",
                          ConvergenceWarning, stacklevel=2)
        return self

    def _multiple_ratios(self):
        return False

    def predict(self, X):
        """Predictions of the model at ``alpha_``: ``X @ coef_ + intercept_`` (``X @ coef_.T`` for several tasks)."""
        check_is_fitted(self)
        X = _sk_validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=_SPARSE)
        return X @ (self.coef_.T if self._multi_task else self.coef_) + self.intercept_


class LassoCV(_LinearRegressorCV):
    r"""Lasso with ``alpha`` chosen by cross-validation, scikit-learn's ``LassoCV``.

    The grid is scikit-learn's (``alphas`` log-spaced from ``alpha_max`` down to
    ``eps * alpha_max``, computed on all the data); every fold's path is fitted in
    one compiled call by :func:`jaxl1.cross_validate`; ``alpha_`` minimizes the mean
    held-out squared error and the model at ``alpha_`` comes from the path refitted
    on all the data.

    Args:
      eps: ratio of the smallest to the largest alpha of the default grid.
      alphas: an int (the number of alphas on the default grid) or an array of alphas.
      n_alphas: scikit-learn's older spelling of ``alphas=int``; overrides it when given.
      fit_intercept, tol, max_iter, positive: as in :class:`Lasso`.
      cv: ``None`` (5 folds), an int (``KFold`` without shuffling), a scikit-learn
        splitter or an iterable of ``(train, test)`` pairs whose test folds
        partition the samples.  For shuffled folds pass
        ``cv=KFold(5, shuffle=True, random_state=...)``, as with scikit-learn.
      precompute, copy_X, verbose, n_jobs, random_state, selection: scikit-learn's
        options, accepted and ignored (see the module notes): ``random_state`` seeds
        coordinate descent's random update order in scikit-learn, not the folds, and
        jaxl1 fits every fold and alpha in one compiled call.

    Attributes:
      alpha_: the chosen alpha.
      alpha_1se_: the largest alpha whose mean error is within one standard error of
        the minimum (glmnet's ``lambda.1se``).
      alphas_: ``(n_alphas,)`` the grid, decreasing.
      mse_path_: ``(n_alphas, n_folds)`` held-out mean squared errors.
      coef_, intercept_, dual_gap_, n_iter_: the model at ``alpha_``.
      n_features_in_: number of features seen in ``fit``.

    Examples:
      >>> from sklearn.datasets import load_diabetes
      >>> from jaxl1.sklearn import LassoCV
      >>> X, y = load_diabetes(return_X_y=True)
      >>> model = LassoCV(cv=5).fit(X, y)
      >>> model.mse_path_.shape, bool(model.alpha_1se_ >= model.alpha_)
      ((100, 5), True)
    """

    def __init__(self, *, eps=1e-3, alphas=100, n_alphas=None, fit_intercept=True, precompute="auto",
                 max_iter=10_000, tol=1e-4, copy_X=True, cv=None, verbose=False, n_jobs=None, positive=False,
                 random_state=None, selection="cyclic", standardize=False):
        self.eps = eps
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.standardize = standardize
        self.random_state = random_state
        self.selection = selection

    def _l1_ratios(self):
        return [1.0]


class ElasticNetCV(_LinearRegressorCV):
    r"""Elastic net with ``alpha`` (and ``l1_ratio``) chosen by cross-validation, scikit-learn's ``ElasticNetCV``.

    Args:
      l1_ratio: a mixing in [0, 1] or a list of them; with a list the pair
        (``l1_ratio_``, ``alpha_``) of smallest mean held-out error is chosen.
      eps, alphas, n_alphas, fit_intercept, tol, max_iter, cv, positive: as in
        :class:`LassoCV` (``l1_ratio=0`` needs an array of ``alphas``).
      precompute, copy_X, verbose, n_jobs, random_state, selection: accepted and
        ignored, as in :class:`LassoCV`.

    Attributes:
      alpha_, alpha_1se_, coef_, intercept_, dual_gap_, n_iter_, n_features_in_: as in :class:`LassoCV`
        (``alpha_1se_`` along the chosen ``l1_ratio_``).
      l1_ratio_: the chosen mixing.
      alphas_: ``(n_alphas,)``, or ``(n_l1_ratio, n_alphas)`` for a list of ``l1_ratio``.
      mse_path_: ``(n_alphas, n_folds)``, or ``(n_l1_ratio, n_alphas, n_folds)``.

    Examples:
      >>> from sklearn.datasets import load_diabetes
      >>> from jaxl1.sklearn import ElasticNetCV
      >>> X, y = load_diabetes(return_X_y=True)
      >>> model = ElasticNetCV(l1_ratio=[0.5, 1.0], cv=5).fit(X, y)
      >>> model.mse_path_.shape, model.l1_ratio_ in (0.5, 1.0)
      ((2, 100, 5), True)
    """

    def __init__(self, *, l1_ratio=0.5, eps=1e-3, alphas=100, n_alphas=None, fit_intercept=True,
                 precompute="auto", max_iter=10_000, tol=1e-4, cv=None, copy_X=True, verbose=0, n_jobs=None,
                 positive=False, random_state=None, selection="cyclic",
                 standardize=False):
        self.l1_ratio = l1_ratio
        self.eps = eps
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.max_iter = max_iter
        self.tol = tol
        self.cv = cv
        self.copy_X = copy_X
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.positive = positive
        self.standardize = standardize
        self.random_state = random_state
        self.selection = selection

    def _multiple_ratios(self):
        return np.ndim(self.l1_ratio) > 0

    def _l1_ratios(self):
        ratios = list(np.ravel(self.l1_ratio)) if self._multiple_ratios() else [self.l1_ratio]
        ratios = [r.item() if isinstance(r, (np.generic, np.ndarray)) else r for r in ratios]
        if not ratios:
            raise ValueError("l1_ratio must be a number or a non-empty list of numbers")
        return ratios


class MultiTaskLassoCV(_LinearRegressorCV):
    r"""The multi-task lasso with ``alpha`` chosen by cross-validation, scikit-learn's ``MultiTaskLassoCV``.

    The grid starts at the smallest ``alpha`` whose solution is zero (the largest row norm of the
    gradient at zero) and every fold's path is fitted in one compiled call by
    :func:`jaxl1.cross_validate` with ``grouped=True``; ``alpha_`` minimizes the held-out mean squared
    error over all samples and tasks.

    Args:
      eps, alphas, n_alphas, fit_intercept, max_iter, tol, cv: as in :class:`LassoCV`.
      copy_X, verbose, n_jobs, random_state, selection: accepted and ignored.

    Attributes:
      alpha_, alpha_1se_, alphas_, mse_path_ ``(n_alphas, n_folds)``: as in :class:`LassoCV`.
      coef_: ``(n_tasks, n_features)``; intercept_: ``(n_tasks,)``; dual_gap_, n_iter_: the model at ``alpha_``.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import MultiTaskLassoCV
      >>> rng = np.random.default_rng(0)
      >>> X = rng.standard_normal((60, 5)); Y = X[:, :2] @ np.ones((2, 3)) + 0.1 * rng.standard_normal((60, 3))
      >>> model = MultiTaskLassoCV(cv=3).fit(X, Y)
      >>> model.coef_.shape, model.mse_path_.shape, int((np.abs(model.coef_).sum(axis=0) > 0).sum()) >= 2
      ((3, 5), (100, 3), True)
    """

    _multi_task = True

    def __init__(self, *, eps=1e-3, alphas=100, n_alphas=None, fit_intercept=True, max_iter=10_000, tol=1e-4,
                 copy_X=True, cv=None, verbose=False, n_jobs=None, random_state=None, selection="cyclic"):
        self.eps = eps
        self.alphas = alphas
        self.n_alphas = n_alphas
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.copy_X = copy_X
        self.cv = cv
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.selection = selection

    def _l1_ratios(self):
        return [1.0]


# --------------------------------------------------------------------------- #
# logistic regression
# --------------------------------------------------------------------------- #
class LogisticRegressionL1(ClassifierMixin, BaseEstimator):
    r"""Logistic regression with an L1 penalty (binary, or multinomial for more classes), in jaxl1's mean-loss convention.

    Minimizes :math:`\frac{1}{n}\sum_i s_i \log(1 + e^{-t_i (x_i^\top w + b)}) + \alpha\|w\|_1`,
    :math:`t_i = \pm 1` for the two classes (:math:`s_i` the sample weights, times
    the class weights, rescaled to sum to :math:`n`), with :func:`jaxl1.fit`, in
    float64.  This is scikit-learn's ``LogisticRegression(l1_ratio=1, C=1 / (n * alpha))``
    divided by ``C * n``: the same solution.  The intercept is not penalized.
    With ``l1_ratio < 1`` the penalty is the elastic net
    :math:`\alpha(\rho\|w\|_1 + \tfrac12(1-\rho)\|w\|_2^2)`, as scikit-learn's.

    Args:
      alpha: penalty strength, ``>= 0``; the default ``0.01`` is ``C=1`` at ``n=100``.
      C: scikit-learn's inverse strength; when given it replaces ``alpha`` by
        ``1 / (C * sum of the sample and class weights)`` (``1 / (C * n)`` without
        weights), which is the same problem as ``LogisticRegression(C=C)``;
        ``C=np.inf`` means no penalty.  ``None`` (the default) uses ``alpha``.
      l1_ratio: the mixing :math:`\rho \in [0, 1]`; the default ``1.0`` is the
        lasso (scikit-learn's default ``0.0`` is ridge).
      penalty: scikit-learn's deprecated spelling: ``"deprecated"`` (the default)
        leaves the penalty to ``l1_ratio``; ``"l1"``, ``"l2"`` and ``None`` mean
        ``l1_ratio=1``, ``l1_ratio=0`` and no penalty; ``"elasticnet"`` uses ``l1_ratio``.
      class_weight: ``None``, ``"balanced"`` or a dict from label to weight; it
        multiplies the sample weights, as in scikit-learn (``"balanced"`` is
        computed with the sample weights by :func:`sklearn.utils.class_weight.compute_class_weight`).
      fit_intercept, tol, max_iter, warm_start: as in :class:`Lasso`.
      positive: constrain the coefficients to be non-negative (needs ``l1_ratio=1``);
        not a scikit-learn keyword.
      dual: accepted if ``False``; ``True`` raises ``ValueError`` (jaxl1 solves the primal).
      solver: ``None`` (jaxl1's own solver, the default) or any of scikit-learn's
        solver names, accepted and ignored: jaxl1 always runs its working-set
        proximal Newton solver.
      intercept_scaling, random_state, verbose, n_jobs: scikit-learn's solver
        options, accepted and ignored (see the module notes).

    Attributes:
      classes_: the labels, sorted; for two, ``classes_[1]`` is the positive class.
      coef_: ``(1, n_features)`` coefficients for two classes (scikit-learn's binary layout), ``(n_classes,
        n_features)`` for more: the multinomial loss :math:`-\frac1n \sum_i s_i \log \mathrm{softmax}(W x_i + b)_{y_i}`
        with the penalty on every entry of ``W``, scikit-learn's multinomial ``LogisticRegression``.
      intercept_: ``(1,)`` or ``(n_classes,)`` intercepts.
      dual_gap_: the duality gap at the solution.
      n_iter_: ``(1,)`` iterations taken.
      n_features_in_: number of features seen in ``fit``.

    Examples:
      >>> import numpy as np
      >>> from jaxl1.sklearn import LogisticRegressionL1
      >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [0.5, 0.5], [2.5, 0.5]])
      >>> y = np.array(["no", "no", "yes", "yes", "no", "yes"])
      >>> clf = LogisticRegressionL1(alpha=0.05).fit(X, y)
      >>> clf.predict(X).tolist(), clf.coef_.shape
      (['no', 'no', 'yes', 'yes', 'no', 'yes'], (1, 2))
    """

    def __init__(self, alpha=0.01, *, penalty="deprecated", C=None, l1_ratio=1.0, dual=False, tol=1e-4,
                 fit_intercept=True, intercept_scaling=1, class_weight=None, random_state=None, solver=None,
                 max_iter=10_000, verbose=0, warm_start=False, n_jobs=None, positive=False, standardize=False):
        self.alpha = alpha
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.positive = positive
        self.standardize = standardize

    def _mixing(self):
        """``(penalized, l1_ratio)`` from ``penalty`` and ``l1_ratio``, scikit-learn's reading of the two."""
        pen = self.penalty
        if pen is None:
            return False, 1.0
        if not isinstance(pen, str) or pen not in ("deprecated", "l1", "l2", "elasticnet"):
            raise ValueError(f"penalty must be 'l1', 'l2', 'elasticnet', None or 'deprecated', got {pen!r}")
        if pen == "l1":
            return True, 1.0
        if pen == "l2":
            return True, 0.0
        return True, float(_check_number("l1_ratio", self.l1_ratio, lo=0.0, hi=1.0))

    def _strength(self, sw, n):
        """The penalty strength in jaxl1's convention: ``alpha``, or ``1 / (C * sum(weights))`` for a ``C``."""
        if self.C is None:
            return float(_check_number("alpha", self.alpha, lo=0.0))
        C = self.C
        if isinstance(C, bool) or not isinstance(C, numbers.Real) or np.isnan(C) or not C > 0:
            raise ValueError(f"C must be a number > 0 (np.inf for no penalty), got {C!r}")
        total = n if sw is None else float(sw.sum())
        return 0.0 if np.isinf(C) else 1.0 / (float(C) * total)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Args:
          X: ``(n_samples, n_features)`` training data.
          y: ``(n_samples,)`` labels of two or more classes (any type numpy can sort); with more than
            two, the multinomial loss.
          sample_weight: optional ``(n_samples,)`` non-negative weights.

        Returns:
          ``self``.

        Raises:
          ValueError: fewer than two classes (after dropping zero-weight samples), a continuous
            target, ``positive=True`` with more than two classes, bad parameters or data.
        """
        X, y01, sw, x_mean, alpha, l1_ratio = self._prepare(X, y, sample_weight)
        n_classes = len(self.classes_)
        coef_shape = (1,) if n_classes == 2 else (n_classes,)
        p = X.shape[1]
        Xp, yp, swp, _ = _pad(X, y01, sw)
        init = None
        if self.warm_start and np.shape(getattr(self, "coef_", None)) == coef_shape + (p,):
            init = np.zeros(Xp.shape[1:2] + coef_shape[1 if n_classes == 2 else 0:])
            init[:p] = self.coef_[0] if n_classes == 2 else self.coef_.T
        if self.positive:
            penalty = _NonNegativeL1Penalty(alpha)
        elif l1_ratio == 1:
            penalty = _L1Penalty(alpha)
        else:
            penalty = _ElasticNetPenalty(alpha, l1_ratio)
        with _x64():
            res = jax.device_get(
                _fit(Xp, yp, penalty, loss=self._loss(), fit_intercept=self.fit_intercept, sample_weight=swp,
                     tol=float(self.tol), max_iter=int(self.max_iter), init=init, standardize=bool(self.standardize))
            )
        self._set_model(res.coef, res.intercept, res.gap, res.n_iter, p, x_mean)
        if not bool(res.converged):
            _warn_not_converged(type(self).__name__, self.dual_gap_, self.tol, int(self.n_iter_[0]))
        return self

    def _loss(self):
        return "logistic" if len(self.classes_) == 2 else "multinomial"

    def _set_model(self, coef, intercept, gap, n_iter, p, x_mean):
        """``coef_``, ``intercept_``, ``dual_gap_``, ``n_iter_`` from a solution on the centred, padded data."""
        W = np.asarray(coef[:p], dtype=np.float64).reshape(p, -1)  # (p, 1) or (p, K)
        self.coef_ = W.T.copy()
        self.intercept_ = np.asarray(intercept - x_mean @ W, dtype=np.float64).reshape(-1)
        if self.intercept_.size > 1:  # several classes: the softmax is the same for intercepts shifted alike, and
            self.intercept_ -= self.intercept_.mean()  # scikit-learn's sum to 0
        self.dual_gap_ = float(gap)
        self.n_iter_ = np.array([max(int(n_iter), 1)])

    def _prepare(self, X, y, sample_weight, *, strength=True):
        """Check the parameters and the data; set ``classes_``.

        Returns ``(X, y01, sw, x_mean, alpha, l1_ratio)``: ``X`` centred (dense, with an intercept),
        the labels as 0/1 (two classes) or class indices, the sample weights times the class weights,
        the removed means, the penalty strength (``strength=False``: not read) and the mixing.
        """
        _check_common(self)
        penalized, l1_ratio = self._mixing()
        _check_positive(self.positive, l1_ratio)
        if self.dual:
            raise ValueError("dual=True is not supported: jaxl1 solves the primal problem "
                             "(scikit-learn has a dual formulation only for liblinear's L2 penalty)")
        if strength and self.C is None:
            _check_number("alpha", self.alpha, lo=0.0)
        X, y = _sk_validate_data(self, X, y, dtype=np.float64, accept_sparse=_SPARSE)
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type not in ("binary", "multiclass"):
            raise ValueError(f"Only binary and multiclass targets are supported. The type of the target is {y_type}.")
        sw = _sample_weight(sample_weight, X.shape[0])
        self.classes_ = np.unique(y)
        n_classes = len(self.classes_)
        if n_classes > 2 and self.positive:
            raise ValueError("positive=True is supported for two classes only: the multinomial coefficient matrix "
                             "takes no bounds")
        if self.class_weight is not None:
            cw = compute_class_weight(self.class_weight, classes=self.classes_, y=y, sample_weight=sw)
            sw = (np.ones(X.shape[0]) if sw is None else sw) * cw[np.searchsorted(self.classes_, y)]
            if not sw.sum() > 0:
                raise ValueError("class_weight and sample_weight leave every sample with zero weight")
        alpha = (self._strength(sw, X.shape[0]) if penalized else 0.0) if strength else None
        present = self.classes_ if sw is None else np.unique(y[sw > 0])
        if len(present) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes with positive weight, got "
                f"{len(present)} class ({present.tolist()})"
            )
        if n_classes == 2:
            y01 = (y == self.classes_[1]).astype(np.float64)
        else:  # the class indices 0 .. K-1, multinomial
            y01 = np.searchsorted(self.classes_, y).astype(np.float64)
        # Centring the features leaves the solution unchanged (the intercept absorbs the shift) and keeps
        # the intercept from coupling to every coefficient: with features far from zero (means of 100
        # against spreads of 1, say) the uncentred problem is so badly conditioned that the solver
        # stalls, while the squared loss is centred inside jaxl1.fit already.  A sparse X is centred
        # inside jaxl1.fit's products instead (centring it here would make it dense).
        centre = self.fit_intercept and not scipy.sparse.issparse(X)
        x_mean = np.average(X, axis=0, weights=sw) if centre else np.zeros(X.shape[1])
        return (X - x_mean if centre else X), y01, sw, x_mean, alpha, l1_ratio

    def decision_function(self, X):
        """Log-odds of ``classes_[1]``, ``X @ coef_[0] + intercept_[0]``, ``(n_samples,)`` for two classes; the
        classes' scores ``X @ coef_.T + intercept_``, ``(n_samples, n_classes)``, for more."""
        check_is_fitted(self)
        X = _sk_validate_data(self, X, dtype=np.float64, reset=False, accept_sparse=_SPARSE)
        if len(self.classes_) == 2:
            return X @ self.coef_[0] + self.intercept_[0]
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def predict_log_proba(self, X):
        """Log class probabilities, ``(n_samples, n_classes)`` in the order of ``classes_``."""
        z = self.decision_function(X)
        if z.ndim == 1:
            return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])
        top = z.max(axis=1, keepdims=True)
        return z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))

    def predict_proba(self, X):
        """Class probabilities, ``(n_samples, n_classes)`` in the order of ``classes_``."""
        z = self.decision_function(X)
        if z.ndim == 1:
            p1 = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow
            return np.column_stack([1.0 - p1, p1])
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable label of ``classes_`` for each sample."""
        z = self.decision_function(X)
        if z.ndim == 1:
            return self.classes_[(z > 0).astype(int)]
        return self.classes_[np.argmax(z, axis=1)]


class LogisticRegressionL1CV(LogisticRegressionL1):
    r""":class:`LogisticRegressionL1` with ``alpha`` chosen by cross-validation (binary or multinomial).

    The grid runs from the smallest ``alpha`` whose solution is zero down to ``eps`` times it (log-spaced,
    computed on all the data, as :class:`LassoCV` does); every fold's path is fitted in one compiled call
    by :func:`jaxl1.cross_validate` and scored by its held-out mean deviance; ``alpha_`` minimizes the
    mean over the folds, and the model at ``alpha_`` comes from the path refitted on all the data.
    Unlike scikit-learn's ``LogisticRegressionCV`` (a grid of ``Cs``), the grid is jaxl1's ``alpha``;
    ``C_`` gives the chosen strength in scikit-learn's units.

    Args:
      alphas: an int (the size of the default grid) or an array of strengths.
      eps: ratio of the smallest to the largest alpha of the default grid.
      l1_ratio: the elastic-net mixing (1: the lasso).
      cv: ``None`` (5 folds), an int (``StratifiedKFold`` without shuffling, as scikit-learn), a splitter or
        an iterable of ``(train, test)`` pairs whose test folds partition the samples.
      fit_intercept, tol, max_iter, class_weight, positive, standardize: as in :class:`LogisticRegressionL1`.
      n_jobs, random_state, verbose: accepted and ignored.

    Attributes:
      alpha_, alpha_1se_: the chosen strength and glmnet's ``lambda.1se``.
      C_: ``1 / (alpha_ * sum of the weights)``, scikit-learn's ``C`` for ``alpha_``.
      alphas_: ``(n_alphas,)`` the grid, decreasing.
      deviance_path_: ``(n_alphas, n_folds)`` held-out mean deviances.
      classes_, coef_, intercept_, dual_gap_, n_iter_: the model at ``alpha_``, as in :class:`LogisticRegressionL1`.

    Examples:
      >>> from sklearn.datasets import load_iris
      >>> from jaxl1.sklearn import LogisticRegressionL1CV
      >>> X, y = load_iris(return_X_y=True)
      >>> clf = LogisticRegressionL1CV(alphas=20, cv=3).fit(X, y)
      >>> clf.coef_.shape, clf.deviance_path_.shape, bool(clf.score(X, y) > 0.9)
      ((3, 4), (20, 3), True)
    """

    penalty, dual, C, warm_start, n_alphas = "deprecated", False, None, False, None  # fixed for the CV

    def __init__(self, *, alphas=100, eps=1e-3, l1_ratio=1.0, cv=None, fit_intercept=True, tol=1e-4,
                 max_iter=10_000, class_weight=None, positive=False, standardize=False, n_jobs=None,
                 random_state=None, verbose=0):
        self.alphas = alphas
        self.eps = eps
        self.l1_ratio = l1_ratio
        self.cv = cv
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.positive = positive
        self.standardize = standardize
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate the path, pick ``alpha_`` and keep the model refitted on all the data.

        Args:
          X: ``(n_samples, n_features)`` training data.
          y: ``(n_samples,)`` labels of two or more classes.
          sample_weight: optional ``(n_samples,)`` non-negative weights (weighted fits and held-out means).
          groups: optional group labels passed to the ``cv`` splitter.

        Returns:
          ``self``.
        """
        X, y01, sw, x_mean, _, l1_ratio = self._prepare(X, y, sample_weight, strength=False)
        lambdas, n_lambdas = _LinearRegressorCV._grid(self, [l1_ratio])
        folds = _fold_ids(self.cv, X, y01, groups, classifier=True)
        p = X.shape[1]
        Xp, yp, swp, folds = _pad(X, y01, sw, folds)
        with _x64():
            res = jax.device_get(cross_validate(
                Xp, yp, folds=folds, loss=self._loss(), l1_ratio=float(l1_ratio), lambdas=lambdas,
                n_lambdas=n_lambdas, eps=float(self.eps), fit_intercept=self.fit_intercept, sample_weight=swp,
                tol=float(self.tol), max_iter=int(self.max_iter), positive=bool(self.positive),
                standardize=bool(self.standardize),
            ))
        self.alphas_ = np.asarray(res.lambdas, np.float64)
        self.deviance_path_ = np.asarray(res.fold_scores, np.float64).T
        i = int(np.argmin(self.deviance_path_.mean(axis=1)))
        self.alpha_ = float(self.alphas_[i])
        self.alpha_1se_ = float(res.lambda_1se)
        total = X.shape[0] if sw is None else float(sw.sum())
        self.C_ = np.inf if self.alpha_ == 0 else 1.0 / (self.alpha_ * total)
        path = res.path
        self._set_model(path.coef[i], path.intercept[i], path.gap[i], path.n_iter[i], p, x_mean)
        if not bool(np.all(path.converged)):
            _warn_not_converged(type(self).__name__, float(np.max(path.gap)), self.tol, int(np.max(path.n_iter)),
                                f" for {int((~np.asarray(path.converged)).sum())} alphas on the full data")
        if not bool(np.all(res.fold_converged)):
            warnings.warn(f"{type(self).__name__}: some fold fits stopped at max_iter={self.max_iter} before "
                          f"reaching tol={self.tol}; alpha_ is less reliable. Increase max_iter.",
                          ConvergenceWarning, stacklevel=2)
        return self

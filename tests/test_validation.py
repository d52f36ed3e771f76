"""Bad inputs refused at the public boundary, each error naming its argument (issue 19).

Every fit here is on data of one shape (40 x 5), so the solver compiles a few times only.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxl1
from jaxl1 import InvalidParameterError, _validation
from jaxl1._validation import magnitude_limit

N, P = 40, 5


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, P))
    y = X @ np.array([1.0, -0.5, 0.0, 0.0, 0.25]) + 0.1 * rng.standard_normal(N)
    labels = (X[:, 0] + 0.5 * rng.standard_normal(N) > 0).astype(float)
    return X, y, labels


# --------------------------------------------------------------------------- #
# penalties' numbers (item 3)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("make, name", [
    (lambda: jaxl1.L1("-1"), "strength"),
    (lambda: jaxl1.L1("nan"), "strength"),
    (lambda: jaxl1.L1("0.1"), "strength"),
    (lambda: jaxl1.L1(None), "strength"),
    (lambda: jaxl1.L1(True), "strength"),
    (lambda: jaxl1.L1(np.bool_(False)), "strength"),
    (lambda: jaxl1.L1(0.1, weights="1"), "weights"),
    (lambda: jaxl1.L1(0.1, weights=[True, False]), "weights"),
    (lambda: jaxl1.ElasticNet(0.1, "2"), "l1_ratio"),
    (lambda: jaxl1.ElasticNet("0.1", 0.5), "alpha"),
    (lambda: jaxl1.ElasticNet(0.1, None), "l1_ratio"),
    (lambda: jaxl1.L2("1"), "strength"),
    (lambda: jaxl1.NonNegativeL1(None), "strength"),
    (lambda: jaxl1.GroupL1(False), "strength"),
])
def test_penalty_numbers_must_be_numbers(make, name):
    with pytest.raises(InvalidParameterError, match=name) as info:
        make()
    # both kinds of error a caller may catch
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_penalty_numbers_still_checked_for_range():
    with pytest.raises(ValueError, match="strength must be >= 0"):
        jaxl1.L1(-1.0)
    with pytest.raises(ValueError, match="l1_ratio must be <= 1"):
        jaxl1.ElasticNet(0.1, 2)
    with pytest.raises(ValueError, match="strength must be finite"):
        jaxl1.L1(np.array([0.1, np.nan]))
    # numbers of every numeric kind, lists of numbers included
    for ok in (1, 0.5, np.float32(0.1), np.int64(2), jnp.asarray(0.3), [0.1, 0.2], np.ones(3)):
        jaxl1.L1(ok)


def test_traced_strengths_still_work(data):
    X, y, _ = data
    lams = jnp.asarray([0.2, 0.05])
    vmapped = jax.vmap(lambda lam: jaxl1.fit(X, y, jaxl1.L1(lam), tol=1e-10).coef)(lams)
    loop = [jaxl1.fit(X, y, jaxl1.L1(float(lam)), tol=1e-10).coef for lam in lams]
    np.testing.assert_allclose(vmapped, np.stack(loop), atol=1e-8)
    jitted = jax.jit(lambda a, r: jaxl1.fit(X, y, jaxl1.ElasticNet(a, r), tol=1e-10).coef)(0.05, 0.5)
    np.testing.assert_allclose(jitted, jaxl1.fit(X, y, jaxl1.ElasticNet(0.05, 0.5), tol=1e-10).coef, atol=1e-8)
    g = jax.grad(lambda lam: jnp.sum(jaxl1.fit(X, y, jaxl1.L1(lam), tol=1e-10).coef ** 2))(0.05)
    assert np.isfinite(float(g)) and float(g) < 0  # a larger strength shrinks the coefficients
    # an abstract penalty (jax.eval_shape builds it from ShapeDtypeStructs) is not refused either
    out = jax.eval_shape(lambda lam: jaxl1.L1(lam).prox(jnp.ones(3), 1.0), jax.ShapeDtypeStruct((), jnp.float32))
    assert out.shape == (3,)


# --------------------------------------------------------------------------- #
# numeric options (items 3 and 8)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("call, name", [
    (lambda X, y: jaxl1.fit(X, y, jaxl1.L1(0.1), max_iter=True), "max_iter"),
    (lambda X, y: jaxl1.fit(X, y, jaxl1.L1(0.1), tol=True), "tol"),
    (lambda X, y: jaxl1.fit(X, y, jaxl1.L1(0.1), check_every=True), "check_every"),
    (lambda X, y: jaxl1.fit(X, y, jaxl1.L1(0.1), ws_size=True), "ws_size"),
    (lambda X, y: jaxl1.fit_path(X, y, max_iter=True), "max_iter"),
    (lambda X, y: jaxl1.fit_path(X, y, n_lambdas=True), "n_lambdas"),
    (lambda X, y: jaxl1.fit_path(X, y, l1_ratio=True), "l1_ratio"),
    (lambda X, y: jaxl1.fit_path(X, y, chunk_size=True), "chunk_size"),
    (lambda X, y: jaxl1.cross_validate(X, y, n_folds=True), "n_folds"),
    (lambda X, y: jaxl1.lambda_max(X, y, l1_ratio=True), "l1_ratio"),
    (lambda X, y: jaxl1.lambda_grid(1.0, n_lambdas=True), "n_lambdas"),
    (lambda X, y: jaxl1.tune(X, y, X, y, n_steps=True), "n_steps"),
])
def test_bools_are_not_numbers(data, call, name):
    X, y, _ = data
    with pytest.raises(ValueError, match=name):
        call(X, y)


def test_numpy_integer_check_every(data):
    X, y, _ = data
    a = jaxl1.fit(X, y, jaxl1.L1(0.05), check_every=np.int64(5), tol=1e-10)
    b = jaxl1.fit(X, y, jaxl1.L1(0.05), check_every=5, tol=1e-10)
    np.testing.assert_array_equal(a.coef, b.coef)
    for bad in (0, 2.0, "5"):
        with pytest.raises(ValueError, match="check_every"):
            jaxl1.fit(X, y, jaxl1.L1(0.05), check_every=bad)


def test_two_dimensional_lambdas_refused(data):
    X, y, _ = data
    for lams in (np.array([[0.1, 0.01]]), np.array([[0.1], [0.01]])):
        with pytest.raises(ValueError, match="lambdas must be a 1-D"):
            jaxl1.fit_path(X, y, lambdas=lams)
        with pytest.raises(ValueError, match="lambdas must be a 1-D"):
            jaxl1.cross_validate(X, y, lambdas=lams)
    assert jaxl1.fit_path(X, y, lambdas=0.1).coef.shape == (1, P)  # a scalar is one strength


def test_check_integer_is_the_one_rule_for_counts():
    for ok in (3, np.int32(3), np.int64(3), np.uint8(3)):
        out = _validation.check_integer("n", ok)
        assert out == 3 and type(out) is int
    for flag in (True, np.bool_(False)):
        with pytest.raises(InvalidParameterError, match="n must be a number, not a bool"):
            _validation.check_integer("n", flag, minimum=0)
    for bad in (0, -1, 2.0, "3", None):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            _validation.check_integer("n", bad)
    with pytest.raises(ValueError, match="n must be a non-negative integer or None"):
        _validation.check_integer("n", -1, minimum=0, or_none=True)
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        _validation.check_integer("n", 1, minimum=2)


def test_counts_are_checked_the_same_way_everywhere(data):
    # every count (max_iter, check_every, chunk_size, ws_size, n_lambdas, n_folds) takes a Python or a numpy
    # integer and refuses a bool, in every public function that has it
    X, y, _ = data
    i = np.int64
    a = jaxl1.fit_path(X, y, n_lambdas=i(4), max_iter=i(5000), check_every=i(10), chunk_size=i(1), ws_size=i(5))
    b = jaxl1.fit_path(X, y, n_lambdas=4, max_iter=5000, check_every=10, chunk_size=1, ws_size=5)
    np.testing.assert_array_equal(a.coef, b.coef)
    cv = jaxl1.cross_validate(X, y, n_folds=i(4), n_lambdas=i(4), max_iter=i(5000), check_every=i(10))
    assert cv.fold_scores.shape == (4, 4)
    np.testing.assert_array_equal(jaxl1.lambda_grid(1.0, n_lambdas=i(3)), jaxl1.lambda_grid(1.0, n_lambdas=3))
    counts = {
        "max_iter": (jaxl1.fit, jaxl1.fit_path, jaxl1.cross_validate),
        "check_every": (jaxl1.fit, jaxl1.fit_path, jaxl1.cross_validate),
        "ws_size": (jaxl1.fit, jaxl1.fit_path, jaxl1.cross_validate),
        "chunk_size": (jaxl1.fit_path, jaxl1.cross_validate),
        "n_lambdas": (jaxl1.fit_path, jaxl1.cross_validate),
    }
    for name, functions in counts.items():
        for fn in functions:
            args = (X, y, jaxl1.L1(0.1)) if fn is jaxl1.fit else (X, y)
            with pytest.raises(InvalidParameterError, match=f"{name} must be a number, not a bool"):
                fn(*args, **{name: np.bool_(True)})
            with pytest.raises(ValueError, match=f"{name} must be a (positive|non-negative) integer"):
                fn(*args, **{name: 2.5})


# --------------------------------------------------------------------------- #
# one data check per public call (issue 13, item 5)
# --------------------------------------------------------------------------- #
@pytest.fixture
def data_checks(monkeypatch):
    """The shapes of the arrays given to ``_validation.validate_data``, one entry per call."""
    calls = []
    real = _validation.validate_data

    def spy(X, y, sample_weight, loss):
        calls.append(np.shape(X))
        return real(X, y, sample_weight, loss)

    monkeypatch.setattr(_validation, "validate_data", spy)
    return calls


def test_data_validated_once_per_public_call(data, data_checks):
    X, y, _ = data
    free = np.array([0.0, 1.0, 1.0, 1.0, 1.0])  # a zero factor: lambda_max fits that coordinate first
    jaxl1.fit_path(X, y, n_lambdas=4, weights=free)
    assert data_checks == [(N, P)]
    data_checks.clear()
    jaxl1.cross_validate(X, y, n_folds=4, n_lambdas=4, weights=free)
    assert data_checks == [(N, P)]
    data_checks.clear()
    jaxl1.lambda_max(X, y, weights=free)
    assert data_checks == [(N, P)]
    data_checks.clear()
    jaxl1.fit(X, y, jaxl1.L1(0.05))
    assert data_checks == [(N, P)]
    data_checks.clear()
    jaxl1.tune(X[:30], y[:30], X[30:], y[30:], n_steps=1)  # the steps' fits and the last one check nothing
    assert data_checks == [(30, P), (10, P)]  # the training data and the validation data, once each


def test_lambda_max_with_a_free_coordinate(data):
    # the unpenalized coordinate is fitted first (least squares with an intercept), then the largest
    # gradient of the others, divided by their factors, is the smallest strength that zeroes them
    X, y, _ = data
    w = np.array([0.0, 1.0, 2.0, 1.0, 0.5])
    A = np.column_stack([np.ones(N), X[:, 0]])
    r = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    ref = np.max(np.abs(X[:, 1:].T @ r / N) / w[1:])
    lmax = float(jaxl1.lambda_max(X, y, weights=w))
    assert lmax == pytest.approx(ref, rel=1e-6)
    assert float(jaxl1.fit_path(X, y, n_lambdas=4, weights=w).lambdas[0]) == lmax  # the path's own
    above = jaxl1.fit(X, y, jaxl1.L1(1.001 * lmax, w), tol=1e-10)
    below = jaxl1.fit(X, y, jaxl1.L1(0.99 * lmax, w), tol=1e-10)
    assert np.all(np.asarray(above.coef[1:]) == 0) and above.coef[0] != 0
    assert np.any(np.asarray(below.coef[1:]) != 0)


# --------------------------------------------------------------------------- #
# cross-validation with degenerate folds (item 4)
# --------------------------------------------------------------------------- #
def test_cv_fold_without_training_weight(data):
    X, y, _ = data
    sw = np.zeros(N)
    sw[:8] = 1.0  # the weight is all in fold 0: the training set of fold 0 weighs nothing
    with pytest.raises(ValueError, match="sample_weight is zero on every training sample of fold 0"):
        jaxl1.cross_validate(X, y, n_folds=5, sample_weight=sw, n_lambdas=5)


def test_cv_fold_without_held_out_weight(data):
    # a fold with no held-out weight has no score: refused rather than averaged in as 0
    X, y, _ = data
    sw = np.ones(N)
    sw[16:24] = 0.0  # fold 2 of 5
    with pytest.raises(ValueError, match="sample_weight is zero on every held-out sample of fold 2"):
        jaxl1.cross_validate(X, y, n_folds=5, sample_weight=sw, n_lambdas=5)
    folds = np.repeat(np.arange(5), 8)
    with pytest.raises(ValueError, match="fold 2"):
        jaxl1.cross_validate(X, y, folds=folds, sample_weight=sw, n_lambdas=5)
    # the same samples given to the other folds: four folds, each with a score
    folds[16:24] = [0, 1, 3, 4, 0, 1, 3, 4]
    cv = jaxl1.cross_validate(X, y, folds=folds, sample_weight=sw, n_lambdas=5)
    assert cv.fold_scores.shape == (4, 5) and np.all(np.asarray(cv.fold_scores) > 0)


def test_cv_logistic_fold_with_one_training_class(data):
    X, _, _ = data
    labels = np.zeros(N)
    labels[:8] = 1.0  # every positive in fold 0: its training samples are all 0
    with pytest.raises(ValueError, match="y has a single class .* training samples of fold 0"):
        jaxl1.cross_validate(X, labels, n_folds=5, loss="logistic", n_lambdas=3)


# --------------------------------------------------------------------------- #
# subnormal sample weights (item 5)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("tiny", [1e-310, 5e-324])
def test_subnormal_sample_weights(data, tiny):
    X, y, labels = data
    ref = jaxl1.fit(X, y, jaxl1.L1(0.05), tol=1e-10)
    res = jaxl1.fit(X, y, jaxl1.L1(0.05), tol=1e-10, sample_weight=np.full(N, tiny))
    assert bool(res.converged)
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-10)
    # relative sizes are kept: subnormal weights 1 and 2 units apart act as weights 1 and 2
    w = np.where(np.arange(N) % 2, 2.0, 1.0)
    ref = jaxl1.fit_path(X, labels, loss="logistic", lambdas=[0.05, 0.01], sample_weight=w, tol=1e-10)
    res = jaxl1.fit_path(X, labels, loss="logistic", lambdas=[0.05, 0.01], sample_weight=w * 1e-310, tol=1e-10)
    np.testing.assert_allclose(res.coef, ref.coef, atol=1e-8)
    cv = jaxl1.cross_validate(X, y, n_folds=5, n_lambdas=5, sample_weight=np.full(N, tiny))
    assert np.all(np.isfinite(np.asarray(cv.mean_score)))


def test_huge_sample_weights(data):
    # weights whose sum overflows: the same fit as unit weights
    X, y, _ = data
    res = jaxl1.fit(X, y, jaxl1.L1(0.05), tol=1e-10, sample_weight=np.full(N, 1e307))
    np.testing.assert_allclose(res.coef, jaxl1.fit(X, y, jaxl1.L1(0.05), tol=1e-10).coef, atol=1e-10)


# --------------------------------------------------------------------------- #
# the logistic loss with one class (item 6)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("label", [0.0, 1.0])
def test_logistic_single_class(data, label):
    X, _, labels = data
    y = np.full(N, label)
    for call in (lambda: jaxl1.fit(X, y, jaxl1.L1(0.01), loss="logistic"),
                 lambda: jaxl1.fit_path(X, y, loss="logistic", n_lambdas=3),
                 lambda: jaxl1.cross_validate(X, y, loss="logistic", n_lambdas=3)):
        with pytest.raises(ValueError, match=r"y has a single class"):
            call()
    # the same when sample weights leave only one class
    with pytest.raises(ValueError, match=r"y has a single class \(1\)"):
        jaxl1.fit(X, labels, jaxl1.L1(0.01), loss="logistic", sample_weight=labels)


# --------------------------------------------------------------------------- #
# data beyond the solver's range (item 2)
# --------------------------------------------------------------------------- #
def test_data_beyond_range_refused(data):
    X, y, _ = data
    Xb = X.copy()
    Xb[:, 1] *= 1e200
    with pytest.raises(ValueError, match="X has values of magnitude up to"):
        jaxl1.fit(Xb, y, jaxl1.L1(0.1))
    with pytest.raises(ValueError, match="X has values"):
        jaxl1.fit_path(Xb, y, n_lambdas=3)
    with pytest.raises(ValueError, match="y has values"):
        jaxl1.fit(X, y * 1e160, jaxl1.L1(0.1))
    with pytest.raises(ValueError, match="X has values .* float32"):
        jaxl1.fit((X * 1e18).astype(np.float32), y.astype(np.float32), jaxl1.L1(0.1))
    # without a separable penalty the solver's products are of four values: a lower limit
    assert magnitude_limit(np.float64, scaled=False) < 1e77 < magnitude_limit(np.float64)
    with pytest.raises(ValueError, match="X has values"):
        jaxl1.fit(X * 1e80, y, jaxl1.GroupL1(0.1))
    with pytest.raises(ValueError, match="X_train has values"):
        jaxl1.tune(Xb, y, X, y, n_steps=1)


def test_group_penalty_at_large_values_is_finite(data):
    X, y, _ = data
    size = 1e70  # below its limit: finite and right
    res = jaxl1.fit(X * size, y, jaxl1.GroupL1(0.05 * size), tol=1e-10)
    ref = jaxl1.fit(X, y, jaxl1.GroupL1(0.05), tol=1e-10)
    np.testing.assert_allclose(np.asarray(res.coef) * size, ref.coef, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- #
# smaller items (item 8)
# --------------------------------------------------------------------------- #
def test_pandas_bool_and_nullable_columns(data):
    pd = pytest.importorskip("pandas")
    X, y, labels = data
    Xd = X.copy()
    Xd[:, 1] = X[:, 1] > 0
    Xd[:, 2] = np.round(3 * X[:, 2])
    frame = pd.DataFrame(X, columns=list("abcde"))
    frame["b"] = X[:, 1] > 0
    frame["c"] = pd.array(Xd[:, 2].astype(int), dtype="Int64")
    frame["d"] = pd.array(X[:, 3], dtype="Float64")
    ref = jaxl1.fit(Xd, y, jaxl1.L1(0.01), tol=1e-10)
    np.testing.assert_allclose(jaxl1.fit(frame, y, jaxl1.L1(0.01), tol=1e-10).coef, ref.coef, atol=1e-12)
    path = jaxl1.fit_path(frame, pd.Series(y), lambdas=[0.1, 0.01], tol=1e-10)
    np.testing.assert_allclose(path.coef[1], ref.coef, atol=1e-9)
    # labels as a nullable boolean series
    res = jaxl1.fit(frame, pd.Series(labels.astype(bool), dtype="boolean"), jaxl1.L1(0.01), loss="logistic")
    assert np.all(np.isfinite(np.asarray(res.coef)))
    # a missing value is reported as one, naming the argument
    frame.loc[3, "c"] = pd.NA
    with pytest.raises(ValueError, match="X contains NaN"):
        jaxl1.fit(frame, y, jaxl1.L1(0.01))
    # text stays refused
    frame["c"] = "text"
    with pytest.raises(ValueError, match="X must be numeric"):
        jaxl1.fit(frame, y, jaxl1.L1(0.01))


def test_tune_names_its_arguments(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="X_val must be a 2-D array"):
        jaxl1.tune(X, y, X.ravel(), y, n_steps=1)
    with pytest.raises(ValueError, match="X_val and y_val have inconsistent"):
        jaxl1.tune(X, y, X, y[:5], n_steps=1)
    with pytest.raises(ValueError, match="y_val contains NaN"):
        jaxl1.tune(X, y, X, np.full(N, np.nan), n_steps=1)
    with pytest.raises(ValueError, match="X_train must be a 2-D array"):
        jaxl1.tune(X.ravel(), y, X, y, n_steps=1)


def test_tune_checks_its_options_before_fitting(data):
    # as fit_path checks them: l1_ratio is a number in [0, 1] and tol a non-negative number, even with init_lambda
    X, y, _ = data
    for bad in ("0.5", 1.5):
        with pytest.raises(ValueError, match=r"l1_ratio must be a number in \[0, 1\]"):
            jaxl1.tune(X, y, X, y, init_lambda=0.1, l1_ratio=bad, n_steps=1)
    with pytest.raises(ValueError, match="tol must be a finite non-negative number"):
        jaxl1.tune(X, y, X, y, init_lambda=0.1, tol=-1.0, n_steps=1)


_PARAMS = {"w": jnp.array([1.0, -0.5, 0.25]), "b": jnp.array([0.5])}


@pytest.mark.parametrize("mask", [{"w": True}, [True, False], {"w": {"x": True}, "b": False},
                                  lambda p: {"v": True}])
@pytest.mark.parametrize("make", [lambda m: jaxl1.proximal(jaxl1.L1(0.1), 0.1, mask=m),
                                  lambda m: jaxl1.prox_adam(0.1, jaxl1.L1(0.1), mask=m)])
def test_mask_of_the_wrong_structure(make, mask):
    tx = make(mask)
    with pytest.raises(ValueError, match="mask must be a pytree of booleans with the structure of the parameters"):
        tx.update(_PARAMS, tx.init(_PARAMS), _PARAMS)


@pytest.mark.parametrize("schedule, good_steps, bad", [(optax.constant_schedule(float("nan")), 0, "nan"),
                                                       (lambda count: -0.1 + 0.0 * count, 0, "-0.1"),
                                                       (optax.linear_schedule(0.1, -0.1, 1), 1, "-0.1")])
@pytest.mark.parametrize("make", [lambda lr: jaxl1.proximal(jaxl1.L1(0.1), lr),
                                  lambda lr: jaxl1.prox_adam(lr, jaxl1.L1(0.1))])
def test_learning_rate_schedule_checked_outside_jit(make, schedule, good_steps, bad):
    tx = make(schedule)
    state = tx.init(_PARAMS)
    for _ in range(good_steps):
        _, state = tx.update(_PARAMS, state, _PARAMS)
    with pytest.raises(ValueError, match=f"learning_rate .*schedule.* at step {good_steps}.* got {bad}"):
        tx.update(_PARAMS, state, _PARAMS)
    # under jit a value that depends on the step is traced: nothing raises
    if good_steps:
        jax.jit(tx.update)(_PARAMS, state, _PARAMS)


@pytest.mark.parametrize("bad", [True, "0.1"])
@pytest.mark.parametrize("make", [lambda lr: jaxl1.proximal(jaxl1.L1(0.1), lr),
                                  lambda lr: jaxl1.prox_adam(lr, jaxl1.L1(0.1))])
def test_learning_rate_must_be_a_number(make, bad):
    with pytest.raises(InvalidParameterError, match="learning_rate must be a number or a schedule"):
        make(bad)


def test_strength_schedule_checked():
    tx = jaxl1.proximal(jaxl1.L1(0.1), 0.1, strength=lambda count: jnp.nan + count)
    with pytest.raises(ValueError, match="strength must be finite"):
        tx.update(_PARAMS, tx.init(_PARAMS), _PARAMS)


def test_no_warning_from_checks_on_good_input(data):
    X, y, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jaxl1.fit(X, y, jaxl1.L1(0.05))
        jaxl1.cross_validate(X, y, n_folds=4, n_lambdas=5, sample_weight=np.linspace(0.5, 1.5, N))


@pytest.mark.parametrize("order,dtype,target", [("C", np.float64, None), ("F", np.float64, None),
                                                ("C", np.float64, np.float32), ("C", np.int32, None)])
def test_large_numpy_arrays_put_from_an_aligned_copy(order, dtype, target):
    # from ALIGNED_MIN_BYTES a numpy X is copied into a 64-byte-aligned buffer before it is put (device_put
    # then takes the buffer without a second copy): the values, dtype and shape are numpy's conversion's,
    # and the caller's array is neither aliased nor changed
    rng = np.random.default_rng(0)
    raw = (rng.standard_normal(600 * 600 + 1) * 100).astype(dtype)
    X = raw[1:].reshape(600, 600)  # one element in: not 64-byte aligned
    X = np.asfortranarray(X) if order == "F" else X
    want = X.astype(target or np.float64)  # x64 is on in the tests
    assert want.nbytes >= _validation.ALIGNED_MIN_BYTES
    before = X.copy()
    buffer = _validation._aligned(X, want.dtype)
    assert buffer.ctypes.data % 64 == 0 and buffer.flags.c_contiguous  # what device_put takes without a copy
    assert _validation._aligned(buffer, want.dtype) is buffer  # already aligned: not copied again
    out = _validation.as_float_array("X", X, target)
    assert out.dtype == want.dtype and out.shape == X.shape
    np.testing.assert_array_equal(np.asarray(out), want)
    X[0, 0] = 12345
    assert float(out[0, 0]) == float(want[0, 0])  # the result does not share the caller's buffer
    X[0, 0] = before[0, 0]
    np.testing.assert_array_equal(X, before)


def test_concrete_sample_weights_normalized_without_compiling(compiles):
    # normalized by numpy and put: an eager sum and division compiled two programs per n (60 ms of a first fit)
    w = np.random.default_rng(0).uniform(0.1, 2.0, 53)
    compiles.clear()
    s = _validation.check_sample_weight(w, 53, jnp.float64)
    s_scalar = _validation.check_sample_weight(2.5, 53, jnp.float64)
    assert compiles == []
    np.testing.assert_allclose(np.asarray(s), w / w.sum(), rtol=1e-15)
    np.testing.assert_allclose(np.asarray(s_scalar), np.full(53, 1 / 53), rtol=1e-15)
    assert s.dtype == jnp.float64 and s.shape == (53,)


def test_data_too_small_for_its_dtype_is_refused():
    """Values whose squares underflow (scales, the gap's tolerance of 0) used to give wrong answers, converged;
    scaled up, the same problem is solved."""
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 6))
    y = X @ rng.standard_normal(6) + rng.standard_normal(50)
    for args, name in [((X * 1e-160, y), "X"), ((X, y * 1e-160), "y"), ((sp.csr_matrix(X * 1e-160), y), "X")]:
        with pytest.raises(ValueError, match=rf"^{name} has values of magnitude at most"):
            jaxl1.fit(*args, jaxl1.L1(0.05))
        with pytest.raises(ValueError, match=rf"^{name} has values"):
            jaxl1.fit_path(*args, n_lambdas=3)
    with pytest.raises(ValueError, match="^X has values"):
        jaxl1.fit(X.astype(np.float32) * np.float32(1e-19), y, jaxl1.L1(0.05))
    ref = jaxl1.fit(X, y, jaxl1.L1(0.05), tol=1e-12)
    small = jaxl1.fit(X * 1e-100, y, jaxl1.L1(0.05e-100), tol=1e-12)  # well above the limit: the same answer
    np.testing.assert_allclose(np.asarray(small.coef) * 1e-100, ref.coef, rtol=1e-8, atol=1e-10)
    jaxl1.fit(np.zeros((5, 2)), np.zeros(5), jaxl1.L1(0.1))  # all zeros: allowed


def test_fit_path_under_jit_with_penalty_factors():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 8))
    y = X @ rng.standard_normal(8) + rng.standard_normal(60)
    for w in (np.ones(8), np.r_[0.0, np.ones(7)]):
        traced = jax.jit(lambda X, y, w: jaxl1.fit_path(X, y, n_lambdas=5, weights=w, tol=1e-12))(X, y, w)
        plain = jaxl1.fit_path(X, y, n_lambdas=5, weights=w, tol=1e-12)
        np.testing.assert_allclose(traced.lambdas, plain.lambdas, rtol=1e-10)
        np.testing.assert_allclose(traced.coef, plain.coef, rtol=1e-7, atol=1e-9)


def test_lambdas_and_random_state_of_the_wrong_kind():
    X, y = np.random.default_rng(0).standard_normal((20, 3)), np.arange(20.0)
    for bad in ("0.1", [True, False], ["a"]):
        with pytest.raises(ValueError, match="^lambdas must be numbers"):
            jaxl1.fit_path(X, y, lambdas=bad)
    with pytest.raises(ValueError, match="^random_state must be"):
        jaxl1.stability_selection(X, y, n_subsamples=4, n_lambdas=3, random_state="a")
    jaxl1.fit_path(X, y, lambdas=[2, 1])  # integers are numbers

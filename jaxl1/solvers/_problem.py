"""The problem a solver iterates on: centred, column-scaled data in the Gram or the data form.

``prepare`` builds a :class:`Problem` once per data set (the Gram matrix ``X_c' S X_c`` for the
quadratic loss when ``n >= p``, the design otherwise), with a Lipschitz bound ``L`` of the gradient
by power iteration and ``P0``, the objective at ``w = 0`` that scales every tolerance.  A sparse
``X`` (a BCOO) takes the data form, its design a :class:`~jaxl1.solvers._sparse.SparseDesign` that
centres and scales inside its products, or the Gram form from moments scipy computed before the
program (:func:`sparse_moments`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import threading
import weakref
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..losses import get_loss, intercept_of, is_quadratic, rows_of
from ._sparse import is_bcoo, sparse_design, stored_entries


def default_tol(dtype) -> float:
    """The default relative duality gap: ``1e-6`` in float64, ``1e-4`` in lower precision."""
    return 1e-6 if jnp.dtype(dtype) == jnp.float64 else 1e-4


class Problem(NamedTuple):
    """Everything an iteration needs; a pytree of arrays (``fit_b`` marks an intercept variable)."""

    A: jax.Array  # (p, p) Gram matrix, or (n, p) design (centred with an intercept); a SparseDesign for sparse X
    c: jax.Array  # (p,) X_c' S y_c for the Gram form ((p, K) for a 2-D y); in the data form with an intercept
    # variable, A'u0 for the null model's dual point u0 (see solvers._gap._inside_domain), else zeros
    y: jax.Array  # (n,) targets, or (n, K) (centred for the squared loss with intercept)
    s: jax.Array  # (n,) normalized sample weights
    yy: jax.Array  # 0.5 * sum s y_c^2 (Gram form)
    x_mean: jax.Array  # (p,) weighted column means removed from X (zeros if none)
    y_mean: jax.Array  # weighted mean removed from y (0 if none; (K,) for a 2-D y)
    L: jax.Array  # Lipschitz constant of the gradient
    P0: jax.Array  # objective at w = 0, intercept optimal
    d: jax.Array  # (p,) column scales: A holds the columns divided by d (ones when not scaled)
    o: jax.Array  # offset added to the linear predictor, shaped like y (data form; zeros when none)
    A_low: Any = None  # (float32 Gram matrix, whether it is usable) for a float64 solve's products (low_gram)


LOW_PRECISION = True  # float64 Gram-form solves take float32 inner products (see low_gram)


LOW_GRAM_MAX = 2**28  # the most entries of that float32 copy (1 GiB; the float64 Gram matrix is twice that)


LOW_GRAM_MIN = 200  # the fewest columns: below, the products cost less than the operations around them (a
# 100-strength path of p = 250: 19-20 ms against 22-24 ms in float64; p = 160: the same; p = 50: 1.25x slower)


LOW_RANGE = 2.0**100  # the float32 copy is used when its entries lie within [1 / this, this] (or are 0)


def low_gram(A, c):
    """``(A in float32, usable)`` for a float64 Gram-form problem with one response on a CPU, else ``None``;
    ``usable`` (traced) when the copy is finite and its entries far from float32's overflow and underflow
    (a group penalty's unscaled columns can hold values beyond them).

    The working-set rounds take their FISTA steps' and conjugate gradients' products with it, on the
    increment from the round's start, whose gradient is known in float64: each round's rounding is
    relative to its own step, and the next round starts from a float64 gradient and duality gap (iterative
    refinement); the rounds' KKT tests stay in float64.  A product by a float32
    matrix reads half the memory (500x500: 14 us against 26 us).  A round that does not meet its tolerance
    within ``LOW_ROUND_MAX`` iterations or ends non-finite, or after which the duality gap did not fall
    (an ill-conditioned subproblem, where float32's rounding of the matrix moves the minimizer), hands the
    rest of the solve to float64 products.  On an accelerator the batched lanes would run both products,
    so the copy is made on a CPU only.
    """
    if (not LOW_PRECISION or A.dtype != jnp.float64 or c.ndim != 1 or A.size > LOW_GRAM_MAX
            or A.shape[0] < LOW_GRAM_MIN or jax.default_backend() != "cpu"):
        return None
    low = A.astype(jnp.float32)
    d = jnp.abs(jnp.diagonal(A))
    usable = (jnp.all(jnp.isfinite(low)) & (jnp.max(jnp.abs(A)) <= LOW_RANGE)
              & (jnp.min(jnp.where(d > 0, d, 1.0)) >= 1.0 / LOW_RANGE))
    return low, usable


def power_iteration(matvec, v0, n_iter=50):
    """Largest eigenvalue of a PSD operator (Rayleigh quotient after ``n_iter`` steps)."""

    def body(v, _):
        mv = matvec(v)
        return mv / jnp.maximum(jnp.linalg.norm(mv), jnp.finfo(mv.dtype).tiny), None

    v, _ = jax.lax.scan(body, v0 / jnp.linalg.norm(v0), None, length=n_iter)
    return jnp.vdot(v, matvec(v))


def start_vector(p, dtype):
    """A fixed start for power iteration with no zero entry and no special direction (no PRNG: cheap to compile)."""
    return 1.0 + 0.5 * jnp.sin(1.618034 * jnp.arange(1, p + 1, dtype=dtype))


L_SAFETY = 1.05  # the Rayleigh quotient underestimates the top eigenvalue slightly


GRAM_BLOCKS = 4  # column blocks of the Gram matrix when p >= GRAM_BLOCK_MIN


GRAM_BLOCK_MIN = 256


def gram(X, Xs):
    """``X' Xs`` for a symmetric result: only the blocks on and above the diagonal are multiplied.

    Block row ``i`` is one product with the columns from block ``i`` on; with 4 blocks that is 10/16 of
    the full product's work (XLA does not exploit the symmetry of ``X' X`` itself).  The upper part
    ``U`` (diagonal blocks halved) gives ``G = U + U'``, exactly symmetric.
    """
    p = X.shape[1]
    if p < GRAM_BLOCK_MIN:
        return X.T @ Xs
    e = [round(i * p / GRAM_BLOCKS) for i in range(GRAM_BLOCKS + 1)]
    rows = []
    for i in range(GRAM_BLOCKS):
        R = X[:, e[i]:e[i + 1]].T @ Xs[:, e[i]:]
        half = jnp.arange(p - e[i]) < e[i + 1] - e[i]
        rows.append(jnp.pad(jnp.where(half, 0.5 * R, R), ((0, 0), (e[i], 0))))
    U = jnp.concatenate(rows, axis=0)
    return U + U.T


# from this size of product (n p^2) the Gram matrix on a CPU is numpy's ``X'X`` on the host: the BLAS's
# symmetric rank-k update does half the work at a higher rate (20000x1000: 0.75 s with the transfer, against
# 1.3 s for the blocks above in XLA; 2000x500: 22 ms against 35 ms).  Smaller products stay in XLA, where the
# persistent compilation cache can keep the program (JAX does not cache programs with host callbacks).
GRAM_HOST_MIN = 2.5e8


MOMENTS_LOSS_MAX = 1e4  # the most a Gram matrix from moments may amplify rounding (1e4 eps: about 2e-12)


def fold_moments(X, s, fold_rows, fold_mask, fit_intercept, xp=jnp):
    """The second moments of every cross-validation run's training rows about one centre, from one pass.

    ``fold_rows`` ``(k, m)`` holds each fold's row indices (padded; ``fold_mask`` marks the real ones).
    The centre ``u`` is the weighted mean of all rows (zeros without an intercept); with ``Xu = X - u``,
    ``B_f = Xu_f' S_f Xu_f`` is fold ``f``'s part and ``R = sum_f B_f`` the whole, so that run ``f`` (its
    fold held out) has ``(R - B_f) / (1 - s_f)`` and the last run (nothing held out) ``R``.  Returns
    ``(moments, mag, u)`` with ``moments`` of shape ``(k + 1, p, p)`` (``mag``: the diagonal of what each
    run's moments were computed from, ``(k + 1, p)``): the ``k`` fold products cost one Gram
    matrix in all, against ``k + 1`` for a Gram matrix per run.  ``xp=np``: computed by numpy on a concrete
    ``X`` (see :func:`host_moments`).
    """
    gram = numpy_gram if xp is np else weighted_gram
    p = X.shape[1]
    u = s @ X if fit_intercept else xp.zeros(p, X.dtype)
    Xu = X - u if fit_intercept else X
    parts, held = [], []
    for rows, mask in zip(fold_rows, fold_mask):
        sf = xp.where(mask, s[rows], 0.0)
        parts.append(gram(Xu[rows], sf))
        held.append(xp.sum(sf))
    B = xp.stack(parts)
    R = xp.sum(B, axis=0)
    keep = 1.0 - xp.stack(held)  # each run's training weight (s sums to 1)
    keep = xp.maximum(keep, xp.finfo(X.dtype).tiny)
    train = (R[None] - B) / keep[:, None, None]
    # the size of what was subtracted, per column and run: the rounding of the difference is eps times it
    mag = xp.concatenate([xp.diag(R)[None] / keep[:, None], xp.diag(R)[None]])
    return xp.concatenate([train, R[None]]), mag, u


def numpy_gram(x, s):
    """``x' diag(s) x`` by numpy (``s >= 0``): on one BLAS thread beside other solves (see
    :func:`one_blas_thread`); for a product of at least ``GRAM_SPLIT_MIN`` (``n p^2``) in blocks of rows, one per
    core, each on a thread of its own with one BLAS thread; else on the BLAS's threads.

    A product on the BLAS's own threads leaves OpenBLAS's workers spinning for a while on the other cores,
    where the solve that follows runs some of its work: a 20000x1000 path took 0.37-0.39 s after it against
    0.33 s with OpenBLAS's spin cut short (``OPENBLAS_THREAD_TIMEOUT=4``) and 0.31 s after the blocks (the
    product itself: 0.206 s against 0.232 s); threads of our own end with the product.  A smaller product
    keeps the BLAS's threads: split, a 2000x500 one took 0.011 s against 0.008 s, and 30 bootstrap paths in
    one program 2.9-3.2 s against 2.3 s.
    """
    beside = side_by_side_now()
    cores = os.cpu_count() or 1
    if beside or cores == 1 or x.size * x.shape[1] < GRAM_SPLIT_MIN:
        with one_blas_thread(beside):
            return _gram_rows(x, s)
    n = x.shape[0]
    edges = [round(i * n / cores) for i in range(cores + 1)]
    with one_blas_thread(), concurrent.futures.ThreadPoolExecutor(cores) as pool:
        parts = list(pool.map(lambda i: _gram_rows(x[edges[i]:edges[i + 1]], s[edges[i]:edges[i + 1]]),
                              range(cores)))
    return functools.reduce(np.add, parts)


GRAM_SPLIT_MIN = 5e9  # from this size of product (n p^2) the Gram matrix is computed in blocks of rows, in parallel


def _gram_rows(x, s):
    if x.shape[0] == 0:
        return np.zeros((x.shape[1], x.shape[1]), x.dtype)
    if np.all(s == s[0]):  # no sample weights: no weighted copy of X
        return (x.T @ x) * s[0]  # numpy sees the transposed operand and calls the BLAS's syrk
    z = x * np.sqrt(s)[:, None]
    return z.T @ z


def _fresh_state():
    return {"lock": threading.Lock(), "runs": 0, "users": 0, "limiter": None, "helper": None, "controller": None}


_STATE = _fresh_state()
if hasattr(os, "register_at_fork"):  # a forked child has the lock and the helper's executor but not its thread
    os.register_at_fork(after_in_child=lambda: _STATE.update(_fresh_state()))


@contextlib.contextmanager
def side_by_side():
    """Solves run side by side from several threads inside the block (``jaxl1.path._in_threads``)."""
    with _STATE["lock"]:
        _STATE["runs"] += 1
    try:
        yield
    finally:
        with _STATE["lock"]:
            _STATE["runs"] -= 1


def side_by_side_now() -> bool:
    """Inside :func:`side_by_side`, or called from a thread that Python started other than the main one (one of a
    pool's, whose solves run side by side; not XLA's, which runs one program's host callbacks)."""
    thread = threading.current_thread()
    return _STATE["runs"] > 0 or not (thread is threading.main_thread() or isinstance(thread, threading._DummyThread))


@contextlib.contextmanager
def one_blas_thread(apply=True):
    """numpy's BLAS on one thread inside the block (``apply``), for every thread, until the last thread that
    asked for it has left.

    After a product on several threads OpenBLAS keeps its workers spinning for a while, on the cores that
    solves running side by side use: two 2000x500 paths from two threads, each after its numpy Gram matrix,
    ran at 0.086-0.092 s each against 0.065-0.070 s with one BLAS thread (0.054 s alone, either way); 30
    bootstrap paths from two threads took 1.85 s against 1.37 s, stability selection's 40 subsamples 1.12 s
    against 0.91 s.  Alone, a product keeps every thread, or for a large one (:func:`numpy_gram`) takes one
    per block of rows on threads of its own.  The limit is process-wide while it lasts (the product's time).
    It is set and lifted by one helper thread (through threadpoolctl): OpenBLAS 0.3.31 ignored a restore made
    from a thread that had run products under the limit.  Without threadpoolctl, or with a BLAS it cannot
    limit, nothing changes.
    """
    if not apply:
        yield
        return
    with _STATE["lock"]:
        if _STATE["users"] == 0:
            _STATE["limiter"] = _on_helper(_limit_blas)
        _STATE["users"] += 1
    try:
        yield
    finally:
        with _STATE["lock"]:
            _STATE["users"] -= 1
            limiter = _STATE["limiter"] if _STATE["users"] == 0 else None
            if limiter is not None:
                _STATE["limiter"] = None
                _on_helper(lambda: _restore(limiter))


def _limit_blas():
    """numpy's BLAS limited to one thread: the threadpoolctl limiter to restore, or ``None``."""
    try:
        if _STATE["controller"] is None:  # (finds the loaded libraries: 1 ms)
            from threadpoolctl import ThreadpoolController
            _STATE["controller"] = ThreadpoolController()
        return _STATE["controller"].limit(limits=1, user_api="blas")
    except Exception:  # no threadpoolctl, or nothing it can limit  # noqa: BLE001
        return None


def _restore(limiter):
    try:
        limiter.restore_original_limits()
    except Exception:  # noqa: BLE001  (a library it can no longer set: nothing to undo)
        pass


def _on_helper(fn):
    """``fn()`` on the one helper thread of :func:`one_blas_thread` (started on first use); inline once the
    interpreter is shutting down.  Interrupted while waiting, a limit that ``fn`` then sets is lifted."""
    if _STATE["helper"] is None:
        _STATE["helper"] = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jaxl1-blas")
    try:
        future = _STATE["helper"].submit(fn)
    except RuntimeError:  # cannot schedule new futures after interpreter shutdown
        return fn()
    try:
        return future.result()
    except BaseException:
        future.add_done_callback(lambda f: f.exception() is None and f.result() is not None and _restore(f.result()))
        raise


def host_gram(X, s):
    """``X' diag(s) X`` computed by numpy on the host (``s >= 0``)."""

    product = lambda x, s: numpy_gram(np.asarray(x), np.asarray(s))
    out = jax.ShapeDtypeStruct((X.shape[1], X.shape[1]), X.dtype)
    return jax.pure_callback(product, out, X, s, vmap_method="sequential")


def xla_gram(Xc, s):
    """``Xc' diag(s) Xc`` in XLA."""
    return gram(Xc, Xc * s[:, None])


def weighted_gram(Xc, s):
    """``Xc' diag(s) Xc``: in XLA, or for a large product on a CPU by the host's BLAS.

    The host's product is a host callback, and JAX keeps no program that holds one in its persistent
    compilation cache: a program that has the moments already (:func:`moments_gram`) takes :func:`xla_gram`.
    """
    n, p = Xc.shape
    # chosen when tracing, for the default backend: both compute the same matrix, so a program placed on
    # another backend is still right (lowering both branches with ``platform_dependent`` cost 0.15 s)
    if n * p * p < GRAM_HOST_MIN or jax.default_backend() != "cpu":
        return xla_gram(Xc, s)
    return host_gram(Xc, s)


def moments_gram(X, s, v, moments, *, fit_intercept, scale):
    """The Gram form's ``(A, c, x_mean, d)`` from the moments ``(R, u, mag)`` (see :func:`prepare`), ``v`` the
    weighted centred response.

    ``sum_i s_i (x_i - m)(x_i - m)' = R - (m - u)(m - u)'`` for the weighted mean ``m`` (``s`` sums to 1); the
    column scales and the centred variances come from the moments too, so that ``X`` is read (its weighted
    mean, its largest entries, its product with ``v``) but not copied.
    """
    dtype, p = X.dtype, X.shape[1]
    R, u, mag = moments[:3]
    # the columns' largest magnitudes: given by a caller that solves several runs on one X (cross-validation)
    top = moments[3] if len(moments) > 3 else column_peaks(X, jnp)
    x_mean = s @ X if fit_intercept else jnp.zeros(p, dtype)
    e = x_mean - u if fit_intercept else jnp.zeros(p, dtype)
    sd2 = jnp.diagonal(R) - jnp.square(e)  # the centred columns' second moments
    d = jnp.where((sd2 > 0) & jnp.isfinite(sd2), jnp.sqrt(jnp.abs(sd2)), 1.0) if scale else jnp.ones(p, dtype)
    # the differences lose eps * mag / sd^2 of a column's accuracy: a column (nearly) constant on these rows
    # but not on the others takes the Gram matrix from the rows instead (a constant column, whose centred
    # values are rounding noise, too)
    noise = 16 * jnp.finfo(dtype).eps * top
    exact = jnp.all(mag <= MOMENTS_LOSS_MAX * sd2) & jnp.all(sd2 > jnp.square(noise))
    # (the rows' product in XLA, not by a host callback: the program stays cacheable; see weighted_gram)
    if is_bcoo(X):  # a sparse X's moments are exact already (sparse_moments): its rows' product would be dense
        A = (R - jnp.outer(e, e)) / jnp.outer(d, d)
    else:
        A = jax.lax.cond(exact, lambda: (R - jnp.outer(e, e)) / jnp.outer(d, d),
                         lambda: xla_gram((X - x_mean) / d, s))
    # (X - m)' v / d without the centred copy: v sums to about 0 with an intercept (y is centred), and
    # centring X's entries would round them by as much (eps |m|) as this does
    vs = jnp.sum(v, axis=0)
    c = rmul(v, X) - (jnp.outer(x_mean, vs) if v.ndim == 2 else vs * x_mean)
    if is_bcoo(X):  # a column zeroed as constant (sparse_moments): no curvature, so no slope either
        flat = jnp.diagonal(R) == 0
        c = jnp.where(flat[:, None] if v.ndim == 2 else flat, 0.0, c)
    return A, c / (d[:, None] if v.ndim == 2 else d), x_mean, d


def _peaks_of(a):
    return np.maximum(np.max(a, axis=0), -np.min(a, axis=0))


_PEAKS = (None, None)  # (a weak reference to the last jax array whose column peaks numpy computed, the peaks)


def column_peaks(X, xp, fresh=False):
    """``max |X|`` per column (in numpy without an ``|X|`` copy; NaN where a column holds one).

    In numpy, the peaks of the last jax array are kept: a call's data check computes them (``fresh``) and
    its magnitude check and host moments read them, one pass over ``X`` for all three (20000x1000: five
    passes were 45 ms).  Only the call that computed them may read them: on a CPU a jax array put from a
    64-byte-aligned numpy array shares the caller's buffer, which the caller may change between calls.
    """
    global _PEAKS
    if xp is not np:
        return jnp.max(jnp.abs(X), axis=0)
    last, peaks = _PEAKS
    if not fresh and last is not None and last() is X:
        return peaks
    peaks = _peaks_of(np.asarray(X))
    if isinstance(X, jax.Array):
        _PEAKS = (weakref.ref(X), peaks)
    return peaks


def host_moments(X, s, fit_intercept):
    """``(R, u, mag, top)`` for :func:`prepare` from a concrete ``X``, by numpy's BLAS before the compiled
    program: the second moments about the weighted mean ``u`` (zeros without an intercept), their diagonal
    and the columns' largest magnitudes (the structure cross-validation's runs pass: one program for both).

    Inside a program the product goes through a host callback, which copies ``X`` (0.11 s of 20000x1000's
    0.44 s); here numpy reads it in place.  ``None`` when the moments overflow (the program then scales the
    columns first).  A sparse ``X`` takes :func:`sparse_moments` (``None``: the data form instead).
    """
    if is_bcoo(X):
        return sparse_moments(X, s, fit_intercept)
    top = column_peaks(X, np)  # (the jax array's: the call's data check computed them)
    X, s = np.asarray(X), np.asarray(s)
    u = s @ X if fit_intercept else np.zeros(X.shape[1], X.dtype)
    R = numpy_gram(X - u if fit_intercept else X, s)
    mag = np.diagonal(R).copy()
    return (R, u, mag, top) if np.all(np.isfinite(mag)) else None


def host_moments_apply(X, form) -> bool:
    """:func:`host_moments` for ``X``: the Gram form on a CPU, a dense ``X`` held here (numpy, or a jax array
    on one device, not traced) and a product large enough (``GRAM_HOST_MIN``); a sparse ``X`` in the Gram
    form always (:func:`sparse_gram_choice` allowed that form: no program computes its Gram matrix)."""
    if is_bcoo(X):
        return form == "gram"
    if form != "gram" or jax.default_backend() != "cpu" or isinstance(X, jax.core.Tracer):
        return False
    if isinstance(X, jax.Array) and len(X.devices()) != 1:
        return False
    n, p = np.shape(X)
    return n * p * p >= GRAM_HOST_MIN


SPARSE_GRAM_MAX = 4096  # the most columns of a sparse X that form="auto" solves in the Gram form (128 MiB)


SPARSE_GRAM_FILL = 64  # ... and only while its Gram matrix holds at most this many times X's stored entries
# (100-strength tf-idf-like paths, Gram form against data form: 20000x2000 with 156,152 stored entries, 25.6 times
# fewer than p^2, 0.84 s against 4.09 s; with 39,743 (100.6), 0.60 s against 0.59 s; 20000x4000 with 79,250 (202),
# 3.55 s against 1.45 s)


SPARSE_EXACT_MAX = 64  # the most columns whose centred products sparse_moments recomputes from the rows


def sparse_gram_choice(X, s):
    """Whether a sparse ``X`` (a BCOO; ``s`` its weights) can take the Gram form here, and whether ``form="auto"``
    takes it: ``None`` where its moments cannot be computed before the program (``X`` or ``s`` traced, not on a
    CPU, or on several devices), else ``True`` for ``n >= p``, at most ``SPARSE_GRAM_MAX`` columns and a Gram
    matrix of at most ``SPARSE_GRAM_FILL`` times the stored entries, ``False`` otherwise (``form="gram"`` only).

    The moments are scipy's sparse product (:func:`sparse_moments`); a solve in the Gram form then costs
    ``O(p^2)`` per pass, where the data form's products scatter every stored entry (XLA:CPU's scatter-add:
    about 3 ns an entry).  A tf-idf-like 50000x1000 X with 479,181 stored entries: a 100-strength path took
    0.165 s in the Gram form against 9.15 s in the data form.
    """
    if not is_bcoo(X) or jax.default_backend() != "cpu":
        return None
    if any(isinstance(a, jax.core.Tracer) for a in (X.data, X.indices, s)):
        return None
    if isinstance(X.data, jax.Array) and len(X.data.devices()) != 1:
        return None
    n, p = X.shape
    stored = int(np.count_nonzero(np.asarray(X.indices)[:, 0] < n))  # (not BCOO's padding, at out-of-range rows)
    return bool(n >= p and p <= SPARSE_GRAM_MAX and p * p <= SPARSE_GRAM_FILL * max(stored, 1))


def sparse_moments(X, s, fit_intercept):
    """:func:`host_moments` for a concrete sparse ``X`` (a BCOO), by scipy's sparse product: ``(R, u, mag, top)``
    with ``R`` the second moments about the weighted mean ``u`` (zeros without an intercept), or ``None`` when
    they overflow.

    ``R = X' S X - u u'`` (``s`` sums to 1): the centred matrix would be dense.  Its diagonal is set to the
    centred second moments summed as non-negative terms (the stored entries' ``s_i (x_ij - u_j)^2`` and ``u_j^2``
    times the weight of the rows without an entry, none when the column is stored on every weighted row), and a
    column whose difference would lose more than ``MOMENTS_LOSS_MAX`` eps (a column nearly constant on nearly
    every row) has its products recomputed from its centred values, ``X' (s * (x_j - u_j)) - u sum(s * (x_j -
    u_j))``; a column constant on the weighted rows (its centred second moment within rounding of its largest
    value there) has its row and column set to zero, as a zero column has (:func:`moments_gram` then zeroes its
    right-hand side: its coefficient stays 0).  ``mag`` holds the uncentred diagonal, ``top`` the columns' largest
    magnitudes on the weighted rows; the Gram form's program takes ``R`` as it is.
    """
    entries = stored_entries(X)
    with np.errstate(over="ignore", invalid="ignore"):
        return _centred_moments(_uncentred_moments(entries, X.shape, np.asarray(s)), entries, X.shape,
                                np.asarray(s), fit_intercept)


def sparse_fold_moments(X, fold_ids, weights, fit_intercept):
    """:func:`sparse_moments` for every cross-validation run from one sparse product per fold.

    ``weights[i]`` are run ``i``'s normalized training weights: the last run's ``s`` on every row, run ``i < k``'s
    ``s`` with fold ``i``'s rows (``fold_ids == i``) set to 0, divided by the rest's sum.  The folds' products
    ``P_f = X_f' S X_f`` (``S`` the last run's weights) cost one Gram matrix in all; run ``i`` takes
    ``(sum P - P_i) / keep_i`` (``keep_i`` the weight its training rows hold), or its own product where that
    difference would lose more than ``MOMENTS_LOSS_MAX`` eps of a diagonal entry, and is then centred and checked
    as :func:`sparse_moments` does, on its own weights.  A list of ``(R, u, mag, top)``, or ``None`` when one
    overflows.
    """
    entries = stored_entries(X)
    rows = entries[0]
    s = np.asarray(weights[-1])
    k = len(weights) - 1
    fold_of = np.asarray(fold_ids)[rows]
    with np.errstate(over="ignore", invalid="ignore"):
        parts = [_uncentred_moments(tuple(a[fold_of == f] for a in entries), X.shape, s) for f in range(k)]
        total = functools.reduce(np.add, parts)
        out = []
        for i, w in enumerate(weights):
            w = np.asarray(w)
            M = total
            if i < k:
                keep = float(np.sum(np.where(np.asarray(fold_ids) == i, 0.0, s)))
                M = (total - parts[i]) / max(keep, np.finfo(s.dtype).tiny)
                # the difference loses eps times what was subtracted: where the fold held nearly all of a column's
                # weight (a column large on its rows only) the run takes its own product
                if np.any(np.diagonal(total) > MOMENTS_LOSS_MAX * keep * np.diagonal(M)):
                    M = _uncentred_moments(entries, X.shape, w)
            out.append(_centred_moments(M, entries, X.shape, w, fit_intercept))
    return None if any(r is None for r in out) else out


def _uncentred_moments(entries, shape, s):
    """``X' S X`` (dense) of the entries ``(rows, cols, data)`` by scipy's sparse product."""
    import scipy.sparse as sp

    rows, cols, data = entries
    Z = sp.csr_matrix((data * np.sqrt(s)[rows], (rows, cols)), shape=shape)
    return np.asarray((Z.T @ Z).toarray(), data.dtype)


def _centred_moments(M, entries, shape, s, fit_intercept):
    """``(R, u, mag, top)`` from the uncentred moments ``M = X' S X`` for the weights ``s`` (see
    :func:`sparse_moments`); ``M`` is not changed."""
    import scipy.sparse as sp

    rows, cols, data = entries
    n, p = shape
    dtype = data.dtype
    sw = s[rows]
    R = M.copy()
    mag = np.diagonal(M).copy()
    top = np.zeros(p, dtype)
    np.maximum.at(top, cols, np.where(sw > 0, np.abs(data), 0.0))  # (the rows weighted 0 do not count)
    u = np.zeros(p, dtype)
    if fit_intercept:
        u = np.bincount(cols, weights=data * sw, minlength=p).astype(dtype)
        seen = np.bincount(cols, weights=sw, minlength=p)
        # the weight of the rows without an entry: none when every weighted row has one (1 - seen would
        # leave rounding there, and a column stored as one value would not read as constant)
        everywhere = np.bincount(cols, weights=sw > 0, minlength=p) == np.count_nonzero(s > 0)
        missing = np.where(everywhere, 0.0, np.maximum(1.0 - seen, 0.0))
        sd2 = (np.bincount(cols, weights=sw * np.square(data - u[cols]), minlength=p)
               + np.square(u) * missing).astype(dtype)
        R -= np.outer(u, u)
        const = sd2 <= np.square(16 * np.finfo(dtype).eps * top)
        inexact = np.flatnonzero(~const & (mag > MOMENTS_LOSS_MAX * sd2))
        if inexact.size > SPARSE_EXACT_MAX:
            return None
        if inexact.size:
            Xt = sp.csr_matrix((data, (cols, rows)), shape=(p, n))  # X' as rows, for X' z
            Xc = Xt[inexact].toarray()  # the inexact columns, dense (k, n)
            zs = s * (Xc - u[inexact, None])
            fixed = (Xt @ zs.T) - np.outer(u, zs.sum(axis=1))  # (p, k)
            R[:, inexact] = fixed
            R[inexact, :] = fixed.T
        R[const, :] = 0.0
        R[:, const] = 0.0
        R[np.diag_indices(p)] = np.where(const, 0.0, sd2)
    if not (np.all(np.isfinite(R)) and np.all(np.isfinite(u))):
        return None
    return R, u, mag, top


def column_scales(Xc, s):
    """Weighted column norms ``sqrt(sum_i s_i Xc_ij^2)``, computed without overflow; ``1`` for a zero column.

    Each column is divided by its largest entry before it is squared, so values up to the dtype's
    largest number give a finite scale.
    """
    def guarded():  # two more passes over X: only when the plain sums overflowed
        m = jnp.max(jnp.abs(Xc), axis=0)
        m = jnp.where((m > 0) & jnp.isfinite(m), m, 1.0)
        return m * jnp.sqrt(s @ jnp.square(Xc / m))

    d = jnp.sqrt(s @ jnp.square(Xc))
    d = jax.lax.cond(jnp.all(jnp.isfinite(d)), lambda: d, guarded)
    return jnp.where((d > 0) & jnp.isfinite(d), d, 1.0).astype(Xc.dtype)


def standardizing_scale(X, s, fit_intercept):
    """``1 / sd`` per column, ``sd`` the weighted standard deviation (``ddof=0``; about 0 without an intercept,
    as glmnet does), ``1`` for a constant column: ``ColumnScaled(penalty, standardizing_scale(...))`` is
    the penalty on the coefficients of the standardized columns, ``P(sd * w)``.

    A column is constant when its ``sd`` is at the rounding level of its values (``16 eps max|x_j|``):
    centring leaves rounding noise there, which standardizing would blow up.
    """
    if is_bcoo(X):  # the sparse design's own column norms, centred inside its products
        sd = sparse_design(X, s, fit_intercept=fit_intercept, scale=True)[2]
        biggest = jax.ops.segment_max(jnp.abs(X.data), X.indices[:, 1], num_segments=X.shape[1])
        noise = 16 * jnp.finfo(X.dtype).eps * jnp.where(jnp.isfinite(biggest), biggest, 0.0)
        return 1.0 / jnp.where(sd > noise, sd, 1.0)
    Xc = X - s @ X if fit_intercept else X
    sd = column_scales(Xc, s)
    noise = 16 * jnp.finfo(X.dtype).eps * jnp.max(jnp.abs(X), axis=0)
    return 1.0 / jnp.where(sd > noise, sd, 1.0)


def scalable(pen) -> bool:
    """The solver works on unit-norm columns for a penalty separable over the coefficients' rows (one with
    ``scaled``: the separable ones, and :class:`jaxl1.L21` on a ``(p, K)`` coefficient matrix)."""
    return hasattr(pen, "scaled")


def null_dual(y, s):
    """``u0 = s (ybar - y)``, the loss's gradient at the model of the weighted mean: it sums to 0 over the samples and
    lies inside the conjugate's domain of the logistic, multinomial and Poisson losses (see ``DUAL_RANGE``)."""
    return rows_of(s, y) * ((s @ y) / jnp.sum(s) - y)


def rmul(u, A):
    """``u' A`` for ``u`` of shape ``(n,)`` or ``(n, K)``: ``(p,)`` or ``(p, K)``.

    Written ``u @ A`` (and ``(u' @ A)'`` for a 2-D ``u``) rather than ``A' @ u``: XLA:CPU runs the
    transposed product far slower.
    """
    return u @ A if jnp.ndim(u) == 1 else (u.T @ A).T


def prepare(X, y, s, *, loss, fit_intercept, form, scale=True, offset=None, moments=None):
    """Centre, scale the columns to unit norm (``scale``), build the Gram matrix if asked, bound ``L``.

    ``offset`` (shaped like ``y``, or ``None``) is added to the linear predictor ``z = Xw + b + offset``
    (glmnet's ``offset``); for a quadratic loss it is taken out of ``y`` instead, which is the same.
    For a loss without a curvature bound (``curvature = inf``) ``L`` is the curvature at the null model,
    a starting point for the step searches of the solvers.

    With ``scale`` the problem is held in the coordinates ``u = d * w`` (``d`` from :func:`column_scales`):
    column ``j`` of ``A`` is divided by ``d_j``, and the penalty is taken in the same coordinates by the
    solver (``pen.scaled(d)``).  Every coordinate then has unit curvature in the squared loss, so the
    step sizes, the working-set ranking and the inner tolerances do not depend on the columns' units.

    ``moments`` (Gram form only) is ``(R, u, mag)`` or ``(R, u, mag, top)``: the second moments
    ``(X - u)' S (X - u)`` of ``X`` about a centre ``u`` (zeros without an intercept), computed by the caller;
    the Gram matrix is then derived from them in ``O(p^2)`` instead of ``O(n p^2)`` (``mag``, per column, the
    size of the terms ``R`` is the difference of; a column that would lose more than ``MOMENTS_LOSS_MAX`` eps
    takes the rows' product; ``top``, optional, ``max |X|`` per column).
    Cross-validation gets every fold's this way from one pass over the rows (:func:`fold_moments`), and a
    large concrete ``X`` on a CPU gets them from numpy (:func:`host_moments`).
    """
    loss = get_loss(loss)
    dtype = X.dtype
    p = X.shape[1]
    zero = jnp.zeros([], dtype)
    squared = is_quadratic(loss)
    o = jnp.zeros_like(y) if offset is None else jnp.broadcast_to(offset, y.shape).astype(dtype)
    if squared:  # ||y - (Xw + b + o)||: the offset is taken out of y
        y, o = y - o, jnp.zeros_like(o)
    # with an intercept the columns are centred (the intercept absorbs x_mean . w), which keeps the
    # problem well conditioned when features sit far from zero; the squared loss also centres y
    y_mean = s @ y if (squared and fit_intercept) else zero
    yc = y - y_mean
    sy = rows_of(s, yc)
    if form == "gram" and moments is not None:  # the Gram matrix from the moments, X read but not copied
        Xc = x_mean = d = None
    elif is_bcoo(X):  # sparse: centred and scaled inside the products (the Gram form only from moments)
        Xc, x_mean, d = sparse_design(X, s, fit_intercept=fit_intercept, scale=scale)
    else:
        x_mean = s @ X if fit_intercept else jnp.zeros(p, dtype)
        Xc = X - x_mean if fit_intercept else X
        d = column_scales(Xc, s) if scale else jnp.ones(p, dtype)
        if scale:
            Xc = Xc / d
    if form == "gram":
        if moments is None:
            A, c = weighted_gram(Xc, s), rmul(sy * yc, Xc)
        else:
            A, c, x_mean, d = moments_gram(X, s, sy * yc, moments, fit_intercept=fit_intercept, scale=scale)
        yy = 0.5 * jnp.sum(sy * yc * yc)
        L = power_iteration(lambda v: A @ v, start_vector(p, dtype)) * L_SAFETY
        return Problem(A, c, yc, s, yy, x_mean, y_mean, L, yy, d, o, low_gram(A, c))
    fit_b = fit_intercept and not squared
    b0 = intercept_of(loss, yc, o, s) if fit_b else jnp.zeros(yc.shape[1:], dtype)
    # the curvature weights of the samples: s times the loss's bound, or without a bound the loss's own
    # curvature at the null model (largest over the classes of a 2-D y)
    bounded = bool(np.isfinite(loss.curvature))
    h = s * loss.curvature if bounded else loss.hess(yc, o + b0, s)
    h = h if h.ndim == 1 else jnp.max(h, axis=1)
    if fit_b:
        def op(v):
            z = Xc @ v[:-1] + v[-1]
            return jnp.concatenate([(h * z) @ Xc, jnp.sum(h * z)[None]])

        L0 = power_iteration(op, start_vector(p + 1, dtype))
    else:
        L0 = power_iteration(lambda v: (h * (Xc @ v)) @ Xc, start_vector(p, dtype))
    L = L0 * L_SAFETY
    P0 = loss.value(yc, o + b0, s)
    c = jnp.zeros((p,) + yc.shape[1:], dtype)
    if fit_b and hasattr(loss, "DUAL_RANGE"):  # the null model's dual point: its A'u0, once
        c = rmul(null_dual(yc, s), Xc)  # (see solvers._gap._inside_domain)
    return Problem(Xc, c, yc, s, zero, x_mean, y_mean, L, P0, d, o)


def choose_form(loss, n, p, form, sparse=False, gram=None):
    """The Gram form for a quadratic loss when ``n >= p``, else the data form.

    A sparse ``X`` takes the Gram form only where the caller computes its moments before the program
    (:func:`sparse_moments`; a program cannot form a sparse design's Gram matrix): ``gram`` is then what
    :func:`sparse_gram_choice` says, ``None`` (the data form only), ``False`` (the Gram form on request) or
    ``True`` (``"auto"`` takes it too).
    """
    if form not in ("auto", "gram", "data"):
        raise ValueError(f"form must be 'auto', 'gram' or 'data', got {form!r}")
    squared = is_quadratic(get_loss(loss))
    if form == "gram" and not squared:
        raise ValueError("form='gram' needs a quadratic loss (loss='squared')")
    if form == "gram" and sparse and gram is None:
        raise ValueError("form='gram' needs a dense X, or a sparse X given by value on a CPU to fit, fit_path or "
                         "cross_validate (its Gram matrix is computed before the solve); here a sparse X is solved in "
                         "the data form (form='auto' or 'data')")
    if form == "auto":
        return "gram" if (squared and n >= p and (not sparse or bool(gram))) else "data"
    return form


GRAM_WS_SIZE = 64  # the first round size in the Gram form (then 4x, then every coordinate)


def default_ws_size(loss, n, p, form) -> int:
    """The working-set size used when ``ws_size=None``: in the Gram form, rounds of 64 coordinates while
    the support is small (then 256, then all: see :func:`jaxl1.solvers._working_set.round_sizes`)."""
    if form == "gram":
        return min(p, GRAM_WS_SIZE)
    return int(min(p, max(64, 1 << int(np.ceil(np.log2(max(min(n, p), 2)))))))


def intercept_out(prob, w, b, fit_intercept, squared):
    if not fit_intercept:
        return jnp.zeros_like(b)
    if squared:
        return prob.y_mean - prob.x_mean @ w
    return b - prob.x_mean @ w


def init_intercept(prob, loss, fit_b, w0):
    loss = get_loss(loss)
    if not fit_b:
        return jnp.zeros(w0.shape[1:], w0.dtype)
    return intercept_of(loss, prob.y, prob.A @ (w0 * rows_of(prob.d, w0)) + prob.o, prob.s)

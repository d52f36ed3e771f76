"""Several devices: the grid, the rows or the folds spread over 4 forced CPU devices, and two processes
joined by ``jax.distributed`` on loopback.  Each check runs in a subprocess (the device count is fixed
when JAX starts) and compares with the same solve on one device, in float64."""

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_FOUR_DEVICES = """
import os, re
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
import jaxl1
from jaxl1 import _design, path as P
from jaxl1._validation import check_folds
from sklearn.datasets import load_diabetes

X, y = load_diabetes(return_X_y=True)
X, y = X[:441], y[:441]  # rows not a multiple of 4: the row blocks are padded
labels = (y > np.median(y)).astype(float)
assert len(jax.devices()) == 4
one = jax.devices()[:1]
meshes = []  # the sizes of the meshes shard_map is called with
_shard_map = jax.shard_map
jax.shard_map = lambda f, **kw: (meshes.append(kw["mesh"].devices.size), _shard_map(f, **kw))[1]
kw = dict(tol=1e-12, max_iter=100_000)

# the grid: 12 strengths in blocks of 3, the result sharded along them
single = {"squared": jaxl1.fit_path(X, y, n_lambdas=12, devices=one, **kw),
          "logistic": jaxl1.fit_path(X, labels, loss="logistic", n_lambdas=10, devices=one, **kw)}
spread = jaxl1.fit_path(X, y, n_lambdas=12, **kw)
assert meshes == [4], meshes
assert len(spread.coef.sharding.device_set) == 4 and spread.coef.sharding.spec[0] == "lambdas"
assert len(spread.coef.addressable_shards) == 4 and spread.coef.addressable_shards[0].data.shape == (3, 10)
np.testing.assert_allclose(spread.coef, single["squared"].coef, rtol=1e-8, atol=1e-8)
np.testing.assert_allclose(spread.intercept, single["squared"].intercept, rtol=1e-8)
assert bool(spread.converged.all())
# differentiable as on one device (implicit differentiation at every solution)
grad = lambda devices: jax.grad(lambda t: jnp.sum(jaxl1.fit_path(X, y, lambdas=jnp.exp(t), devices=devices,
                                                                  **kw).coef ** 2))(jnp.log(single["squared"].lambdas))
np.testing.assert_allclose(grad(None), grad(one), rtol=1e-7)
# logistic, 10 strengths: padded to 12, trimmed back
spread = jaxl1.fit_path(X, labels, loss="logistic", n_lambdas=10, **kw)
assert spread.coef.shape == (10, 10) and bool(spread.converged.all())
np.testing.assert_allclose(spread.coef, single["logistic"].coef, rtol=1e-8, atol=1e-8)
np.testing.assert_allclose(spread.intercept, single["logistic"].intercept, rtol=1e-8, atol=1e-8)

# the rows: each device holds its own rows
for loss, target, K in [("squared", y, 12), ("logistic", labels, 10)]:
    rows = jaxl1.fit_path(X, target, loss=loss, n_lambdas=K, shard="rows", **kw)
    np.testing.assert_allclose(rows.coef, single[loss].coef, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(rows.intercept, single[loss].intercept, rtol=1e-8, atol=1e-8)
# the data form iterates on X itself: its program reduces over the rows and never gathers X
spec = P._path_spec(X, labels, "logistic", 1.0, None, 10, 1e-3, True, None, 1e-12, 100_000, None, False, "auto",
                    None, 10, None)
Xs, ys, ss, o = _design.shard_rows(jax.devices(), spec.X, spec.y, spec.s, spec.offset)
assert Xs.addressable_shards[0].data.shape == (111, 10)
hlo = P._path_jit.lower(*spec._replace(X=Xs, y=ys, s=ss, offset=o).arrays, devices=(),
                        **spec.options).compile().as_text()
assert "all-reduce" in hlo and "all-gather" not in hlo
res = jaxl1.fit(X, labels, jaxl1.L1(0.02), loss="logistic", devices=jax.devices(), **kw)
ref = jaxl1.fit(X, labels, jaxl1.L1(0.02), loss="logistic", **kw)
np.testing.assert_allclose(res.coef, ref.coef, rtol=1e-8, atol=1e-8)
assert len(res.coef.sharding.device_set) == 4 and bool(res.converged)

for bad, message in [(dict(shard="folds"), "shard must be"), (dict(devices=[]), "devices must"),
                     (dict(shard="rows", X=sp.csr_matrix(X)), "dense X")]:
    try:
        jaxl1.fit_path(bad.pop("X", X), y, n_lambdas=4, **bad)
    except ValueError as err:
        assert message in str(err), err
    else:
        raise AssertionError(bad)

# the folds
meshes.clear()
kw = dict(n_folds=5, n_lambdas=12, tol=1e-12, max_iter=100_000)
sharded = jaxl1.cross_validate(X, y, **kw)
single = jaxl1.cross_validate(X, y, devices=one, **kw)
assert meshes == [4], meshes  # the sharded call used all four devices, the single one no mesh
np.testing.assert_allclose(sharded.fold_scores, single.fold_scores, rtol=1e-9)
np.testing.assert_allclose(sharded.path.coef, single.path.coef, rtol=1e-9, atol=1e-9)
# fold k by itself: a path on the other folds, scored on fold k
folds, _ = check_folds(None, 5, len(y))
k = 3
path = jaxl1.fit_path(X[folds != k], y[folds != k], lambdas=sharded.lambdas, devices=one, tol=1e-12,
                      max_iter=100_000)
mse = np.mean((y[folds == k, None] - np.asarray(path.predict(X[folds == k]))) ** 2, axis=0)
np.testing.assert_allclose(sharded.fold_scores[k], mse, rtol=1e-8)

# stability selection: 7 subsamples over 4 devices (padded to 8, the padding not counted), dense and sparse
meshes.clear()
kw = dict(n_subsamples=7, n_lambdas=8, threshold=0.7, random_state=0, weakness=0.6, tol=1e-12, max_iter=100_000)
spread = jaxl1.stability_selection(X, y, **kw)
assert meshes == [4], meshes
single = jaxl1.stability_selection(X, y, devices=one, **kw)
np.testing.assert_allclose(spread.probabilities, single.probabilities, atol=1e-12)
np.testing.assert_allclose(spread.average_selected, single.average_selected, atol=1e-12)
assert spread.converged.shape == (7, 8) and bool(spread.converged.all())
counts = sum((np.asarray(jaxl1.fit_path(X[r] / f, y[r], lambdas=spread.lambdas, devices=one, tol=1e-12,
                                        max_iter=100_000).coef) != 0)
             for r, f in zip(np.asarray(spread.subsamples), np.asarray(spread.factors)))
np.testing.assert_allclose(spread.probabilities, counts / 7, atol=1e-12)
sparse = jaxl1.stability_selection(sp.csr_matrix(X), y, **kw)
np.testing.assert_allclose(sparse.probabilities, counts / 7, atol=1e-12)

# inputs committed to one device (jax.device_put): by default the work runs there, as JAX runs a computation
# where its committed arguments are; spread over several devices, such inputs are copied to each of them
d2 = jax.devices()[2]
Xc, yc = jax.device_put(X, d2), jax.device_put(y, d2)
from jax.experimental import sparse as jsparse
Bc = jax.device_put(jsparse.BCOO.fromdense(X), d2)
kw = dict(n_lambdas=12, tol=1e-12, max_iter=100_000)
ref = jaxl1.fit_path(X, y, devices=one, **kw)
for args, extra, mesh in [((Xc, y), {}, []), ((X, yc), {}, []), ((Bc, y), {}, []),
                          ((Xc, yc), dict(devices=jax.devices()), [4]), ((Bc, yc), dict(devices=jax.devices()), [4]),
                          ((Xc, y), dict(shard="rows", devices=jax.devices()), [])]:
    meshes.clear()
    got = jaxl1.fit_path(*args, **extra, **kw)
    assert meshes == mesh, (meshes, extra)
    if not extra:
        assert got.coef.devices() == {d2}, got.coef.devices()
    np.testing.assert_allclose(got.coef, ref.coef, rtol=1e-8, atol=1e-8)
cv_ref = jaxl1.cross_validate(X, y, devices=one, n_folds=5, **kw)
for extra in ({}, dict(devices=jax.devices())):
    cv = jaxl1.cross_validate(Xc, yc, n_folds=5, **extra, **kw)
    np.testing.assert_allclose(cv.fold_scores, cv_ref.fold_scores, rtol=1e-8)
kw = dict(n_subsamples=7, n_lambdas=8, random_state=0, tol=1e-12, max_iter=100_000)
st_ref = jaxl1.stability_selection(X, y, devices=one, **kw)
for extra in ({}, dict(devices=jax.devices())):
    st = jaxl1.stability_selection(Xc, y, **extra, **kw)
    np.testing.assert_allclose(st.probabilities, st_ref.probabilities, atol=1e-12)
rel_ref = jaxl1.cross_validate_relaxed(X, y, n_lambdas=6, devices=one)
rel = jaxl1.cross_validate_relaxed(Xc, yc, n_lambdas=6, devices=jax.devices())
np.testing.assert_allclose(rel.mean_score, rel_ref.mean_score, rtol=1e-7)
print("ok")
"""


def test_paths_rows_and_folds_over_four_devices():
    out = subprocess.run([sys.executable, "-c", _FOUR_DEVICES], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_on_loopback_give_the_one_device_answer():
    script = str(ROOT / "benchmarks" / "multihost.py")
    port = str(_free_port())
    args = ["--processes", "2", "--port", port, "--local-devices", "2", "--n-lambdas", "8"]
    procs = [subprocess.Popen([sys.executable, script, "--process-id", str(i), *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in (1, 0)]
    outs = [proc.communicate() for proc in procs]
    for proc, (_, err) in zip(procs, outs):
        assert proc.returncode == 0, err[-3000:]
    text = outs[1][0]
    assert "processes 2, global devices 4, local 2" in text, text
    diffs = {line.split(":")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if "difference" in line}
    assert set(diffs) == {"fit_path, strengths spread", "fit_path, rows spread", "cross_validate, folds spread"}
    assert all(d <= 1e-8 for d in diffs.values()), diffs

"""The ``jaxl1`` command: the main cases through ``python -m jaxl1``, the rest in-process.

Fits are kept small (few strengths) and the squared-loss cases all use data of
the diabetes set's shape (442 x 10), so that the path is compiled once between
the test process and the subprocesses (they share the compilation cache).
"""

import csv
import os
import signal
import subprocess
import sys
import tempfile
import warnings

import jax
import numpy as np
import pytest

import jaxl1
from jaxl1 import cli

N_LAMBDAS = "5"
NAMES = ["x1", "x2", "noise, with a comma", 'quoted "name"'] + [f"z{j}" for j in range(6)]


def _env():
    """The environment of a subprocess that shares the tests' compilation cache."""
    env = dict(os.environ)
    cache = jax.config.jax_compilation_cache_dir
    if cache:
        env["JAX_COMPILATION_CACHE_DIR"] = cache
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.2"
    else:  # the command's own cache, in a directory of this run alone (not ~/.cache, not another worker's)
        env["JAXL1_CACHE_DIR"] = tempfile.mkdtemp(prefix="jaxl1-cli-cache-")
    return env


def _run(*args, tmp_path):
    """Run ``python -m jaxl1 ARGS`` in ``tmp_path``; the subprocess shares the tests' compilation cache."""
    return subprocess.run([sys.executable, "-m", "jaxl1", *args], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True)


def _problem(n=442, seed=0, logistic=False):
    rng = np.random.default_rng(seed)
    p = len(NAMES)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3.0, p) + rng.normal(size=p)
    z = 2.0 * X[:, 0] - 1.0 * (X[:, 1] - X[:, 1].mean()) + 0.3 * X[:, 4]
    if logistic:
        return X, np.where(z + rng.normal(size=n) > 0, 1.0, -1.0)  # labels -1/+1, as users often have them
    return X, z + 0.5 * rng.normal(size=n)


def _write_csv(path, X, y, target="y"):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(NAMES[:2] + [target] + NAMES[2:])  # the target in the middle
        for row, t in zip(X, y, strict=True):
            cells = [repr(float(v)) for v in row]
            w.writerow(cells[:2] + [repr(float(t))] + cells[2:])
    return path


def _load(path):
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def _assert_path_matches(saved, X, y, **kw):
    ref = jaxl1.fit_path(X, y, n_lambdas=int(N_LAMBDAS), **kw)
    np.testing.assert_allclose(saved["lambdas"], ref.lambdas, rtol=1e-12)
    scale = np.abs(np.asarray(ref.coef)).max() + 1.0
    np.testing.assert_allclose(saved["coef"], ref.coef, rtol=1e-8, atol=1e-8 * scale)
    np.testing.assert_allclose(saved["intercept"], ref.intercept, rtol=1e-8, atol=1e-8 * scale)
    np.testing.assert_array_equal(saved["coef"] != 0, np.asarray(ref.coef) != 0)
    assert saved["gap"].shape == (int(N_LAMBDAS),) and saved["coef"].dtype == np.float64


def _is_png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 10_000


# --------------------------------------------------------------------------- #
# through a subprocess: the README's command, a user's CSV, one bad input
# --------------------------------------------------------------------------- #
def test_path_on_the_embedded_dataset(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from sklearn.datasets import load_diabetes

    r = _run("path", "--dataset", "diabetes", "--n-lambdas", N_LAMBDAS, "--out", "p.npz", "--plot", "p.png",
             tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("diabetes: 442 samples, 10 features")
    assert "objective" in lines[1] and "rel. gap" in lines[1] and "selected" in lines[1]
    assert len([line for line in lines if line.lstrip()[:1].isdigit()]) == int(N_LAMBDAS)
    assert "bmi, bp, s3, s5, sex, s1, s6" in r.stdout  # selected features by name, in order of entry

    data = load_diabetes()
    saved = _load(tmp_path / "p.npz")
    assert saved["feature_names"].dtype.kind == "U"
    assert saved["feature_names"].tolist() == list(data.feature_names)
    _assert_path_matches(saved, data.data, data.target)
    assert _is_png(tmp_path / "p.png")
    assert sorted(os.listdir(tmp_path)) == ["p.npz", "p.png"]  # no temporary files left


def test_cv_logistic_on_a_users_csv(tmp_path):
    pytest.importorskip("matplotlib")
    X, y = _problem(n=80, logistic=True)  # labels -1/+1
    _write_csv(tmp_path / "data.csv", X, y, target="label")
    r = _run("cv", "data.csv", "--target", "label", "--loss", "logistic", "--l1-ratio", "0.5", "--n-folds", "3",
             "--n-lambdas", N_LAMBDAS, "--select", "1se", "--out", "cv.npz", "--plot", "cv.png", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "note: target classes -1 -> 0, 1 -> 1" in r.stdout
    assert "3-fold cross-validation" in r.stdout and "held-out deviance" in r.stdout
    assert "lambda_best =" in r.stdout and "lambda_1se" in r.stdout

    saved = _load(tmp_path / "cv.npz")
    assert str(saved["loss"]) == "logistic" and float(saved["l1_ratio"]) == 0.5
    assert saved["feature_names"].tolist() == NAMES
    folds = saved["fold_scores"]
    assert folds.shape == (3, int(N_LAMBDAS))
    np.testing.assert_allclose(saved["mean_score"], folds.mean(0), rtol=1e-12)
    np.testing.assert_allclose(saved["std_score"], folds.std(0, ddof=1) / np.sqrt(3), rtol=1e-12)
    lambdas, mean, se = saved["lambdas"], saved["mean_score"], saved["std_score"]
    best = int(np.argmin(mean))
    assert float(saved["lambda_best"]) == lambdas[best]
    assert float(saved["lambda_1se"]) == lambdas[mean <= mean[best] + se[best]].max()
    assert bool(saved["converged"].all()) and bool(saved["fold_converged"].all())
    assert saved["fold_converged"].shape == (3, int(N_LAMBDAS))
    # the chosen model (--select 1se): its nonzero coefficients printed by name
    i = int(np.flatnonzero(lambdas == saved["lambda_1se"])[0])
    assert f"chosen model (lambda_1se = {lambdas[i]:.6g})" in r.stdout
    chosen = [line for line in r.stdout.split("chosen model")[1].splitlines()[1:] if line.startswith("  ")]
    assert len(chosen) == int((saved["coef"][i] != 0).sum()) >= 1
    printed = {line.rsplit(None, 1)[0].strip(): float(line.rsplit(None, 1)[1]) for line in chosen}
    assert printed == pytest.approx({NAMES[j]: saved["coef"][i, j] for j in np.flatnonzero(saved["coef"][i])},
                                    rel=1e-5)
    assert _is_png(tmp_path / "cv.png")
    assert sorted(os.listdir(tmp_path)) == ["cv.npz", "cv.png", "data.csv"]


def test_bad_input_through_a_subprocess(tmp_path):
    r = _run("path", "missing.csv", "--target", "y", "--out", "p.npz", tmp_path=tmp_path)
    assert r.returncode == 2
    assert r.stderr.splitlines() == ["jaxl1: error: missing.csv: no such file"]
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- #
# in-process
# --------------------------------------------------------------------------- #
def test_cv_reports_fold_fits_stopped_at_max_iter(tmp_path, capsys):
    # prox-Newton rounds: one iteration cannot reach the tolerance (a squared loss this small is solved
    # exactly on its support in one)
    X, y = _problem(n=80, logistic=True)
    data = _write_csv(tmp_path / "data.csv", X, y)
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        assert cli.main(["cv", str(data), "--target", "y", "--loss", "logistic", "--n-lambdas", N_LAMBDAS,
                         "--n-folds", "3", "--tol", "1e-14", "--max-iter", "1"]) == 0
    assert not raised  # (the command shows Python's warnings itself)
    captured = capsys.readouterr()
    assert "fold fits (folds x strengths) stopped at --max-iter 1" in captured.out
    # the output says it: no Python warning on stderr (its lines are the command's own, "jaxl1: ...")
    assert "ConvergenceWarning" not in captured.err
    assert all(line.startswith("jaxl1: ") for line in captured.err.splitlines())


def test_no_chosen_strength_no_chosen_row(tmp_path, capsys):
    rng = np.random.default_rng(0)  # more features than samples: no BIC, so no strength is chosen
    X, y = rng.standard_normal((20, 50)), rng.standard_normal(20)
    data = tmp_path / "wide.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"x{j}" for j in range(50)] + ["y"])
        w.writerows([[repr(float(v)) for v in row] + [repr(float(t))] for row, t in zip(X, y)])
    assert cli.main(["path", str(data), "--target", "y"]) == 0
    text = capsys.readouterr().out
    assert "no strength chosen" in text
    assert "strengths shown: every 5th and the last;" in text and "chosen one" not in text


def test_path_on_a_csv_standardized(tmp_path, capsys):
    X, y = _problem()
    data = _write_csv(tmp_path / "data.csv", X, y)
    out = tmp_path / "p.npz"
    assert cli.main(["path", str(data), "--target", "y", "--standardize", "--n-lambdas", N_LAMBDAS,
                     "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "442 samples, 10 features, target 'y'" in text and "standardized" in text
    saved = _load(out)
    Xs = (X - X.mean(0)) / X.std(0)
    _assert_path_matches(saved, Xs, y)
    np.testing.assert_allclose(saved["feature_mean"], X.mean(0))
    np.testing.assert_allclose(saved["feature_scale"], X.std(0))
    assert saved["feature_names"].tolist() == NAMES
    # the printed objective is the objective of the saved coefficients
    obj = 0.5 * np.mean((y[:, None] - Xs @ saved["coef"].T - saved["intercept"]) ** 2, 0)
    obj += saved["lambdas"] * np.abs(saved["coef"]).sum(1)
    np.testing.assert_allclose(saved["objective"], obj, rtol=1e-12)


def _bad_cases(tmp_path):
    """(argv, the expected message after the file name) for every kind of bad input."""
    X, y = _problem(n=12)
    good = _write_csv(tmp_path / "good.csv", X, y)
    files = {
        "empty.csv": "",
        "header.csv": "a,b,y\n",
        "text.csv": "a,b,y\n1,2,3\n4,five,6\n",
        "ragged.csv": "a,b,y\n1,2,3\n4,5\n",
        "hole.csv": "a,b,y\n1,,3\n",
        "inf.csv": "a,b,y\n1,inf,3\n",
        "classes.csv": "a,b,y\n1,2,0\n2,1,1\n3,3,2\n",
        "one_class.csv": "a,b,y\n1,2,1\n2,1,1\n",
        "latin1.csv": b"a,b,y\n1,2,3\n\xe9,1,2\n",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    t = lambda name, *rest: ([str(tmp_path / name), "--target", "y", *rest], str(tmp_path / name))
    return [
        (*t("missing.csv"), "no such file"),
        (*t("empty.csv"), "empty file"),
        (*t("header.csv"), "no data rows"),
        (*t("text.csv"), "line 3, column 2 ('b'): cannot parse 'five' as a number"),
        (*t("ragged.csv"), "line 3 has 2 fields, the header has 3"),
        (*t("hole.csv"), "line 2, column 2 ('b'): empty value"),
        (*t("inf.csv"), "line 2, column 2 ('b'): 'inf' is not a finite number"),
        (*t("classes.csv", "--loss", "logistic"), "needs a binary target, but 'y' has 3 distinct values (0, 1, 2)"),
        (*t("one_class.csv", "--loss", "logistic"), "needs a binary target, but 'y' has 1 distinct value"),
        (*t("latin1.csv"), "not a UTF-8 text file"),
        ([str(good), "--target", "z"], str(good), "no column 'z' for --target"),
        ([str(good)], str(good), "give the column to predict with --target"),
        ([str(tmp_path)], str(tmp_path), "is a directory"),
        (["--dataset", "diabetes", "--loss", "logistic"], "diabetes", "needs a binary target"),
        (["--dataset", "diabetes", "--target", "y"], "", "does not apply to --dataset"),
        ([str(good), "--target", "y", "--dataset", "diabetes"], "", "not both"),
        ([], "", "no data"),
        (["--dataset", "diabetes", "--eps", "0"], "", "argument --eps: must be in (0, 1], got 0"),
        (["--dataset", "diabetes", "--l1-ratio", "1.5"], "", "argument --l1-ratio: must be in (0, 1]"),
        (["--dataset", "diabetes", "--n-lambdas", "ten"], "", "argument --n-lambdas: expected an integer"),
        (["--dataset", "iris"], "", "argument --dataset: invalid choice"),
    ]


@pytest.mark.parametrize("command", ["path", "cv"])
def test_bad_input(tmp_path, capsys, command):
    pytest.importorskip("matplotlib")
    outdir = tmp_path / "out"
    outdir.mkdir()
    for argv, source, message in _bad_cases(tmp_path):
        argv = [command, *argv, "--out", str(outdir / "r.npz"), "--plot", str(outdir / "r.png")]
        assert cli.main(argv) == 2, argv
        captured = capsys.readouterr()
        err = captured.err.splitlines()
        assert len(err) == 1, (argv, captured.err)
        assert err[0].startswith("jaxl1: error: " + (f"{source}: " if source else "")), err[0]
        assert message in err[0], (message, err[0])
        assert "Traceback" not in captured.err + captured.out
        assert os.listdir(outdir) == []


def test_bad_output_and_option_values(tmp_path, capsys):
    X, y = _problem(n=12)
    data = str(_write_csv(tmp_path / "data.csv", X, y))
    cases = [
        (["path", data, "--target", "y", "--out", str(tmp_path / "no" / "p.npz")], "folder"),
        (["path", data, "--target", "y", "--out", str(tmp_path)], "it is a folder"),
        (["path", data, "--target", "y", "--out", "same", "--plot", "same"], "name the same file"),
        (["cv", data, "--target", "y", "--n-folds", "20"], "--n-folds 20 is more than the 12 samples"),
        (["cv", data, "--target", "y", "--n-folds", "1"], "argument --n-folds: must be in [2, inf)"),
        (["fit", data], "invalid choice"),
    ]
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("jaxl1: error: ") and message in err[0], (argv, err)
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


def test_missing_optional_dependencies(tmp_path, capsys, monkeypatch):
    X, y = _problem(n=12)
    data = str(_write_csv(tmp_path / "data.csv", X, y))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert cli.main(["path", data, "--target", "y", "--plot", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--plot needs matplotlib" in err[0]
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert cli.main(["path", "--dataset", "diabetes"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--dataset diabetes needs scikit-learn" in err[0]
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


def test_failed_write_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    X, y = _problem()
    data = str(_write_csv(tmp_path / "data.csv", X, y))
    out = tmp_path / "p.npz"
    out.write_bytes(b"previous result")

    def savez_then_fail(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.np, "savez", savez_then_fail)
    assert cli.main(["path", data, "--target", "y", "--standardize", "--n-lambdas", N_LAMBDAS,
                     "--out", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"jaxl1: error: {out}: cannot write: No space left on device"]
    assert out.read_bytes() == b"previous result"  # untouched
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "p.npz"]  # the temporary file is gone


def test_write_atomic_permissions_and_replace(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")
    cli.write_atomic(str(target), lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new"
    mask = os.umask(0)
    os.umask(mask)
    assert (os.stat(target).st_mode & 0o777) == 0o666 & ~mask
    assert os.listdir(tmp_path) == ["f.bin"]


_COUNT_CACHE = """
import sys
from jax import monitoring
counts = {"/jax/compilation_cache/cache_hits": 0, "/jax/compilation_cache/cache_misses": 0}
def listen(event, **kwargs):
    if event in counts:
        counts[event] += 1
monitoring.register_event_listener(listen)
from jaxl1 import cli
status = cli.main(sys.argv[1:])
print("cache", counts["/jax/compilation_cache/cache_hits"], counts["/jax/compilation_cache/cache_misses"],
      file=sys.stderr)
sys.exit(status)
"""


def _cache_counts(stderr):
    """(programs read from the persistent cache, programs written to it), as the subprocess counted them."""
    line = [ln for ln in stderr.splitlines() if ln.startswith("cache ")][-1]
    hits, writes = map(int, line.split()[1:])
    return hits, writes


def test_compile_cache_directory(tmp_path):
    # a fresh environment (no cache configured by the caller): the command keeps every compiled program
    # in $JAXL1_CACHE_DIR whatever its compile time (JAX's default keeps only those over 1 s, so what
    # was kept depended on the machine's speed), a second run reads them all back and compiles nothing,
    # and --no-compile-cache keeps nothing.  Counted through jax.monitoring, not timed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    cache = tmp_path / "cache"
    env["JAXL1_CACHE_DIR"] = str(cache)
    args = [sys.executable, "-c", _COUNT_CACHE, "path", "--dataset", "diabetes", "--n-lambdas", N_LAMBDAS]
    runs = {}
    for name, extra in [("off", ["--no-compile-cache"]), ("first", []), ("second", [])]:
        runs[name] = subprocess.run(args + extra, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert runs[name].returncode == 0, runs[name].stderr
        if name == "off":
            assert not cache.exists()
    assert _cache_counts(runs["off"].stderr) == (0, 0)
    hits, writes = _cache_counts(runs["first"].stderr)
    assert hits == 0 and writes > 0
    assert any(cache.iterdir())
    assert _cache_counts(runs["second"].stderr) == (writes, 0)  # every program from the cache
    assert runs["first"].stdout == runs["off"].stdout == runs["second"].stdout


def test_compile_cache_default_location(monkeypatch):
    args = cli._parser().parse_args(["path", "--dataset", "diabetes"])
    monkeypatch.delenv("JAXL1_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert cli._cache_dir(args) == os.path.join("/somewhere", "jaxl1")
    monkeypatch.setenv("JAXL1_CACHE_DIR", "/elsewhere")
    assert cli._cache_dir(args) == "/elsewhere"
    args = cli._parser().parse_args(["path", "--dataset", "diabetes", "--compile-cache", "/here"])
    assert cli._cache_dir(args) == "/here"


# --------------------------------------------------------------------------- #
# the command guides: the chosen model, the default grid, warnings, formats
# --------------------------------------------------------------------------- #
def _chosen(text):
    """The coefficients printed under ``chosen model ...``: {name: value}."""
    lines = text.split("chosen model")[1].splitlines()[1:]
    rows = [line for line in lines if line.startswith("  ")]
    return {line.rsplit(None, 1)[0].strip(): float(line.rsplit(None, 1)[1]) for line in rows}


def _table_lambdas(text):
    """The strengths in the first column of a printed table."""
    rows = [line.split() for line in text.splitlines() if line.lstrip()[:1].isdigit()]
    return [float(row[0]) for row in rows if len(row) >= 3 and row[1].isdigit()]


def _warnings(err):
    return [line for line in err.splitlines() if line.startswith("jaxl1: warning: ")]


def test_path_main_job_prints_the_bic_model_on_the_default_grid(tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    import inspect

    from sklearn.datasets import load_diabetes

    monkeypatch.chdir(tmp_path)
    assert cli.main(["path", "--dataset", "diabetes"]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert _warnings(captured.err) == []  # diabetes: columns on one scale, the BIC inside the grid
    # the Python API's default grid, printed as a subsample that says so
    K = inspect.signature(jaxl1.fit_path).parameters["n_lambdas"].default
    assert cli._parser().parse_args(["path"]).n_lambdas == K == 100
    X, y = load_diabetes(return_X_y=True)
    ref = jaxl1.fit_path(X, y)
    lambdas, coef, intercept = (np.asarray(a) for a in (ref.lambdas, ref.coef, ref.intercept))
    printed = _table_lambdas(text)
    assert 10 <= len(printed) <= cli.MAX_ROWS + 2
    assert f"({len(printed)} of the {K} strengths shown: every " in text and "--out saves them all" in text
    shown = [int(np.argmin(np.abs(lambdas - lam))) for lam in printed]
    np.testing.assert_allclose(printed, lambdas[shown], rtol=1e-4)
    assert shown[0] == 0 and shown[-1] == K - 1
    # the model at the smallest BIC (n log(RSS/n) + log(n) * nonzeros), computed here independently
    n = len(y)
    rss = ((y[:, None] - X @ coef.T - intercept) ** 2).sum(axis=0)
    k = int(np.argmin(n * np.log(rss / n) + np.log(n) * (coef != 0).sum(axis=1)))
    assert 0 < k < K - 1 and k in shown
    assert f"chosen model (lambda = {lambdas[k]:.6g}, row {k + 1} of {K}): intercept {intercept[k]:.6g}" in text
    assert "BIC" in text and "'jaxl1 cv' chooses by cross-validation" in text
    expected = {load_diabetes().feature_names[j]: coef[k, j] for j in np.flatnonzero(coef[k])}
    assert _chosen(text) == pytest.approx(expected, rel=1e-5)
    # where --out and --plot would put files
    (hint,) = [line for line in text.splitlines() if line.startswith("not saved:")]
    assert "--out FILE.npz" in hint and "--plot FILE.png" in hint and str(tmp_path) in hint
    assert os.listdir(tmp_path) == []


def test_cv_table_subsample_keeps_the_selected_rows(capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["cv", "--dataset", "diabetes", "--select", "1se"]) == 0
    captured = capsys.readouterr()
    assert _warnings(captured.err) == []
    text = captured.out
    rows = [line for line in text.splitlines() if line.lstrip()[:1].isdigit() and "-fold" not in line]
    assert len(rows) <= cli.MAX_ROWS + 2 and "of the 100 strengths shown" in text
    assert sum("<- lambda_best" in r for r in rows) == 1 and sum("lambda_1se" in r for r in rows) == 1
    assert "not saved: --out FILE.npz would save the CV curve" in text


def _edge_problem(tmp_path):
    X, _ = _problem()
    y = X @ np.linspace(1.0, -1.0, X.shape[1]) + 1e-6 * np.random.default_rng(1).normal(size=len(X))
    return str(_write_csv(tmp_path / "exact.csv", X, y)), X, y


def test_warning_when_the_chosen_strength_is_at_an_edge_of_the_grid(tmp_path, capsys):
    # almost no noise: every strength on the grid is too large, the smallest is best
    data, X, y = _edge_problem(tmp_path)
    assert cli.main(["cv", data, "--target", "y", "--n-lambdas", N_LAMBDAS]) == 0
    captured = capsys.readouterr()
    lam_min = _table_lambdas(captured.out)[-1]
    (warning,) = _warnings(captured.err)
    assert warning.startswith("jaxl1: warning: lambda_best = ") and "try a smaller --eps" in warning
    assert float(warning.split()[4]) == pytest.approx(lam_min, rel=1e-4)
    assert "is the smallest strength of the grid (--eps 0.001): the CV score may keep falling below it" in warning
    (marked,) = [line for line in captured.out.splitlines() if "<- lambda_best" in line]
    assert float(marked.split()[0]) == lam_min  # the last row of the table
    assert cli.main(["path", data, "--target", "y", "--n-lambdas", N_LAMBDAS]) == 0
    captured = capsys.readouterr()
    (warning,) = _warnings(captured.err)
    assert "the chosen lambda (smallest BIC)" in warning and "smallest strength of the grid" in warning
    # pure noise: nothing beats the intercept, lambda_best is lambda_max, the other end
    noise = np.random.default_rng(2).normal(size=len(y))
    data = str(_write_csv(tmp_path / "noise.csv", X, noise))
    assert cli.main(["cv", data, "--target", "y", "--n-lambdas", N_LAMBDAS]) == 0
    (warning,) = _warnings(capsys.readouterr().err)
    assert "lambda_best" in warning and "is the largest strength of the grid, lambda_max" in warning


def test_features_on_different_scales_suggest_standardize(tmp_path, capsys):
    X, y = _problem()
    data = str(_write_csv(tmp_path / "data.csv", X, y))
    assert cli.main(["path", data, "--target", "y", "--n-lambdas", N_LAMBDAS]) == 0
    assert not any("scales" in w for w in _warnings(capsys.readouterr().err))  # within 100x of each other
    Xw = X.copy()
    Xw[:, 3] *= 1e4
    wide = str(_write_csv(tmp_path / "wide.csv", Xw, y))
    assert cli.main(["path", wide, "--target", "y", "--n-lambdas", N_LAMBDAS]) == 0
    err = capsys.readouterr().err
    (warning,) = [w for w in _warnings(err) if "scales" in w]
    sd = Xw.std(axis=0)
    assert f"differ by a factor of {sd.max() / sd.min():.3g}" in warning and repr(NAMES[3]) in warning
    assert warning.endswith("consider --standardize") and len(err.splitlines()) == len(_warnings(err))
    assert cli.main(["path", wide, "--target", "y", "--n-lambdas", N_LAMBDAS, "--standardize"]) == 0
    assert not any("scales" in w for w in _warnings(capsys.readouterr().err))


def test_constant_target_warns(tmp_path, capsys):
    X, _ = _problem(n=12)
    data = str(_write_csv(tmp_path / "data.csv", X, np.full(12, 3.5)))
    for command in (["path"], ["cv", "--n-folds", "3"]):
        assert cli.main([*command, data, "--target", "y", "--n-lambdas", N_LAMBDAS]) == 0
        captured = capsys.readouterr()
        assert _warnings(captured.err) == [
            f"jaxl1: warning: {data}: the target 'y' is constant (every value is 3.5): every coefficient is zero "
            "at every strength"]
        assert "intercept 3.5, 0 nonzero coefficients" in captured.out


@pytest.mark.parametrize("suffix, magic", [(".jpg", b"\xff\xd8\xff"), (".JPEG", b"\xff\xd8\xff"), (".pdf", b"%PDF"),
                                           (".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_plot_is_written_in_the_format_its_suffix_names(tmp_path, capsys, suffix, magic):
    pytest.importorskip("matplotlib")
    X, y = _problem()
    data = str(_write_csv(tmp_path / "data.csv", X, y))
    plot = tmp_path / f"p{suffix}"
    assert cli.main(["path", data, "--target", "y", "--n-lambdas", N_LAMBDAS, "--plot", str(plot)]) == 0
    assert plot.read_bytes().startswith(magic)
    assert f"saved {plot}" in capsys.readouterr().out


def test_plot_with_an_unknown_suffix_is_refused_before_the_fit(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")
    X, y = _problem(n=12)
    data = str(_write_csv(tmp_path / "data.csv", X, y))
    monkeypatch.setattr(jaxl1, "fit_path", None)  # never reached
    for name, message in [("p.xyz", "--plot cannot write a '.xyz' file: the suffix names the image format"),
                          ("p", "--plot needs a file name ending in an image format")]:
        assert cli.main(["path", data, "--target", "y", "--plot", str(tmp_path / name)]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.splitlines() == [
            f"jaxl1: error: {tmp_path / name}: {message}" + captured.err.split(message, 1)[1].rstrip("\n")]
        assert ".png, .pdf, .svg, .jpg" in captured.err
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


def test_the_command_draws_with_the_public_plotting_functions(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    X, y = _problem(n=80)
    data = str(_write_csv(tmp_path / "data.csv", X, y))
    calls = []
    for name in ("plot_path", "plot_cv"):
        original = getattr(jaxl1, name)
        monkeypatch.setattr(jaxl1, name, lambda *a, _f=original, _n=name, **kw: calls.append((_n, a, kw)) or _f(*a, **kw))
    assert cli.main(["path", data, "--target", "y", "--n-lambdas", N_LAMBDAS, "--plot", str(tmp_path / "p.png")]) == 0
    assert cli.main(["cv", data, "--target", "y", "--n-lambdas", N_LAMBDAS, "--n-folds", "3",
                     "--plot", str(tmp_path / "c.png")]) == 0
    assert [c[0] for c in calls] == ["plot_path", "plot_cv"]
    (_, _, kw_path), (_, _, kw_cv) = calls
    assert isinstance(kw_path["path"], jaxl1.PathResult) and kw_path["names"] == NAMES
    assert isinstance(kw_cv["cv"], jaxl1.CVResult) and kw_cv["ylabel"] == "held-out mean squared error"
    assert _is_png(tmp_path / "p.png") and _is_png(tmp_path / "c.png")


def test_csv_separated_by_semicolons_or_tabs(tmp_path, capsys):
    X, y = _problem()
    comma = _write_csv(tmp_path / "comma.csv", X, y)
    text = comma.read_text()
    results = {}
    for name, sep, label in [("comma.csv", ",", None), ("semi.csv", ";", "';'"), ("tabs.csv", "\t", "tabs")]:
        path = tmp_path / name
        if sep != ",":
            rows = list(csv.reader(text.splitlines()))
            with open(path, "w", newline="") as f:
                csv.writer(f, delimiter=sep).writerows(rows)
        out = tmp_path / f"{name}.npz"
        assert cli.main(["path", str(path), "--target", "y", "--n-lambdas", N_LAMBDAS, "--out", str(out)]) == 0
        warnings = _warnings(capsys.readouterr().err)
        if label is None:
            assert warnings == []
        else:
            assert warnings == [f"jaxl1: warning: {path}: fields are separated by {label}, not commas: read as such"]
        results[name] = _load(out)
    for name in ("semi.csv", "tabs.csv"):
        np.testing.assert_array_equal(results[name]["coef"], results["comma.csv"]["coef"])
        assert results[name]["feature_names"].tolist() == NAMES
    # a ';' file with decimal commas cannot be read: one line that says why
    (tmp_path / "decimal.csv").write_text("a;b;y\n1,5;2;3\n2;1,25;4\n")
    assert cli.main(["path", str(tmp_path / "decimal.csv"), "--target", "y"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [(f"jaxl1: error: {tmp_path / 'decimal.csv'}: line 2, column 1 ('a'): cannot parse '1,5' as a "
                      "number (decimal commas are not supported: write 1.5, not 1,5)")]


def test_csv_without_a_header_row(tmp_path, capsys):
    X, y = _problem(n=12)
    path = tmp_path / "noheader.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",")
    for target in (["--target", "y"], []):
        assert cli.main(["path", str(path), *target]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(f"jaxl1: error: {path}: the first row (")
        assert "is numbers, not column names: the file seems to have no header row" in err[0]
    # a target named by one of those numbers: it can proceed, with a warning
    first = next(csv.reader(path.read_text().splitlines()))
    assert cli.main(["path", str(path), f"--target={first[-1]}", "--n-lambdas", N_LAMBDAS]) == 0
    (warning,) = _warnings(capsys.readouterr().err)
    assert "the header row (" in warning and "is all numbers" in warning and "used as column names" in warning


# termination signals and huge values (issue 19)
# --------------------------------------------------------------------------- #
# the command, with numpy.savez made to stop half-way through the file until the process is signalled:
# the test waits for "writing" (so the signal falls inside the write, whatever the machine's speed)
_BLOCKING_WRITE = r"""
import sys
import numpy as np
from jaxl1 import cli

real = np.savez

def blocking(f, **arrays):
    real(f, **arrays)
    print("writing", flush=True)
    sys.stdin.readline()  # blocks until the test signals this process
    raise SystemExit("not signalled")

np.savez = blocking
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_during_the_write_leaves_no_partial_file(tmp_path):
    X, y = _problem()
    _write_csv(tmp_path / "data.csv", X, y)
    proc = subprocess.Popen([sys.executable, "-c", _BLOCKING_WRITE, "path", "data.csv", "--target", "y",
                             "--n-lambdas", N_LAMBDAS, "--out", "p.npz"], cwd=tmp_path, env=_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.strip() == "writing":
                break
        else:
            pytest.fail(f"the command ended before writing: {proc.communicate()[1]}")
        partial = [name for name in os.listdir(tmp_path) if name.startswith(".p.npz.") and name.endswith(".tmp")]
        assert len(partial) == 1  # the write is under way
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert err.splitlines()[-1] == "jaxl1: terminated by SIGTERM"
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_termination_signal_in_process(tmp_path, capsys, monkeypatch, name):
    signum = getattr(signal, name)
    X, y = _problem()
    data = str(_write_csv(tmp_path / "data.csv", X, y))
    out = tmp_path / "p.npz"

    def savez_then_signal(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        signal.raise_signal(signum)
        for _ in range(1_000_000):  # the handler runs here, between two bytecodes
            pass
        raise AssertionError("the signal was not handled")

    monkeypatch.setattr(cli.np, "savez", savez_then_signal)
    previous = signal.signal(signum, signal.SIG_DFL)
    try:
        assert cli.main(["path", data, "--target", "y", "--n-lambdas", N_LAMBDAS, "--out", str(out)]) == 128 + signum
        assert signal.getsignal(signum) is signal.SIG_DFL  # put back as it was
    finally:
        signal.signal(signum, previous)
    assert capsys.readouterr().err.splitlines() == [f"jaxl1: terminated by {name}"]
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]
    assert not cli._TEMPORARY


def test_an_ignored_signal_stays_ignored(monkeypatch):
    # under nohup SIGHUP is ignored: the command must not make it fatal again
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with cli._termination_handled():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is cli._on_termination
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_huge_values_in_a_csv(tmp_path, capsys):
    # a feature in units of 1e200: refused with one line naming X (not a NaN objective with status 0), and
    # with --standardize (scaled without overflow) the path of the standardized data
    X, y = _problem()
    big = X.copy()
    big[:, 1] *= 1e200
    data = str(_write_csv(tmp_path / "data.csv", big, y))
    assert cli.main(["path", data, "--target", "y", "--n-lambdas", N_LAMBDAS]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines()[-1].startswith(f"jaxl1: error: {data}: X has values of magnitude up to")
    out = tmp_path / "p.npz"
    assert cli.main(["path", data, "--target", "y", "--standardize", "--n-lambdas", N_LAMBDAS,
                     "--out", str(out)]) == 0
    assert "nan" not in capsys.readouterr().out.lower()
    saved = _load(out)
    _assert_path_matches(saved, (X - X.mean(0)) / X.std(0), y)
    np.testing.assert_allclose(saved["feature_scale"][1], 1e200 * X[:, 1].std(), rtol=1e-12)

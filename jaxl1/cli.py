"""The ``jaxl1`` command: regularization paths and cross-validation from the shell.

Usage::

    jaxl1 path [DATA.csv --target COL | --dataset diabetes|breast_cancer]
               [--loss squared|logistic] [--l1-ratio R] [--n-lambdas K] [--eps E]
               [--standardize] [--tol T] [--max-iter N] [--out path.npz] [--plot path.png|.pdf|.svg|.jpg]
               [--compile-cache DIR | --no-compile-cache]
    jaxl1 cv   [same data and path options] [--n-folds K] [--select best|1se]
               [--out cv.npz] [--plot cv.png]

A CSV file has a header row with the column names and numeric values only; the
column named by ``--target`` is the response and every other column a feature.
Fields are separated by ``,`` (a file separated by ``;`` or tabs is read as such,
with a warning); a first row of numbers (a file without a header) is refused.
``--dataset`` loads one of scikit-learn's bundled datasets (scikit-learn needed).
The default grid is the Python API's: 100 strengths from ``lambda_max`` down to
``1e-3 * lambda_max``; long tables are printed as a subsample of their rows.

``path`` prints the path and the model at the strength with the smallest BIC
(Schwarz's criterion, the number of nonzero coefficients as degrees of freedom);
``cv`` prints the cross-validation curve and the model at ``lambda_best`` or
``lambda_1se``.  Warnings (on stderr, ``jaxl1: warning: ...``) say when the chosen
strength is at an edge of the grid, when feature scales differ by more than 100x
without ``--standardize``, and when the target is constant.

``--plot`` draws with :func:`jaxl1.plot_path` / :func:`jaxl1.plot_cv` (matplotlib
needed) in the format its suffix names (``.png``, ``.pdf``, ``.svg``, ``.jpg``, ...;
another suffix is refused).  Everything is computed in float64.  Compiled programs
are kept in a cache directory (JAX's persistent compilation cache), so a later run
on data of the same shape starts without compiling.

Bad input (a missing or unreadable file, an unparseable value, a missing target
column, a non-binary target for the logistic loss, bad option values) is reported
as one line on stderr naming the file and the problem, with exit status 2.
Output files are written atomically: to a temporary file in the same directory,
then renamed over the destination, so a failed run leaves no partial file (a
write that fails, e.g. on a full disk, exits with status 1).  The temporary file
is also removed when the run is interrupted (Ctrl-C, status 130) or terminated
(SIGTERM or SIGHUP, status 128 + the signal's number).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import signal
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["main"]

DATASETS = {
    "diabetes": ("load_diabetes", "squared"),
    "breast_cancer": ("load_breast_cancer", "logistic"),
}
MAX_NAMES = 10  # feature names listed per row of the path table
MAX_LEGEND = 12  # features named in a coefficient-path plot
MAX_ROWS = 25  # rows of a table before it is subsampled
SCALE_RATIO = 100.0  # column standard deviations further apart than this: suggest --standardize


class CLIError(Exception):
    """A problem reported as one line on stderr; ``status`` is the exit status."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------- #
# arguments
# --------------------------------------------------------------------------- #
class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (raised, not printed)."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _number(kind, low, high, low_open=False, high_open=False):
    """An argparse ``type`` for a number in an interval."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            expected = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        bad = not math.isfinite(value) or (value <= low if low_open else value < low)
        if high is not None:
            bad = bad or (value >= high if high_open else value > high)
        if bad:
            lo = f"{'(' if low_open else '['}{low}"
            hi = f"{high}{')' if high_open else ']'}" if high is not None else "inf)"
            raise argparse.ArgumentTypeError(f"must be in {lo}, {hi}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def _parser():
    common = _Parser(add_help=False)
    data = common.add_argument_group("data")
    data.add_argument("data", nargs="?", metavar="DATA.csv",
                      help="CSV file with a header row of column names and numeric values")
    data.add_argument("--target", metavar="COL", help="the column of DATA.csv to predict")
    data.add_argument("--dataset", choices=sorted(DATASETS),
                      help="one of scikit-learn's bundled datasets instead of a CSV file")
    data.add_argument("--standardize", action="store_true",
                      help="centre every feature and scale it to unit variance before fitting")
    model = common.add_argument_group("model")
    model.add_argument("--loss", choices=["squared", "logistic"], default=None,
                       help="data-fit term (default: logistic for breast_cancer, squared otherwise)")
    model.add_argument("--l1-ratio", type=_number(float, 0, 1, low_open=True), default=1.0, metavar="R",
                       help="elastic-net mixing in (0, 1]; 1 is the lasso (default 1)")
    model.add_argument("--n-lambdas", type=_number(int, 1, None), default=100, metavar="K",
                       help="number of strengths on the path (default 100, as jaxl1.fit_path)")
    model.add_argument("--eps", type=_number(float, 0, 1, low_open=True), default=1e-3, metavar="E",
                       help="smallest strength as a fraction of lambda_max (default 1e-3)")
    model.add_argument("--tol", type=_number(float, 0, None, low_open=True), default=None, metavar="T",
                       help="relative duality gap at which a solve stops (default: jaxl1's)")
    model.add_argument("--max-iter", type=_number(int, 1, None), default=20_000, metavar="N",
                       help="most iterations per strength (default 20000)")

    run = common.add_argument_group("compilation")
    run.add_argument("--compile-cache", metavar="DIR", default=None,
                     help="keep compiled programs in DIR, so that later runs on data of the same shape skip "
                          "compilation (default: $JAXL1_CACHE_DIR, else $XDG_CACHE_HOME/jaxl1 or ~/.cache/jaxl1)")
    run.add_argument("--no-compile-cache", action="store_true", help="compile afresh and keep nothing")

    parser = _Parser(prog="jaxl1", description="L1-regularized paths and cross-validation with jaxl1.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{path,cv}")
    p = sub.add_parser("path", parents=[common], help="fit a regularization path, print, save and plot it",
                       description="Fit a regularization path and print it as a table.")
    p.add_argument("--out", metavar="path.npz", help="save the path with numpy.savez")
    p.add_argument("--plot", metavar="path.png",
                   help="save a coefficient-path plot in the format its suffix names: .png, .pdf, .svg, .jpg, ... "
                        "(needs matplotlib)")
    c = sub.add_parser("cv", parents=[common], help="choose the strength by K-fold cross-validation",
                       description="K-fold cross-validation over a regularization path.")
    c.add_argument("--n-folds", type=_number(int, 2, None), default=5, metavar="K",
                   help="number of folds, contiguous blocks as scikit-learn's KFold (default 5)")
    c.add_argument("--select", choices=["best", "1se"], default="best",
                   help="the model to print: smallest CV error, or the largest strength within one "
                        "standard error of it (default best)")
    c.add_argument("--out", metavar="cv.npz", help="save the CV curve and the path with numpy.savez")
    c.add_argument("--plot", metavar="cv.png",
                   help="save the CV curve in the format its suffix names: .png, .pdf, .svg, .jpg, ... "
                        "(needs matplotlib)")
    return parser


def _version():
    try:
        from importlib.metadata import version

        return version("jaxl1")
    except Exception:  # not installed as a distribution
        return "unknown"


# --------------------------------------------------------------------------- #
# data
# --------------------------------------------------------------------------- #
@dataclass
class Data:
    X: np.ndarray
    y: np.ndarray
    names: list
    source: str  # the file name or dataset name, for messages
    target: str
    default_loss: str = "squared"
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)  # printed on stderr
    wide_scales: bool = False  # feature scales differ by more than SCALE_RATIO (and no --standardize)
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None


def read_csv(path: str, target: str | None) -> Data:
    """Read a CSV file with a header row; every value numeric.  Raises :class:`CLIError`."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            delimiter = _delimiter(f)
            f.seek(0)
            data = _parse_csv(path, csv.reader(f, delimiter=delimiter), target)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CLIError(f"{path}: is a directory, not a CSV file") from None
    except PermissionError:
        raise CLIError(f"{path}: permission denied") from None
    except OSError as err:
        raise CLIError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise CLIError(f"{path}: not a UTF-8 text file (byte {err.start})") from None
    if delimiter != ",":
        data.warnings.insert(0, f"{path}: fields are separated by {_SEPARATORS[delimiter]}, not commas: "
                                "read as such")
    return data


_SEPARATORS = {";": "';'", "\t": "tabs"}


def _delimiter(f):
    """The field separator: ``','``, else ``';'`` or a tab where that one splits the file and ``','`` does not.

    A separator splits the file when it cuts the first non-blank line into several fields and the next
    non-blank line into as many.
    """
    lines = []
    for line in f:
        if line.strip():
            lines.append(line)
            if len(lines) == 2:
                break

    def splits(d):
        counts = [len(next(csv.reader([line], delimiter=d))) for line in lines]
        return counts[0] > 1 and len(set(counts)) == 1

    if not lines or splits(","):
        return ","
    fits = [d for d in (";", "\t") if splits(d)]
    return max(fits, key=lambda d: len(next(csv.reader([lines[0]], delimiter=d)))) if fits else ","


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_csv(path, rows, target):
    try:
        header = next(rows, None)
        while header is not None and not any(h.strip() for h in header):  # leading blank lines
            header = next(rows, None)
        if header is None:
            raise CLIError(f"{path}: empty file (expected a header row with column names)")
        names = [h.strip() or f"column {j + 1}" for j, h in enumerate(header)]
        shown = ", ".join(repr(n) for n in names[:8]) + (", ..." if len(names) > 8 else "")
        numeric = all(_is_number(h.strip()) for h in header)
        if numeric and (target is None or target not in names):
            raise CLIError(f"{path}: the first row ({shown}) is numbers, not column names: the file seems to have "
                           "no header row; add one naming the columns, then give the target with --target")
        if target is None:
            raise CLIError(f"{path}: give the column to predict with --target (columns: {shown})")
        if target not in names:
            raise CLIError(f"{path}: no column {target!r} for --target (columns: {shown})")
        if names.count(target) > 1:
            raise CLIError(f"{path}: the header has {names.count(target)} columns named {target!r}")
        if len(names) < 2:
            raise CLIError(f"{path}: no feature columns besides the target {target!r}")
        values = []
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            line = rows.line_num
            if len(row) != len(names):
                raise CLIError(f"{path}: line {line} has {len(row)} fields, the header has {len(names)}")
            values.append([_parse_value(path, line, j, names[j], cell) for j, cell in enumerate(row)])
    except csv.Error as err:
        raise CLIError(f"{path}: line {rows.line_num}: malformed CSV: {err}") from None
    if not values:
        raise CLIError(f"{path}: no data rows after the header")
    table = np.array(values, dtype=np.float64)
    t = names.index(target)
    X = np.delete(table, t, axis=1)
    data = Data(X, table[:, t], names[:t] + names[t + 1:], path, target)
    if numeric:
        data.warnings.append(f"{path}: the header row ({shown}) is all numbers: if the file has no header, its "
                             "first data row is being used as column names")
    return data


def _parse_value(path, line, j, name, cell):
    text = cell.strip()
    where = f"{path}: line {line}, column {j + 1} ({name!r})"
    if not text:
        raise CLIError(f"{where}: empty value (missing values are not supported)")
    try:
        value = float(text)
    except ValueError:
        hint = " (decimal commas are not supported: write 1.5, not 1,5)" if _is_number(text.replace(",", ".")) else ""
        raise CLIError(f"{where}: cannot parse {text!r} as a number{hint}") from None
    if not math.isfinite(value):
        raise CLIError(f"{where}: {text!r} is not a finite number")
    return value


def load_dataset(name: str) -> Data:
    try:
        import sklearn.datasets
    except ImportError:
        raise CLIError(
            f"--dataset {name} needs scikit-learn, which is not installed (pip install 'jaxl1[sklearn]')"
        ) from None
    loader, loss = DATASETS[name]
    bunch = getattr(sklearn.datasets, loader)()
    names = [str(n) for n in bunch.feature_names]
    return Data(np.asarray(bunch.data, np.float64), np.asarray(bunch.target, np.float64), names, name,
                "target", default_loss=loss)


def _get_data(args) -> Data:
    if args.data is not None and args.dataset is not None:
        raise CLIError(f"give either a CSV file or --dataset, not both (got {args.data} and --dataset {args.dataset})")
    if args.data is None and args.dataset is None:
        raise CLIError("no data: give a CSV file with --target COL, or --dataset diabetes|breast_cancer "
                       f"(see 'jaxl1 {args.command} --help')")
    if args.dataset is not None:
        if args.target is not None:
            raise CLIError("--target names a column of a CSV file; it does not apply to --dataset")
        data = load_dataset(args.dataset)
    else:
        data = read_csv(args.data, args.target)
    loss = args.loss or data.default_loss
    if loss == "logistic":
        classes = np.unique(data.y)
        if len(classes) != 2:
            shown = ", ".join(f"{c:g}" for c in classes[:5]) + (", ..." if len(classes) > 5 else "")
            raise CLIError(f"{data.source}: --loss logistic needs a binary target, but {data.target!r} has "
                           f"{len(classes)} distinct value{'s' if len(classes) != 1 else ''} ({shown})")
        if not (classes[0] == 0 and classes[1] == 1):
            data.y = (data.y == classes[1]).astype(np.float64)
            data.notes.append(f"target classes {classes[0]:g} -> 0, {classes[1]:g} -> 1")
    if np.ptp(data.y) == 0:
        data.warnings.append(f"{data.source}: the target {data.target!r} is constant (every value is "
                             f"{data.y[0]:g}): every coefficient is zero at every strength")
    if not args.standardize:
        scale_warning = _scale_warning(data)
        if scale_warning:
            data.warnings.append(scale_warning)
            data.wide_scales = True
    if args.standardize:
        data.mean = data.X.mean(axis=0)
        sd = _column_std(data.X, data.mean)
        data.scale = np.where(sd > 0, sd, 1.0)
        data.X = (data.X - data.mean) / data.scale
        data.notes.append("features standardized (coefficients are per standard deviation)")
    if getattr(args, "n_folds", None) is not None and args.n_folds > data.X.shape[0]:
        raise CLIError(f"{data.source}: --n-folds {args.n_folds} is more than the {data.X.shape[0]} samples")
    return data


def _scale_warning(data):
    """A suggestion of ``--standardize`` when the column standard deviations differ by more than ``SCALE_RATIO``."""
    with np.errstate(all="ignore"):  # (values near the float range: the solver's own check names them)
        sd = data.X.std(axis=0)
    varying = np.flatnonzero((sd > 0) & np.isfinite(sd))
    if varying.size < 2:
        return None
    lo, hi = varying[np.argmin(sd[varying])], varying[np.argmax(sd[varying])]
    ratio = sd[hi] / sd[lo]
    if ratio <= SCALE_RATIO:
        return None
    return (f"{data.source}: feature scales differ by a factor of {ratio:.3g} (standard deviations from "
            f"{sd[lo]:.3g} for {data.names[lo]!r} to {sd[hi]:.3g} for {data.names[hi]!r}): one strength penalizes "
            "them unequally; consider --standardize")


def _warn(message):
    print(f"jaxl1: warning: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def _column_std(X, mean):
    """Column standard deviations (ddof=0) without overflow: each centred column is divided by its
    largest magnitude before it is squared (a column of values near 1e200 has a finite std)."""
    Xc = X - mean
    m = np.max(np.abs(Xc), axis=0)
    m = np.where((m > 0) & np.isfinite(m), m, 1.0)
    return m * np.sqrt(np.mean(np.square(Xc / m), axis=0))


# --------------------------------------------------------------------------- #
# termination signals
# --------------------------------------------------------------------------- #
_TERMINATION = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_TEMPORARY = set()  # temporary files being written: removed if the process is terminated


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM or SIGHUP (a ``BaseException``, as ``KeyboardInterrupt``),
    so that ``finally`` blocks and the cleanup of temporary files run."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _on_termination(signum, frame):
    for tmp in list(_TEMPORARY):
        _remove(tmp)
    raise _Terminated(signum)


@contextlib.contextmanager
def _termination_handled():
    """While the command runs, SIGTERM and SIGHUP raise :class:`_Terminated` (where their handler is the
    default one: a signal the caller ignores, as ``nohup`` does for SIGHUP, stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in _TERMINATION:
        if signal.getsignal(signum) is signal.SIG_DFL:
            previous[signum] = signal.signal(signum, _on_termination)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _termination_deferred():
    """Hold SIGTERM and SIGHUP back (delivered on leaving) so that no signal falls between creating a
    temporary file and recording it in :data:`_TEMPORARY`."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _TERMINATION)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# --------------------------------------------------------------------------- #
# output files
# --------------------------------------------------------------------------- #
def _check_output(path, option):
    """Fail before the fit, not after it, if ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{path}: cannot write {option}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise CLIError(f"{path}: cannot write {option}: it is a folder")
    if not os.access(folder, os.W_OK):
        raise CLIError(f"{path}: cannot write {option}: folder {folder} is not writable")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str, write) -> None:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then rename it to ``path``.

    On any failure, and on SIGTERM or SIGHUP while :func:`_termination_handled` is in effect, the
    temporary file is removed and ``path`` is left as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    with _termination_deferred():
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
        except OSError as err:
            raise CLIError(f"{path}: cannot write: {err.strerror or err}", status=1) from None
        _TEMPORARY.add(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as err:
        _remove(tmp)
        raise CLIError(f"{path}: cannot write: {err.strerror or err}", status=1) from None
    except BaseException:
        _remove(tmp)
        raise
    finally:
        _TEMPORARY.discard(tmp)


def _remove(path):
    with contextlib.suppress(OSError):
        os.unlink(path)


def _save_npz(path, arrays):
    write_atomic(path, lambda f: np.savez(f, **arrays))


def _require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError("--plot needs matplotlib, which is not installed (pip install matplotlib)") from None


def _plot_format(path):
    """The image format named by the suffix of ``path``; refuse a suffix matplotlib cannot write."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    supported = FigureCanvasAgg.get_supported_filetypes()
    suffix = os.path.splitext(path)[1].lower()
    common = ".png, .pdf, .svg, .jpg"
    if not suffix:
        raise CLIError(f"{path}: --plot needs a file name ending in an image format ({common}, ...)")
    if suffix[1:] not in supported:
        others = ", ".join(f".{k}" for k in sorted(supported) if k not in ("png", "pdf", "svg", "jpg"))
        raise CLIError(f"{path}: --plot cannot write a {suffix!r} file: the suffix names the image format, one of "
                       f"{common}, {others}")
    return suffix[1:]


def _save_plot(filename, draw, figsize, **kwargs):
    """Draw on a new figure's axes with ``draw(ax=ax, **kwargs)``; save it in the format ``filename`` names."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    draw(ax=fig.add_subplot(), **kwargs)
    fmt = _plot_format(filename)
    write_atomic(filename, lambda f: fig.savefig(f, format=fmt, dpi=120))


# --------------------------------------------------------------------------- #
# numbers
# --------------------------------------------------------------------------- #
def objective(X, y, coef, intercept, lambdas, loss, l1_ratio):
    """The objective of every row of ``coef``: mean loss plus the elastic-net penalty."""
    Z = X @ coef.T + intercept  # (n, K)
    if loss == "squared":
        fit = 0.5 * np.mean(np.square(y[:, None] - Z), axis=0)
    else:
        fit = np.mean(np.logaddexp(0.0, -(2 * y - 1)[:, None] * Z), axis=0)
    penalty = lambdas * (l1_ratio * np.abs(coef).sum(axis=1) + 0.5 * (1 - l1_ratio) * np.square(coef).sum(axis=1))
    return fit + penalty


def null_objective(y, loss):
    """The objective at ``w = 0`` with the intercept at its optimum (``P0``, the scale of ``tol``)."""
    if loss == "squared":
        return 0.5 * float(np.var(y))
    m = float(np.mean(y))
    return -sum(q * math.log(q) for q in (m, 1 - m) if q > 0)


def _entry_order(coef):
    """Features ordered by where they first become nonzero along the path (then by column)."""
    active = coef != 0
    first = np.where(active.any(axis=0), active.argmax(axis=0), coef.shape[0])
    return np.lexsort((np.arange(coef.shape[1]), first))


def _names_list(names, selected):
    shown = [names[j] for j in selected[:MAX_NAMES]]
    more = len(selected) - len(shown)
    return ", ".join(shown) + (f", ... (+{more} more)" if more > 0 else "")


def _checked(data, fn, *args, **kwargs):
    """Call a jaxl1 function; its input checks (``ValueError``) become one-line errors naming the data."""
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        raise CLIError(f"{data.source}: {err}") from None


def _fit_kwargs(args, loss):
    return dict(loss=loss, l1_ratio=args.l1_ratio, n_lambdas=args.n_lambdas, eps=args.eps, tol=args.tol,
                max_iter=args.max_iter)


def _summary(data, loss, args):
    n, p = data.X.shape
    line = f"{data.source}: {n} samples, {p} features, target {data.target!r}, loss={loss}, l1_ratio={args.l1_ratio:g}"
    return [line] + [f"  note: {note}" for note in data.notes]


def _feature_arrays(data):
    arrays = {"feature_names": np.array(data.names, dtype=str)}
    if data.mean is not None:
        arrays["feature_mean"] = data.mean
        arrays["feature_scale"] = data.scale
    return arrays


# --------------------------------------------------------------------------- #
# printing
# --------------------------------------------------------------------------- #
class _Out:
    """Writes to stdout; a closed pipe (``jaxl1 path ... | head``) silences it instead of failing."""

    def __init__(self):
        self.closed = False

    def __call__(self, line=""):
        if self.closed:
            return
        try:
            print(line, flush=True)
        except BrokenPipeError:
            self.closed = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


# --------------------------------------------------------------------------- #
# commands
# --------------------------------------------------------------------------- #
def bic(X, y, coef, intercept, loss):
    """Schwarz's criterion of every row of ``coef``, the number of nonzeros as degrees of freedom.

    Squared loss: ``n log(RSS / n) + log(n) * nonzeros`` (the noise variance estimated by ``RSS / n``
    at each strength; ``None`` when ``n <= p + 1``, where that estimate reaches zero).  Logistic loss:
    ``2 * sum of log-losses + log(n) * nonzeros``.
    """
    n, p = X.shape
    Z = X @ coef.T + intercept  # (n, K)
    df = (coef != 0).sum(axis=1)
    if loss == "squared":
        if n <= p + 1:
            return None
        rss = np.sum(np.square(y[:, None] - Z), axis=0)
        with np.errstate(divide="ignore"):
            fit = n * np.log(rss / n)
    else:
        fit = 2 * np.sum(np.logaddexp(0.0, -(2 * y - 1)[:, None] * Z), axis=0)
    return fit + math.log(n) * df


def _ordinal(k):
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _rows(K, keep):
    """The rows of a ``K``-row table to print, and a note when they are a subsample.

    Up to ``MAX_ROWS`` rows are all printed; a longer table is every ``step``-th row, the last one and
    the rows in ``keep`` (the chosen strengths).
    """
    if K <= MAX_ROWS:
        return list(range(K)), None
    step = -(-(K - 1) // (MAX_ROWS - 1))
    rows = sorted(set(range(0, K, step)) | {K - 1} | set(keep))
    which = (f"every {_ordinal(step)} and the last" if not keep else
             f"every {_ordinal(step)}, the last and the chosen one{'s' if len(set(keep)) > 1 else ''}")
    return rows, f"({len(rows)} of the {K} strengths shown: {which}; --out saves them all)"


def _print_model(out, data, header, coef, intercept):
    """``header: intercept ..., k nonzero coefficients:`` and one line per nonzero, largest first."""
    chosen = [j for j in np.argsort(-np.abs(coef), kind="stable") if coef[j] != 0]
    out(f"{header}: intercept {intercept:.6g}, {len(chosen)} nonzero coefficient{'s' if len(chosen) != 1 else ''}"
        + (":" if chosen else ""))
    width = max([len(data.names[j]) for j in chosen] + [8])
    for j in chosen:
        out(f"  {data.names[j]:<{width}} {coef[j]:>13.6g}")


def _edge_warning(what, i, lambdas, args, data, criterion):
    """A warning when the strength chosen by ``what`` (the minimum of ``criterion``) is an end of the grid."""
    K = len(lambdas)
    if K < 2:
        return
    if i == K - 1:
        _warn(f"{what} = {lambdas[i]:.6g} is the smallest strength of the grid (--eps {args.eps:g}): "
              f"{criterion} may keep falling below it; try a smaller --eps"
              + (" or --standardize" if data.wide_scales else ""))
    elif i == 0:
        _warn(f"{what} = {lambdas[i]:.6g} is the largest strength of the grid, lambda_max, where every "
              "coefficient is zero: no feature improves on the intercept alone")


def _file_hints(args, out, what_out, what_plot):
    """Where the results went, or where ``--out`` / ``--plot`` would put them."""
    for name in (args.out, args.plot):
        if name:
            out(f"saved {os.path.abspath(name)}")
    missing = []
    if not args.out:
        missing.append(f"--out FILE.npz would save {what_out}")
    if not args.plot:
        missing.append(f"--plot FILE.png (or .pdf, .svg, .jpg) would draw {what_plot}")
    if missing:
        out(f"not saved: {' and '.join(missing)}; a relative FILE is written in {os.getcwd()}")


def _constant(y):
    return bool(np.ptp(y) == 0)


def run_path(args, data, out):
    import jaxl1

    loss = args.loss or data.default_loss
    res = _checked(data, jaxl1.fit_path, data.X, data.y, **_fit_kwargs(args, loss))
    lambdas, coef, intercept, gap, n_iter, converged = (
        np.asarray(a) for a in (res.lambdas, res.coef, res.intercept, res.gap, res.n_iter, res.converged)
    )
    obj = objective(data.X, data.y, coef, intercept, lambdas, loss, args.l1_ratio)
    p0 = null_objective(data.y, loss)
    rel_gap = gap / p0 if p0 > 0 else gap
    crit = bic(data.X, data.y, coef, intercept, loss)
    i = None if crit is None else int(np.argmin(crit))

    for line in _summary(data, loss, args):
        out(line)
    out(f"{'lambda':>12} {'nonzeros':>8} {'objective':>13} {'rel. gap':>10}  selected (in order of entry)")
    order = _entry_order(coef)
    rows, note = _rows(len(lambdas), [] if i is None else [i])
    for k in rows:
        selected = [j for j in order if coef[k, j] != 0]
        flag = " " if converged[k] else "*"
        mark = "  <- smallest BIC" if k == i else ""
        out(f"{lambdas[k]:12.5g} {len(selected):8d} {obj[k]:13.6g} {rel_gap[k]:9.2e}{flag}  "
            f"{_names_list(data.names, selected)}{mark}")
    if note:
        out(note)
    if not converged.all():
        out(f"* {int((~converged).sum())} of {len(lambdas)} strengths stopped at --max-iter {args.max_iter} "
            "before reaching the tolerance (try --standardize or a larger --max-iter)")
    n, p = data.X.shape
    if i is None:
        out(f"no strength chosen: the BIC estimates the noise from the residuals, which needs more samples than "
            f"features + 1 (here {n} and {p}); 'jaxl1 cv' chooses one by cross-validation")
    else:
        fit = "n log(RSS/n)" if loss == "squared" else "2 * sum of log-losses"
        out(f"strength chosen by the BIC, {fit} + log(n) * nonzeros, smallest on the grid "
            "('jaxl1 cv' chooses by cross-validation)")
        _print_model(out, data, f"chosen model (lambda = {lambdas[i]:.6g}, row {i + 1} of {len(lambdas)})",
                     coef[i], intercept[i])
        if not _constant(data.y):
            _edge_warning("the chosen lambda (smallest BIC)", i, lambdas, args, data, "the BIC")

    if args.out:
        _save_npz(args.out, dict(
            lambdas=lambdas, coef=coef, intercept=intercept, gap=gap, n_iter=n_iter, converged=converged,
            objective=obj, loss=np.array(loss), l1_ratio=np.array(args.l1_ratio), **_feature_arrays(data),
        ))
    if args.plot:
        title = f"{data.source}: {'lasso' if args.l1_ratio == 1 else f'elastic net (l1_ratio={args.l1_ratio:g})'}"
        title += f" path, {loss} loss"
        ylabel = "coefficient" + (" (standardized features)" if data.mean is not None else "")
        _save_plot(args.plot, jaxl1.plot_path, (8.5, 5.0), path=res, names=data.names, max_legend=MAX_LEGEND,
                   title=title, ylabel=ylabel)
    _file_hints(args, out, "the whole path (numpy .npz)", "the coefficient path")
    return 0


def run_cv(args, data, out):
    import jaxl1

    loss = args.loss or data.default_loss
    res = _checked(data, jaxl1.cross_validate, data.X, data.y, n_folds=args.n_folds, **_fit_kwargs(args, loss))
    lambdas, mean, se, folds = (np.asarray(a) for a in (res.lambdas, res.mean_score, res.std_score, res.fold_scores))
    coef, intercept, gap, converged = (
        np.asarray(a) for a in (res.path.coef, res.path.intercept, res.path.gap, res.path.converged)
    )
    lam_best, lam_1se = float(res.lambda_best), float(res.lambda_1se)
    i_best, i_1se = int(res.index("best")), int(res.index("1se"))
    nnz = (coef != 0).sum(axis=1)
    score = "mean squared error" if loss == "squared" else "deviance"

    for line in _summary(data, loss, args):
        out(line)
    out(f"{args.n_folds}-fold cross-validation (contiguous folds); score: held-out {score}, lower is better")
    out(f"{'lambda':>12} {'nonzeros':>8} {'cv score':>13} {'std. error':>11}")
    rows, note = _rows(len(lambdas), [i_best, i_1se])
    for k in rows:
        marks = [name for name, i in (("lambda_best", i_best), ("lambda_1se", i_1se)) if i == k]
        mark = f"  <- {', '.join(marks)}" if marks else ""
        out(f"{lambdas[k]:12.5g} {nnz[k]:8d} {mean[k]:13.6g} {se[k]:11.4g}{mark}")
    if note:
        out(note)
    if not converged.all():
        out(f"* {int((~converged).sum())} of {len(lambdas)} strengths of the full-data path stopped at "
            f"--max-iter {args.max_iter} before reaching the tolerance")
    fold_conv = np.asarray(res.fold_converged)
    if not fold_conv.all():
        out(f"* {int((~fold_conv).sum())} of {fold_conv.size} fold fits (folds x strengths) stopped at "
            f"--max-iter {args.max_iter} before reaching the tolerance: their scores are less reliable")
    out(f"lambda_best = {lam_best:.6g} (cv score {mean[i_best]:.6g}), "
        f"lambda_1se = {lam_1se:.6g} (cv score {mean[i_1se]:.6g})")
    i = i_best if args.select == "best" else i_1se
    _print_model(out, data, f"chosen model (lambda_{args.select} = {lambdas[i]:.6g}), refitted on all "
                 f"{data.X.shape[0]} samples", coef[i], intercept[i])
    if not _constant(data.y):
        _edge_warning("lambda_best", i_best, lambdas, args, data, "the CV score")
        if args.select == "1se" and i_1se != i_best:
            _edge_warning("lambda_1se", i_1se, lambdas, args, data, "the CV score")

    if args.out:
        _save_npz(args.out, dict(
            lambdas=lambdas, mean_score=mean, std_score=se, fold_scores=folds,
            lambda_best=np.array(lam_best), lambda_1se=np.array(lam_1se), selected=np.array(lambdas[i]),
            coef=coef, intercept=intercept, gap=gap, converged=converged, fold_converged=fold_conv,
            loss=np.array(loss), l1_ratio=np.array(args.l1_ratio), **_feature_arrays(data),
        ))
    if args.plot:
        title = f"{data.source}: {args.n_folds}-fold cross-validation, {loss} loss"
        if args.l1_ratio != 1:
            title += f", l1_ratio={args.l1_ratio:g}"
        _save_plot(args.plot, jaxl1.plot_cv, (8.0, 5.0), cv=res, title=title, ylabel=f"held-out {score}")
    _file_hints(args, out, "the CV curve and the path (numpy .npz)", "the CV curve")
    return 0


def _cache_dir(args):
    if args.compile_cache:
        return args.compile_cache
    if os.environ.get("JAXL1_CACHE_DIR"):
        return os.environ["JAXL1_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "jaxl1")


def _use_compile_cache(args):
    """JAX's persistent compilation cache in :func:`_cache_dir`, unless turned off or already configured.

    A cache the caller has set up (``jax_compilation_cache_dir``) is left as it is.
    """
    import jax

    if args.no_compile_cache or jax.config.jax_compilation_cache_dir:
        return
    path = _cache_dir(args)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise CLIError(f"--compile-cache: cannot create {path}: {err.strerror}") from None
    jax.config.update("jax_compilation_cache_dir", path)
    # JAX persists only programs whose compile took at least this long (1 s by default); jaxl1's
    # programs compile in well under a second, so at the default nothing would ever be kept, and
    # what is kept would depend on how fast or loaded the machine is.  Keep every program.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def main(argv=None) -> int:
    """Run the ``jaxl1`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    out = _Out()
    try:
        with _termination_handled(), warnings.catch_warnings():
            # Python's warnings as the command's own lines; a solve that stopped short is said in the output
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return _main(argv, out)
    except CLIError as err:
        message = " ".join(str(err).split())  # one line, whatever the message holds
        print(f"jaxl1: error: {message}", file=sys.stderr)
        return err.status
    except KeyboardInterrupt:
        print("jaxl1: interrupted", file=sys.stderr)
        return 130
    except _Terminated as sig:
        print(f"jaxl1: terminated by {signal.Signals(sig.signum).name}", file=sys.stderr)
        return 128 + sig.signum


def _show_warning(message, category, *_args, **_kwargs):
    if category.__name__ != "ConvergenceWarning":
        _warn(message)


def _main(argv, out):
    """The command itself; :func:`main` turns its exceptions into messages and exit statuses."""
    args = _parser().parse_args(argv)
    if args.plot:
        _require_matplotlib()
        _check_output(args.plot, "--plot")
    if args.out:
        _check_output(args.out, "--out")
    if args.out and args.plot and os.path.abspath(args.out) == os.path.abspath(args.plot):
        raise CLIError(f"{args.out}: --out and --plot name the same file")
    if args.plot:
        _plot_format(args.plot)
    data = _get_data(args)
    for warning in data.warnings:
        _warn(warning)

    import jax

    jax.config.update("jax_enable_x64", True)
    _use_compile_cache(args)
    return (run_path if args.command == "path" else run_cv)(args, data, out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

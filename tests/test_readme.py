"""The README's Python blocks run as written, in order, as a user would run them.

They run as one script in a fresh interpreter with a bare environment: no test
configuration (``tests/conftest.py`` turns float64 on for the tests; the README
turns it on itself where it wants it), no ``JAX_*`` or ``XLA_*`` variables, and
a working directory outside the repository.  ``PYTHONPATH`` points at this
checkout so that the README is run against the code beside it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.datasets import make_regression

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def python_blocks(text):
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```[ \t]*$", text, flags=re.S | re.M)


def test_block_extraction():
    text = "a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\ny = x + 1\nprint(y)\n```\n"
    assert python_blocks(text) == ["x = 1\n", "y = x + 1\nprint(y)\n"]


@pytest.fixture(scope="module")
def readme_run(tmp_path_factory):
    blocks = python_blocks(README)
    assert len(blocks) >= 4 and any("prox_adam" in b for b in blocks)
    work = tmp_path_factory.mktemp("readme")
    script = work / "readme_blocks.py"
    script.write_text("\n\n".join(blocks))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "PYTHONPATH": str(ROOT),
           "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True)


def test_readme_blocks_run(readme_run):
    assert readme_run.returncode == 0, readme_run.stderr[-4000:]


def test_readme_optax_example_gives_exact_zeros(readme_run):
    found = re.search(r"exact zeros in the kernels: ([0-9.]+)%", readme_run.stdout)
    assert found, readme_run.stdout + readme_run.stderr[-4000:]
    # the README says 24.5% after 5 epochs (float32 training: the last digit may vary between machines)
    assert 20.0 <= float(found.group(1)) <= 30.0


def test_readme_lasso_cv_alpha_is_sklearns_at_a_tight_tol(readme_run):
    found = re.search(r"alpha_: ([0-9.e+-]+)", readme_run.stdout)
    assert found, readme_run.stdout + readme_run.stderr[-4000:]
    alpha = float(found.group(1))
    X, y = make_regression(n_samples=100, n_features=10, noise=0.1, random_state=42)
    ref = sk.LassoCV(cv=5, random_state=42, tol=1e-10, max_iter=1_000_000).fit(X, y)
    assert alpha == pytest.approx(ref.alpha_, rel=1e-10)
    # the values the README quotes: jaxl1's alpha_ and scikit-learn's at its default tol
    assert f"prints `{np.floor(alpha * 1e4) / 1e4:.4f}...`" in README
    default = sk.LassoCV(cv=5, random_state=42).fit(X, y).alpha_
    assert f"gives `{np.floor(default * 1e4) / 1e4:.4f}...`" in README

"""Packaging promises: a light import, and CI running exactly the README's test command."""

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _loaded_after(imports):
    code = (
        f"import sys, {imports};"
        "print(sorted(m for m in ('matplotlib', 'numba', 'statsmodels', 'sklearn')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return eval(out.stdout)


def test_import_is_light():
    # Plain `import kdtheory` (and the array-level modules) load no heavy dependency;
    # scikit-learn (1.6 s to import) is imported by the modules built on sklearn.base.
    loaded = _loaded_after("kdtheory, kdtheory.losses, kdtheory.crossfit")
    assert "matplotlib" not in loaded and "statsmodels" not in loaded and "sklearn" not in loaded
    # kdtheory.teachers may import numba (decorators compile nothing until called) and, with
    # kdtheory.distill, scikit-learn; matplotlib and statsmodels must still not be loaded.
    loaded = _loaded_after("kdtheory, kdtheory.teachers, kdtheory.distill")
    assert "matplotlib" not in loaded and "statsmodels" not in loaded and "sklearn" in loaded


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```(?:bash|sh)?\n# run the tests\n(.+?)\n```", readme)
    assert match, "README must show the test command in a block starting with '# run the tests'"
    command = match.group(1).strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines


def test_one_version_source():
    """pyproject reads the version from kdtheory.__version__; no other file states it."""
    import kdtheory

    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.M)
    assert 'version = { attr = "kdtheory.__version__" }' in pyproject
    assert not re.search(r'^version = "', pyproject, re.M)
    assert re.fullmatch(r"\d+\.\d+\.\d+", kdtheory.__version__)


def test_ci_runs_the_linter():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "ruff check ." in ci


def test_the_notebooks_extra_opens_them_in_jupyter():
    """One install opens the notebooks: the extra brings a Jupyter front end and jupytext."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    extra = re.search(r"^notebooks = \[(.*?)\]", pyproject, re.M | re.S).group(1)
    assert '"notebook>=' in extra and '"jupytext>=' in extra and '"ipykernel>=' in extra

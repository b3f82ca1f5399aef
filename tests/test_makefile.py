"""The Makefile: `make test` runs both passes and fails if either failed; `make` finds a Python >= 3.11.

Each test runs the real Makefile with a stand-in Python (a shell script that records how it was called
and exits as told), so no test suite runs inside the test suite.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")

FAKE_PYTHON = """#!/bin/sh
# Stand-in for the venv's python: log the call, then exit as the test asked.
echo "${DATABASE_URL:-sqlite}|$*" >> "$CALLS"
case "$1" in
  tests/postgres_reachable.py) exit "$POSTGRES_REACHABLE" ;;
  -m) if [ -n "$DATABASE_URL" ]; then exit "$POSTGRES_PASS"; else exit "$SQLITE_PASS"; fi ;;
esac
exit 0
"""


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def venv(tmp_path) -> Path:
    """A venv that `make install` considers up to date, whose python is the stand-in."""
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    executable(tmp_path / "venv" / "bin" / "python", FAKE_PYTHON)
    (tmp_path / "venv" / ".installed").touch()  # newer than requirements.txt: nothing to install
    return tmp_path / "venv"


def make_test(venv: Path, *, sqlite: int, postgres: int, reachable: bool, ci: bool) -> tuple[int, list[str], str]:
    calls = venv.parent / "calls.log"
    env = {
        "PATH": os.environ["PATH"],
        "CALLS": str(calls),
        "SQLITE_PASS": str(sqlite),
        "POSTGRES_PASS": str(postgres),
        "POSTGRES_REACHABLE": "0" if reachable else "1",
    }
    if ci:
        env["CI"] = "true"
    result = subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(settings.BASE_DIR), "test", f"VENV={venv}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    passes = [line.split("|")[0] for line in calls.read_text().splitlines() if "|-m pytest" in line]
    return result.returncode, passes, result.stdout + result.stderr


def test_both_passes_run_even_when_the_sqlite_pass_fails_and_make_test_fails(venv):
    code, passes, output = make_test(venv, sqlite=1, postgres=0, reachable=True, ci=False)
    assert passes == ["sqlite", "postgres://postgres@127.0.0.1:5432/thetool"], output
    assert code != 0, output


def test_a_failing_postgres_pass_fails_make_test(venv):
    code, passes, output = make_test(venv, sqlite=0, postgres=1, reachable=True, ci=False)
    assert len(passes) == 2 and code != 0, output


def test_two_green_passes_make_a_green_make_test(venv):
    code, passes, output = make_test(venv, sqlite=0, postgres=0, reachable=True, ci=False)
    assert len(passes) == 2 and code == 0, output


def test_without_postgres_the_pass_is_skipped_with_a_reason_on_a_laptop(venv):
    code, passes, output = make_test(venv, sqlite=0, postgres=0, reachable=False, ci=False)
    assert passes == ["sqlite"] and code == 0, output
    assert "SKIPPED the PostgreSQL pass" in output


def test_without_postgres_ci_fails(venv):
    code, passes, output = make_test(venv, sqlite=0, postgres=0, reachable=False, ci=True)
    assert passes == ["sqlite"] and code != 0, output
    assert "CI=true requires the PostgreSQL pass" in output


def fake_interpreter(path: Path, version: tuple[int, int]) -> Path:
    """A python3.x that answers the Makefile's version check as that version would."""
    ok = 0 if version >= (3, 11) else 1
    return executable(path, f'#!/bin/sh\ncase "$*" in *version_info*) exit {ok} ;; esac\necho {version}\n')


def make_python(bin_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MAKE, "--no-print-directory", "-C", str(settings.BASE_DIR), *args],
        env={"PATH": str(bin_dir)},  # only the interpreters of the test; make runs /bin/sh itself
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_picks_the_first_python_that_is_at_least_3_11(tmp_path):
    # A name that exists but cannot run (a pyenv shim for a version that is not installed) is passed over.
    executable(tmp_path / "python3.11", "#!/bin/sh\nexit 127\n")
    fake_interpreter(tmp_path / "python3.12", (3, 12))
    fake_interpreter(tmp_path / "python3", (3, 10))
    # (the trailing ";" makes make run the recipe through /bin/sh, whose echo is a builtin)
    result = make_python(tmp_path, "--eval", "show-python: ; @echo $(PYTHON);", "show-python")
    assert result.stdout.strip() == str(tmp_path / "python3.12"), result.stderr


def test_make_stops_clearly_when_no_python_is_recent_enough(tmp_path):
    fake_interpreter(tmp_path / "python3", (3, 10))
    result = make_python(tmp_path, "check-python")
    assert result.returncode != 0
    assert "TheTool needs Python >= 3.11" in result.stdout + result.stderr


def test_lint_checks_formatting_too_and_ci_runs_it_before_the_tests(venv):
    planned = subprocess.run(
        [MAKE, "--no-print-directory", "-n", "-C", str(settings.BASE_DIR), "lint", f"VENV={venv}"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.splitlines()
    assert f"{venv}/bin/ruff format --check ." in planned and f"{venv}/bin/ruff check ." in planned
    ci = (settings.BASE_DIR / ".ci" / "run").read_text().splitlines()
    assert ci.index("make lint") < ci.index("make test")

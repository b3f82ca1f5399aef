"""The scale-out kit starts `run_worker` (never plain `qcluster`) and gives it time to stop."""

import re
from pathlib import Path

from django.conf import settings

DEPLOY = Path(settings.BASE_DIR) / "deploy"


def procfile_commands(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split(":", 1) for line in lines)


def test_every_procfile_runs_run_worker_as_the_worker():
    for path in (Path(settings.BASE_DIR) / "Procfile", DEPLOY / "Procfile.scale"):
        worker = procfile_commands(path)["worker"].split()
        assert worker[-2:] == ["manage.py", "run_worker"], f"{path.name}: {worker}"
        assert "qcluster" not in worker


def test_the_systemd_worker_unit_runs_run_worker_and_outwaits_its_stop_deadline():
    unit = (DEPLOY / "thetool-worker@.service").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", unit, re.M).group(1)
    assert exec_start.endswith("manage.py run_worker")
    assert not re.search(r"^KillMode=", unit, re.M), "run_worker handles systemd's default (control-group)"
    timeout = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1))
    assert timeout > settings.THETOOL_WORKER_STOP_SECONDS, "systemd's SIGKILL must come after run_worker's own deadline"


def test_make_run_scale_runs_the_scale_procfile():
    makefile = (Path(settings.BASE_DIR) / "Makefile").read_text()
    recipe = makefile.split("\nrun-scale:", 1)[1].split("\n\n", 1)[0]
    assert "--procfile deploy/Procfile.scale" in recipe
    assert "qcluster" not in recipe


def test_ci_runs_the_deployment_checks_with_the_production_environment():
    ci = (Path(settings.BASE_DIR) / ".ci" / "run").read_text().splitlines()
    assert "make check-deploy" in ci and ci.index("make check-deploy") < ci.index("make test")
    makefile = (Path(settings.BASE_DIR) / "Makefile").read_text()
    recipe = makefile.split("\ncheck-deploy:", 1)[1].split("\n\n", 1)[0]
    assert "DJANGO_DEBUG=false" in recipe and "check --deploy --fail-level WARNING" in recipe

"""The environment the served gateway runs in, and stopping it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.http.launch import _group_alive, server_env, stop_server


def test_bentoml_keeps_its_files_under_the_butler_home(tmp_path, monkeypatch):
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    env = server_env(tmp_path / "home")
    assert env["BENTOML_HOME"] == str((tmp_path / "home" / "bentoml").resolve())
    assert env["BUTLER_HOME"] == str((tmp_path / "home").resolve())


def test_a_bentoml_home_set_by_the_user_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "elsewhere"))
    assert server_env(tmp_path / "home")["BENTOML_HOME"] == str(tmp_path / "elsewhere")


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs (not gone, not a zombie nobody reaped)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_stopping_a_server_that_exited_stops_the_workers_it_left(tmp_path):
    """A failed start: the server process is gone, a worker it started still runs."""
    pid_file = tmp_path / "worker.pid"
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys; "
            "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
            f"open({str(pid_file)!r}, 'w').write(str(w.pid))",
        ],
        start_new_session=True,
    )
    leader.wait(timeout=30)
    worker = int(pid_file.read_text())
    assert _running(worker) and _group_alive(leader.pid)

    started = time.monotonic()
    stop_server(leader, grace=10)
    assert not _running(worker) and not _group_alive(leader.pid)
    assert time.monotonic() - started < 10  # it took the SIGTERM: no wait for the grace

"""The environment the served gateway runs in."""

from __future__ import annotations

from services.http.launch import server_env


def test_bentoml_keeps_its_files_under_the_butler_home(tmp_path, monkeypatch):
    monkeypatch.delenv("BENTOML_HOME", raising=False)
    env = server_env(tmp_path / "home")
    assert env["BENTOML_HOME"] == str((tmp_path / "home" / "bentoml").resolve())
    assert env["BUTLER_HOME"] == str((tmp_path / "home").resolve())


def test_a_bentoml_home_set_by_the_user_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "elsewhere"))
    assert server_env(tmp_path / "home")["BENTOML_HOME"] == str(tmp_path / "elsewhere")

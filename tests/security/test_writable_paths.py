"""Writable state goes under ``GJJ_INSTANCE_DIR`` (default ``instance/`` of the current directory),
never inside the installed package (issue 14: ``gjj worker`` from a wheel, as an unprivileged user,
died because its instance folder resolved inside site-packages)."""

from __future__ import annotations

from pathlib import Path

import backend
from backend.runtime import Core
from backend.settings import Settings
from backend.worker import make_celery

CODE_ROOT = Path(backend.__file__).resolve().parent.parent  # site-packages, once installed


def _write_targets(settings: Settings) -> dict[str, Path]:
    return {
        "sqlite": Path(settings.effective_database_url.removeprefix("sqlite:///")),
        "instance": settings.instance_path,
        "demo csv": settings.demo_csv_path,
        "fakes state": settings.fakes_state_path,
        "fakes keys": settings.fakes_keys_path,
        "beat schedule": Path(
            make_celery(
                settings.with_(redis_url="redis://127.0.0.1:1/0")
            ).conf.beat_schedule_filename
        ),
    }


def test_package_directory_is_never_a_write_target_when_defaults_are_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for what, path in _write_targets(Settings.from_env({})).items():
        assert not path.is_relative_to(CODE_ROOT), what
        assert path.is_relative_to(tmp_path), what


def test_write_targets_resolve_under_instance_dir_when_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    state = tmp_path / "state"
    targets = _write_targets(Settings.from_env({"GJJ_INSTANCE_DIR": str(state)}))
    for what in ("sqlite", "demo csv", "fakes state", "beat schedule"):
        assert targets[what].parent == state, what


def test_runtime_creates_the_sqlite_folder_under_instance_dir_when_database_url_unset(tmp_path):
    state = tmp_path / "state"
    rt = Core.build(Settings(instance_dir=str(state)))
    try:
        assert state.is_dir()
        assert rt.engine.url.database == str(state / "gjj.sqlite3")
    finally:
        rt.close()

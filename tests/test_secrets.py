"""The secret key never leaves the Authorization header: not on stdout or stderr (with -v/-vv), not in
a traceback, not in the sandbox's request log, not in any byte of the database, its WAL or its lock."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, Run, control, fault

from khalti_cli.sandbox import SandboxServer, start_sandbox

SECRET = "live_secret_key_6b1f3e9d0c2a47f58e1d9c3b7a604e2f"
WRONG = "live_secret_key_a9d2e7c41b3f5086d7e2a9c4b1f3e608"
FORMATS = ("table", "tsv", "csv", "json", "jsonl")


def fragments(key: str) -> set[str]:
    """The key and every 12-character piece of it: a partly masked key is still a leak."""
    return {key} | {key[i : i + 12] for i in range(len(key) - 11)}


def assert_clean(text: str | bytes, *keys: str, where: str = "") -> None:
    data = text.encode() if isinstance(text, str) else text
    for key in keys:
        for piece in fragments(key):
            assert piece.encode() not in data, f"{piece!r} found in {where}"


class Recorder:
    """Runs the CLI and keeps every stdout and stderr it produced."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.runs: list[tuple[tuple[str, ...], Run]] = []

    def __call__(
        self, *args: str, code: int | None = 0, input: str | None = None, env: dict[str, str] | None = None
    ) -> Run:
        run = self.cli(*args, input=input, env=env)
        self.runs.append((args, run))
        if code is not None:
            assert run.exit_code == code, (args, run)
        return run

    def check(self, *keys: str) -> None:
        assert self.runs
        for args, run in self.runs:
            assert_clean(run.stdout, *keys, where=f"stdout of {args}")
            assert_clean(run.stderr, *keys, where=f"stderr of {args}")


@pytest.fixture
def logged() -> Iterator[tuple[SandboxServer, io.StringIO]]:
    log = io.StringIO()
    with start_sandbox(key=SECRET, log=log) as server:
        yield server, log


@pytest.fixture
def env(logged: tuple[SandboxServer, io.StringIO], monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    server, _ = logged
    monkeypatch.setenv("KHALTI_BASE_URL", server.url)
    monkeypatch.setenv("KHALTI_SECRET_KEY", SECRET)
    monkeypatch.setenv("KHALTI_WEBSITE_URL", "https://school.example.edu.np")
    monkeypatch.setenv("KHALTI_TIMEOUT", "1")
    return server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def every_file_is_clean(root: Path, *keys: str, skip: tuple[str, ...] = ()) -> list[str]:
    names = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name not in skip:
            assert_clean(path.read_bytes(), *keys, where=str(path))
            names.append(path.name)
    return names


def test_the_key_stays_secret_everywhere(
    cli: Cli,
    env: SandboxServer,
    logged: tuple[SandboxServer, io.StringIO],
    isolated: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, log = logged
    run = Recorder(cli)
    for n, verbose in enumerate(((), ("-v",), ("-vv",))):
        run(
            *verbose,
            "create",
            "--amount",
            "1500",
            "--name",
            "Grade 5",
            "--order-id",
            f"A{n}",
            "--customer-name",
            "Ram",
            "--customer-email",
            "ram@example.com",
            "--customer-phone",
            "9800000001",
        )
        run(*verbose, "create", "--amount", "2000", "--name", "Bus", "--order-id", f"B{n}", "--initiate")
    run("-vv", "create", "--amount", "10", "--name", "x", "--order-id", "J", "--format", "json")
    for fmt in FORMATS:
        oid = f"F-{fmt}"
        run("create", "--amount", "1500", "--name", "fee", "--order-id", oid)
        run("-vv", "initiate", oid, "--format", fmt)
    url = run("-v", "initiate", "A0").stdout.strip()
    pidx = url.split("pidx=")[1]
    control(server, pidx, "complete")
    run("-vv", "lookup", "A0")
    run("-v", "lookup", pidx)
    run("-vv", "lookup", "-", input="A1\nB1\n")
    for fmt in FORMATS:
        run("-vv", "lookup", "A0", "B0", "--format", fmt)
        run("-vv", "show", "A0", "--format", fmt)
        run("-vv", "list", "--format", fmt)
        run("-vv", "history", "A0", "--format", fmt)
        run("-vv", "reconcile", "--all", "--format", fmt)
    run("-vv", "reconcile", "--dry-run")
    run("-vv", "reconcile")

    # error paths
    run("-vv", "lookup", "B1", env={"KHALTI_SECRET_KEY": WRONG}, code=4)
    run("-vv", "initiate", "A1", env={"KHALTI_SECRET_KEY": WRONG}, code=4)
    run("-vv", "reconcile", env={"KHALTI_SECRET_KEY": WRONG}, code=4)
    down = {"KHALTI_BASE_URL": f"http://127.0.0.1:{closed_port()}"}
    run("-vv", "initiate", "A2", "--force", env=down, code=75)
    fault(server, {"status": 503, "count": 4})
    run("-vv", "lookup", "B1", code=75)
    fault(server, {"drop": True, "path": "initiate"})
    run("-vv", "initiate", "A1", code=75)
    fault(server, {"delay_ms": 700, "path": "initiate"})
    run("-vv", "initiate", "A2", "--force", env={"KHALTI_TIMEOUT": "0.3"}, code=75)
    fault(server, {"json": {"detail": f"echo {SECRET[:4]}", "status_code": 401}, "status": 401})
    run("-vv", "lookup", "B2", code=4)
    fault(server, {"json": {"pidx": pidx, "status": "Weird"}, "path": "lookup"})
    run("-vv", "lookup", "A0", code=5)
    run("-vv", "create", "--amount", "1e3", "--name", "x", code=3)
    run("-vv", "show", "NOPE", code=3)
    run("-vv", "initiate", "F-csv", "--force", env={"KHALTI_WEBSITE_URL": ""}, code=4)
    run("-vv", "--env", "production", "lookup", "A0", code=4)
    run("-vv", "lookup", "A0", env={"KHALTI_SECRET_KEY": ""}, code=4)
    # an unexpected error (exit 1) with its traceback: a planted bug where reconcile takes its lock
    import khalti_cli.lock

    monkeypatch.setattr(khalti_cli.lock, "_open_lock", planted_bug)
    crashed = run("-vv", "reconcile", code=1)
    assert "Traceback" in crashed.stderr and "-v" in crashed.stderr
    run.check(SECRET, WRONG)

    assert_clean(log.getvalue(), SECRET, WRONG, where="the sandbox log")
    assert "POST /api/v2/epayment/lookup/" in log.getvalue()
    files = every_file_is_clean(isolated, SECRET, WRONG)
    assert "khalti.db" in files


def planted_bug(path: Path) -> int:
    raise RuntimeError(f"a planted bug at {path.name}")


def test_the_database_and_wal_bytes(cli: Cli, env: SandboxServer, isolated: Path) -> None:
    """Read the raw files while the WAL still holds the latest pages (before any checkpoint)."""
    from khalti_cli.store import open_store

    assert cli("create", "--amount", "1500", "--name", "fee", "--order-id", "A", "--initiate").exit_code == 0
    store = open_store(isolated / "khalti.db")  # held open: the WAL is not checkpointed away
    try:
        run = cli("lookup", "A")
        assert run.exit_code == 0, run.stderr
        wal = isolated / "khalti.db-wal"
        assert wal.is_file() and wal.stat().st_size > 0
        for name in ("khalti.db", "khalti.db-wal", "khalti.db-shm"):
            path = isolated / name
            if path.exists():
                assert_clean(path.read_bytes(), SECRET, where=name)
        # the WAL really holds the lookup's data (so the check above read something)
        assert b"Initiated" in wal.read_bytes()
    finally:
        store.close()


def test_key_from_the_env_file(cli: Cli, env: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KHALTI_SECRET_KEY")
    dot_env = isolated / ".env"
    dot_env.write_text(f"KHALTI_SECRET_KEY={SECRET}\n")
    dot_env.chmod(0o644)  # readable by others: a warning, which must not quote the key
    run = Recorder(cli)
    started = run("-vv", "create", "--amount", "1500", "--name", "fee", "--order-id", "A", "--initiate")
    assert "chmod 600" in started.stderr
    run("-vv", "lookup", "A")
    run("-vv", "list", "--format", "json")
    dot_env.write_text(f"KHALTI_SECRET_KEY={WRONG}\n")
    run("-vv", "lookup", "A", code=4)
    run.check(SECRET, WRONG)
    every_file_is_clean(isolated, SECRET, WRONG, skip=(".env",))


def test_settings_never_show_the_key(isolated: Path) -> None:
    from khalti_cli.config import load_settings

    settings = load_settings(environ={"KHALTI_SECRET_KEY": SECRET}, cwd=isolated)
    for text in (repr(settings), str(settings), f"{settings}", repr(settings.secret_key), str(settings.secret_key)):
        assert_clean(text, SECRET, where="settings")
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(settings.secret_key)
    assert settings.require_key() == SECRET


def test_installed_program_error_paths(
    run_khalti: Any, env: SandboxServer, logged: tuple[SandboxServer, io.StringIO], isolated: Path
) -> None:
    import os

    environ = {k: v for k, v in os.environ.items() if k.startswith("KHALTI_")}
    runs = [
        run_khalti("-vv", "create", "--amount", "1500", "--name", "fee", "--order-id", "A", "--initiate", env=environ)
    ]
    assert runs[0].exit_code == 0, runs[0].stderr
    runs.append(run_khalti("-vv", "lookup", "A", env={**environ, "KHALTI_SECRET_KEY": WRONG}))
    down = {**environ, "KHALTI_BASE_URL": f"http://127.0.0.1:{closed_port()}"}
    runs.append(run_khalti("-vv", "initiate", "A", "--force", env=down))
    plugin = isolated / "planted"  # a bug where reconcile takes its lock, planted in the installed program
    plugin.mkdir()
    (plugin / "sitecustomize.py").write_text(
        "import khalti_cli.lock\n\n\ndef _bug(path):\n    raise RuntimeError('a planted bug')\n\n\n"
        "khalti_cli.lock._open_lock = _bug\n"
    )
    runs.append(run_khalti("-vv", "reconcile", env={**environ, "PYTHONPATH": str(plugin)}))
    assert [r.exit_code for r in runs] == [0, 4, 75, 1]
    assert "Traceback" in runs[-1].stderr
    for r in runs:
        assert_clean(r.stdout + r.stderr, SECRET, WRONG, where="a subprocess run")
    assert_clean(logged[1].getvalue(), SECRET, WRONG, where="the sandbox log")
    every_file_is_clean(isolated, SECRET, WRONG)

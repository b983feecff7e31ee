"""Shared fixtures. Every test runs in its own directory with its own database and no KHALTI_* from the
developer's environment; Khalti is the real `khalti sandbox` emulator on loopback."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest_sandbox_helpers import KEY, api_client
from typer.testing import CliRunner

from khalti_cli.cli.app import app
from khalti_cli.sandbox import SandboxServer, start_sandbox

# The docs' own sample sandbox key: the sandbox tests send it exactly as Khalti's examples do.
TEST_KEY = KEY


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("KHALTI_") or name in ("NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KHALTI_DB", str(tmp_path / "khalti.db"))
    return tmp_path


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_sandbox(key=TEST_KEY)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture
def api(sandbox: SandboxServer) -> Iterator[httpx.Client]:
    """A plain HTTP client for the sandbox's API, authenticated like the docs' samples."""
    with api_client(sandbox.url) as client:
        yield client


@pytest.fixture
def configured(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """Environment pointing the CLI at the sandbox with a valid key and URLs."""
    monkeypatch.setenv("KHALTI_BASE_URL", sandbox.url)
    monkeypatch.setenv("KHALTI_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("KHALTI_WEBSITE_URL", "https://school.example.edu.np")
    monkeypatch.setenv("KHALTI_RETURN_URL", "https://school.example.edu.np/fees/paid")
    monkeypatch.setenv("KHALTI_TIMEOUT", "3")
    return sandbox


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def jsonl(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


class Cli:
    """Drives the app through typer's CliRunner (streams are pipes, not terminals)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Run:
        result = self.runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def khalti_exe() -> list[str]:
    exe = shutil.which("khalti", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "khalti_cli"]


@pytest.fixture
def run_khalti() -> Any:
    """Runs the installed `khalti` as a subprocess (the contract as users see it)."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.run(
            [*khalti_exe(), *args], input=input, capture_output=True, text=True, env=full_env, timeout=timeout
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return run


def control(server: SandboxServer, pidx: str, action: str, body: dict[str, Any] | None = None) -> Any:
    """Plays the payer through the sandbox's control API over HTTP."""
    response = httpx.post(f"{server.url}/sandbox/payments/{pidx}/{action}", json=body or {})
    response.raise_for_status()
    return response.json()


def fault(server: SandboxServer, spec: dict[str, Any]) -> None:
    httpx.post(f"{server.url}/sandbox/faults", json=spec).raise_for_status()


def run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Runs the installed khalti with stdout and stderr on a pseudo-terminal. No pager (nobody is there to
    press q), unless the test names one."""
    env = {"KHALTI_PAGER": "cat", **env}
    master, slave = pty.openpty()
    proc = subprocess.Popen([*khalti_exe(), *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode()


# --- messages to parents: the SMS emulator (in the sandbox) and a real SMTP server on loopback ---

SMS_TOKEN = "sparrow-test-token-5f2c"
SMTP_PASSWORD = "smtp-test-password-9d1e"


@pytest.fixture
def messaging(configured: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    """The CLI pointed at the sandbox's Sparrow SMS emulator, with quiet hours off (tests run at any hour)."""
    monkeypatch.setenv("KHALTI_SMS_URL", f"{configured.url}/v2")
    monkeypatch.setenv("KHALTI_SMS_TOKEN", SMS_TOKEN)
    monkeypatch.setenv("KHALTI_SMS_FROM", "SchoolDemo")
    monkeypatch.setenv("KHALTI_QUIET_HOURS", "off")
    monkeypatch.setenv("KHALTI_SCHOOL_NAME", "Shree Vidya School")
    return configured


def sms_received(server: SandboxServer) -> list[dict[str, Any]]:
    """What the SMS emulator received, one entry per receiver."""
    response = httpx.get(f"{server.url}/sandbox/sms")
    response.raise_for_status()
    return list(response.json()["messages"])


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, port 0, in its own thread; keeps what arrives.

    `refuse[address] = "550 ..."` refuses that recipient; `hang_s` makes DATA wait that long first.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        import asyncio
        import threading

        from aiosmtpd.smtp import SMTP

        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}
        self.hang_s = 0.0
        self.password: str | None = None  # set: AUTH offered (without TLS: loopback only), this password
        self.logins: list[str] = []
        self.loop = asyncio.new_event_loop()
        sink = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
                if address in sink.refuse:
                    return sink.refuse[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if sink.hang_s:
                    await asyncio.sleep(sink.hang_s)
                sink.received.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
                return "250 Message accepted for delivery"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            from aiosmtpd.smtp import AuthResult, LoginPassword

            ok = isinstance(data, LoginPassword) and data.password.decode() == sink.password
            if ok:
                sink.logins.append(data.login.decode())
            return AuthResult(success=ok)

        def protocol() -> Any:
            if sink.password is None:
                return SMTP(Handler(), hostname="localhost")
            return SMTP(Handler(), hostname="localhost", authenticator=authenticator, auth_require_tls=False)

        async def start() -> Any:
            return await self.loop.create_server(protocol, host, 0)

        self.server = self.loop.run_until_complete(start())
        self.port = self.server.sockets[0].getsockname()[1]
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def messages(self) -> list[Any]:
        from email import message_from_bytes
        from email.policy import default

        return [message_from_bytes(raw, policy=default) for _, _, raw in self.received]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    sink = SmtpSink()
    monkeypatch.setenv("KHALTI_SMTP_URL", f"smtp://127.0.0.1:{sink.port}")
    monkeypatch.setenv("KHALTI_SMTP_FROM", "fees@school.example.edu.np")
    try:
        yield sink
    finally:
        sink.close()

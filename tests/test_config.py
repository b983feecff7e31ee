"""Configuration: options > environment > env file > defaults, the production safety rule, and the files
the tool creates or reads (contract, "Configuration")."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import TEST_KEY, Cli

from khalti_cli.config import load_settings
from khalti_cli.errors import ConfigError
from khalti_cli.sandbox import SandboxServer, start_sandbox

SITE = "https://school.example.edu.np"


def write_env(path: Path, **values: str) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return path


def created(cli: Cli, *global_opts: str, order_id: str = "A") -> int:
    run = cli(*global_opts, "create", "--amount", "1500", "--name", "fee", "--order-id", order_id)
    return run.exit_code


@pytest.fixture
def no_db_env(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> Path:
    monkeypatch.delenv("KHALTI_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(isolated / "xdg"))
    return isolated


# -- precedence, variable by variable ---------------------------------------------------------------


def test_db_precedence(cli: Cli, no_db_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = no_db_env
    default = tmp / "xdg" / "khalti" / "khalti.db"
    # default: the user's data directory
    assert created(cli, order_id="D") == 0
    assert default.is_file()
    # the env file beats the default
    write_env(tmp / ".env", KHALTI_DB="from-file.db")
    assert created(cli, order_id="F") == 0
    assert (tmp / "from-file.db").is_file()
    # the environment beats the env file
    monkeypatch.setenv("KHALTI_DB", str(tmp / "from-env.db"))
    assert created(cli, order_id="E") == 0
    assert (tmp / "from-env.db").is_file()
    # the option beats the environment
    assert created(cli, "--db", str(tmp / "from-option.db"), order_id="O") == 0
    assert (tmp / "from-option.db").is_file()
    for db, order_id in (("from-file.db", "F"), ("from-env.db", "E"), ("from-option.db", "O")):
        run = cli("--db", str(tmp / db), "list", "--format", "json")
        assert [r["order_id"] for r in run.json()] == [order_id]
    monkeypatch.delenv("KHALTI_DB")
    (tmp / ".env").unlink()
    assert [r["order_id"] for r in cli("list", "--format", "json").json()] == ["D"]


def test_default_db_is_the_same_for_every_directory(cli: Cli, no_db_env: Path) -> None:
    assert created(cli) == 0
    elsewhere = no_db_env / "elsewhere"
    elsewhere.mkdir()
    os.chdir(elsewhere)
    assert [r["order_id"] for r in cli("list", "--format", "json").json()] == ["A"]


def test_env_precedence(cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sandbox's URL is plain http on 127.0.0.1: fine for sandbox, refused (exit 4) for production.
    # `lookup NOPE` checks the set-up (exit 4) before the id (exit 3) and sends nothing.
    assert cli("lookup", "NOPE").exit_code == 3  # default: sandbox
    write_env(isolated / ".env", KHALTI_ENV="production")
    run = cli("lookup", "NOPE")
    assert run.exit_code == 4 and "production" in run.stderr
    monkeypatch.setenv("KHALTI_ENV", "sandbox")
    assert cli("lookup", "NOPE").exit_code == 3  # the environment beats the file
    assert cli("--env", "production", "lookup", "NOPE").exit_code == 4  # the option beats the environment
    monkeypatch.setenv("KHALTI_ENV", "production")
    assert cli("--env", "sandbox", "lookup", "NOPE").exit_code == 3
    assert cli("--env", "staging", "lookup", "NOPE").exit_code == 2
    monkeypatch.setenv("KHALTI_ENV", "staging")
    run = cli("lookup", "NOPE")
    assert run.exit_code == 4 and "KHALTI_ENV" in run.stderr
    assert configured.state.all() == []


def test_env_defaults_pick_the_base_url(isolated: Path) -> None:
    sandbox = load_settings(environ={}, cwd=isolated)
    assert (sandbox.env, sandbox.base_url) == ("sandbox", "https://dev.khalti.com")
    production = load_settings(environ={"KHALTI_ENV": "production"}, cwd=isolated)
    assert (production.env, production.base_url) == ("production", "https://khalti.com")
    with pytest.raises(ConfigError, match="KHALTI_SECRET_KEY"):
        production.require_key()
    assert load_settings(env="production", environ={"KHALTI_ENV": "sandbox"}, cwd=isolated).env == "production"


def test_key_precedence(cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert created(cli) == 0
    monkeypatch.delenv("KHALTI_SECRET_KEY")
    write_env(isolated / ".env", KHALTI_SECRET_KEY=TEST_KEY)
    run = cli("initiate", "A")  # the key from the file
    assert run.exit_code == 0, run.stderr
    write_env(isolated / ".env", KHALTI_SECRET_KEY="wrong-key-in-file")
    monkeypatch.setenv("KHALTI_SECRET_KEY", TEST_KEY)
    run = cli("lookup", "A")  # the environment's key wins
    assert run.exit_code == 0, run.stderr
    write_env(isolated / ".env", KHALTI_SECRET_KEY=TEST_KEY)
    monkeypatch.setenv("KHALTI_SECRET_KEY", "wrong-key-in-env")
    run = cli("lookup", "A")
    assert run.exit_code == 4 and "KHALTI_SECRET_KEY" in run.stderr


def test_website_and_return_url_precedence(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KHALTI_WEBSITE_URL")
    monkeypatch.delenv("KHALTI_RETURN_URL")
    write_env(
        isolated / ".env",
        KHALTI_WEBSITE_URL="https://file.example.com",
        KHALTI_RETURN_URL="https://file.example.com/back",
    )
    for order_id in "ABC":
        assert created(cli, order_id=order_id) == 0
    assert cli("initiate", "A").exit_code == 0
    monkeypatch.setenv("KHALTI_WEBSITE_URL", "https://env.example.com")
    assert cli("initiate", "B").exit_code == 0
    write_env(isolated / ".env")  # nothing in the file: return_url defaults to the website URL
    assert cli("initiate", "C").exit_code == 0
    sent = {p["purchase_order_id"]: (p["website_url"], p["return_url"]) for p in configured.state.all()}
    assert sent == {
        "A": ("https://file.example.com", "https://file.example.com/back"),
        "B": ("https://env.example.com", "https://file.example.com/back"),
        "C": ("https://env.example.com", "https://env.example.com"),
    }


def test_base_url_precedence(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert created(cli) == 0
    with start_sandbox(key=TEST_KEY) as other:
        write_env(isolated / ".env", KHALTI_BASE_URL=other.url)
        monkeypatch.delenv("KHALTI_BASE_URL")
        assert cli("initiate", "A").exit_code == 0
        assert len(other.state.all()) == 1
        monkeypatch.setenv("KHALTI_BASE_URL", configured.url)
        assert cli("initiate", "A", "--force").exit_code == 0
        assert len(other.state.all()) == 1 and len(configured.state.all()) == 1


def test_timeout_precedence(
    cli: Cli, configured: SandboxServer, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import fault

    for order_id in "AB":
        assert created(cli, order_id=order_id) == 0
    write_env(isolated / ".env", KHALTI_TIMEOUT="0.3")
    monkeypatch.delenv("KHALTI_TIMEOUT")
    fault(configured, {"delay_ms": 800, "path": "initiate"})
    assert cli("initiate", "A").exit_code == 75  # the file's 0.3 s
    monkeypatch.setenv("KHALTI_TIMEOUT", "5")
    fault(configured, {"delay_ms": 800, "path": "initiate"})
    assert cli("initiate", "B").exit_code == 0  # the environment's 5 s


@pytest.mark.parametrize("suffix", ["", "/", "/api/v2", "/api/v2/"])
def test_base_url_with_api_v2_means_the_same_root(cli: Cli, configured: SandboxServer, suffix: str) -> None:
    assert created(cli) == 0
    run = cli("initiate", "A", env={"KHALTI_BASE_URL": configured.url + suffix})
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith(configured.url + "/?pidx=")
    assert cli("lookup", "A", env={"KHALTI_BASE_URL": configured.url + suffix}).stdout == "A\tinitiated\n"
    root = load_settings(environ={"KHALTI_BASE_URL": "https://dev.khalti.com" + suffix}).base_url
    assert root == "https://dev.khalti.com"


def test_a_base_url_that_is_not_a_url(cli: Cli, configured: SandboxServer) -> None:
    run = cli("lookup", "NOPE", env={"KHALTI_BASE_URL": "dev.khalti.com"})
    assert run.exit_code == 4 and "KHALTI_BASE_URL" in run.stderr


# -- env files -------------------------------------------------------------------------------------


def test_env_file_option_and_variable(cli: Cli, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KHALTI_DB")
    write_env(isolated / ".env", KHALTI_DB="dot.db")
    write_env(isolated / "var.env", KHALTI_DB="var.db")
    write_env(isolated / "opt.env", KHALTI_DB="opt.db")
    assert created(cli, order_id="DOT") == 0
    monkeypatch.setenv("KHALTI_ENV_FILE", str(isolated / "var.env"))
    assert created(cli, order_id="VAR") == 0  # KHALTI_ENV_FILE replaces ./.env
    assert created(cli, "--env-file", "opt.env", order_id="OPT") == 0  # the option beats the variable
    for db, order_id in (("dot.db", "DOT"), ("var.db", "VAR"), ("opt.db", "OPT")):
        assert [r["order_id"] for r in cli("--db", db, "list", "--format", "json").json()] == [order_id]


def test_dot_env_is_read_from_the_current_directory(cli: Cli, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KHALTI_DB")
    write_env(isolated / ".env", KHALTI_DB=str(isolated / "parent.db"))
    child = isolated / "child"
    child.mkdir()
    write_env(child / ".env", KHALTI_DB=str(isolated / "child.db"))
    grandchild = child / "grandchild"
    grandchild.mkdir()
    monkeypatch.setenv("XDG_DATA_HOME", str(isolated / "xdg"))
    monkeypatch.chdir(child)
    assert created(cli, order_id="C") == 0
    assert (isolated / "child.db").is_file() and not (isolated / "parent.db").exists()
    monkeypatch.chdir(grandchild)  # no .env here, and parents' are not searched
    assert created(cli, order_id="G") == 0
    assert (isolated / "xdg" / "khalti" / "khalti.db").is_file()
    assert not (isolated / "parent.db").exists()


def test_missing_env_file_is_exit_4(cli: Cli, isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = cli("--env-file", "nope.env", "list")
    assert run.exit_code == 4 and "nope.env" in run.stderr and "Traceback" not in run.stderr
    monkeypatch.setenv("KHALTI_ENV_FILE", str(isolated / "gone.env"))
    run = cli("list")
    assert run.exit_code == 4 and "gone.env" in run.stderr and "KHALTI_ENV_FILE" in run.stderr


def test_env_file_values_do_not_leak_into_the_environment(cli: Cli, isolated: Path) -> None:
    write_env(isolated / ".env", KHALTI_SCHOOL_NAME="Test School", KHALTI_SECRET_KEY=TEST_KEY)
    assert cli("list").exit_code == 0
    assert "KHALTI_SCHOOL_NAME" not in os.environ and "KHALTI_SECRET_KEY" not in os.environ


# -- production safety -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://khalti.com",
        "https://evil.com",
        "https://khalti.com.evil.com",
        "https://evilkhalti.com",
        "http://a.khalti.com",
        "https://khalti.com@evil.com",
    ],
)
def test_production_refuses_other_hosts_before_sending(cli: Cli, configured: SandboxServer, url: str) -> None:
    assert created(cli) == 0
    assert created(cli, order_id="C") == 0
    assert cli("initiate", "C").exit_code == 0  # a sandbox link, so lookup and reconcile have work
    env = {"KHALTI_ENV": "production", "KHALTI_BASE_URL": url}
    for args in (
        ("initiate", "A"),
        ("initiate", "C", "--force"),
        ("lookup", "C"),
        ("lookup", "NOPE"),
        ("reconcile",),
        ("create", "--amount", "1500", "--name", "x", "--order-id", "B", "--initiate"),
    ):
        run = cli(*args, env=env)
        assert run.exit_code == 4, (args, run)
        # userinfo (`khalti.com@evil.com`) is refused in every environment, before the production check
        assert "Refusing to send the production key" in run.stderr or "user name or password" in run.stderr
        assert run.stdout == ""
    record = cli("show", "A", "--format", "json").json()
    assert record["status"] == "created" and record["links"] == []  # no request was even prepared
    links = cli("show", "C", "--format", "json").json()["links"]
    assert len(links) == 1 and links[0]["checked_at"] is None
    assert cli("show", "B").exit_code == 3
    assert len(configured.state.all()) == 1


@pytest.mark.parametrize(
    "url", ["https://khalti.com", "https://a.khalti.com", "https://khalti.com/api/v2/", "https://KHALTI.com", None]
)
def test_production_accepts_khalti_hosts(cli: Cli, configured: SandboxServer, url: str | None) -> None:
    # `lookup NOPE` passes the set-up check and then stops at the unknown id: exit 3, nothing sent.
    env = {"KHALTI_ENV": "production", "KHALTI_BASE_URL": url}
    run = cli("lookup", "NOPE", env=env)  # type: ignore[arg-type]
    assert run.exit_code == 3, run
    assert "NOPE" in run.stderr
    settings = load_settings(environ={k: v for k, v in {"KHALTI_SECRET_KEY": TEST_KEY, **env}.items() if v})
    assert settings.require_key() == TEST_KEY


# -- missing settings ------------------------------------------------------------------------------


def test_missing_key_names_the_variable(cli: Cli, configured: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KHALTI_SECRET_KEY")
    assert created(cli) == 0
    for args in (("initiate", "A"), ("lookup", "NOPE")):
        run = cli(*args)
        assert run.exit_code == 4
        assert run.stderr.startswith("Error: ") and "KHALTI_SECRET_KEY" in run.stderr
        assert run.stderr.rstrip().endswith(".")
    assert configured.state.all() == []


def test_missing_website_url_names_the_variable(
    cli: Cli, configured: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KHALTI_WEBSITE_URL")
    monkeypatch.delenv("KHALTI_RETURN_URL")
    assert created(cli) == 0
    run = cli("initiate", "A")
    assert run.exit_code == 4 and "KHALTI_WEBSITE_URL" in run.stderr
    assert configured.state.all() == []


# -- files -----------------------------------------------------------------------------------------


def test_database_file_is_private(cli: Cli, isolated: Path) -> None:
    old = os.umask(0o022)
    try:
        assert created(cli) == 0
        db = isolated / "khalti.db"
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        for side in (isolated / "khalti.db-wal", isolated / "khalti.db-shm"):
            if side.exists():
                assert stat.S_IMODE(side.stat().st_mode) & 0o077 == 0, side
        nested = isolated / "new" / "dir" / "k.db"
        assert created(cli, "--db", str(nested)) == 4  # a missing folder is a mistyped path: nothing is made
        assert not (isolated / "new").exists()
        nested.parent.mkdir(parents=True)
        assert created(cli, "--db", str(nested)) == 0
        assert stat.S_IMODE(nested.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_readable_env_file_with_the_key_warns(cli: Cli, isolated: Path) -> None:
    env_file = write_env(isolated / ".env", KHALTI_SECRET_KEY=TEST_KEY)
    run = cli("list")
    assert run.exit_code == 0 and run.stderr == ""
    env_file.chmod(0o640)
    run = cli("list")
    assert run.exit_code == 0
    assert str(env_file) in run.stderr and "chmod 600" in run.stderr
    assert TEST_KEY not in run.stderr
    assert run.stdout.startswith("order_id")  # the warning stays off stdout
    write_env(isolated / ".env", KHALTI_DB="x.db").chmod(0o644)  # no key: nothing to warn about
    assert cli("list").stderr == ""

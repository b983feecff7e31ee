from __future__ import annotations

from conftest import Cli, control

from khalti_cli.sandbox import SandboxServer


def test_create_initiate_pay_lookup(cli: Cli, configured: SandboxServer) -> None:
    created = cli("create", "--amount", "1,500.50", "--name", "Grade 5 tuition", "--order-id", "ORD-1")
    assert created.exit_code == 0, created.stderr
    assert created.stdout == "ORD-1\n"
    started = cli("initiate", "ORD-1")
    assert started.exit_code == 0, started.stderr
    url = started.stdout.strip()
    assert url.startswith(configured.url + "/?pidx=")
    pidx = url.split("pidx=")[1]
    control(configured, pidx, "complete")
    looked = cli("lookup", "ORD-1")
    assert looked.exit_code == 0, looked.stderr
    assert looked.stdout == "ORD-1\tcompleted\n"
    shown = cli("show", "ORD-1", "--format", "json").json()
    assert shown["amount"] == "1500.50" and shown["amount_paisa"] == 150050
    assert [e["kind"] for e in shown["history"]] == ["created", "initiate", "status", "lookup", "status"]

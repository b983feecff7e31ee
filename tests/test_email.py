"""Email to parents through a real SMTP server on loopback (aiosmtpd): what arrives is read back."""

from __future__ import annotations

import pytest
from conftest import SMTP_PASSWORD, Cli, SmtpSink

from khalti_cli.channels.email import parse_smtp_url
from khalti_cli.errors import ConfigError


def add_fee(cli: Cli, ref: str, name: str, email: str, order_id: str, *, initiate: bool = True) -> None:
    assert cli("payers", "add", ref, "--name", name, "--email", email).exit_code == 0
    args = ["create", "--amount", "1500", "--name", "Tuition Mangsir", "--payer", ref, "--order-id", order_id]
    assert cli(*args, *(["--initiate"] if initiate else [])).exit_code == 0


def test_fee_email_arrives_in_nepali_and_english_with_the_slip(cli: Cli, messaging: object, smtp: SmtpSink) -> None:
    add_fee(cli, "S-1", "सीता शर्मा", "sita@example.com", "E-1")
    run = cli("notify", "E-1", "--via", "email")
    assert run.exit_code == 0, run.stderr
    assert "sent 1," in run.stdout
    [msg] = smtp.messages()
    assert msg["To"] == "sita@example.com"
    assert "Shree Vidya School" in msg["From"] and "fees@school.example.edu.np" in msg["From"]
    assert "सीता शर्मा" in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert "तिर्नुहोस्" in body and "Pay with Khalti" in body and "1,500.00" in body
    record = cli("show", "E-1", "--format", "json").json()
    assert record["payment_url"] in body
    [slip] = list(msg.iter_attachments())
    assert slip.get_filename() == "E-1.png" and slip.get_content()[:8] == b"\x89PNG\r\n\x1a\n"


def test_refused_recipient_is_named_the_rest_sent(cli: Cli, messaging: object, smtp: SmtpSink) -> None:
    add_fee(cli, "S-1", "Sita", "sita@example.com", "E-1")
    add_fee(cli, "S-2", "Ram", "ram@example.com", "E-2")
    smtp.refuse["sita@example.com"] = "550 5.1.1 No such mailbox"
    run = cli("notify", "E-1", "E-2", "--via", "email")
    assert run.exit_code == 3
    assert "E-1 (Sita)" in run.stderr and "No such mailbox" in run.stderr
    assert [to for _, to, _ in smtp.received] == [["ram@example.com"]]
    states = {m["order_id"]: m["state"] for m in cli("messages", "--format", "json").json()}
    assert states == {"E-1": "failed", "E-2": "sent"}


def test_mail_server_down_waits_for_the_next_run(
    cli: Cli, messaging: object, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_fee(cli, "S-1", "Sita", "sita@example.com", "E-1")
    monkeypatch.setenv("KHALTI_SMTP_URL", "smtp://127.0.0.1:9")
    run = cli("notify", "E-1", "--via", "email")
    assert run.exit_code == 75 and "wait for the next run" in run.stderr
    assert cli("messages", "--format", "json").json()[0]["state"] == "queued"
    monkeypatch.setenv("KHALTI_SMTP_URL", f"smtp://127.0.0.1:{smtp.port}")
    assert cli("notify", "E-1", "--via", "email").exit_code == 0
    assert len(smtp.received) == 1
    assert cli("notify", "E-1", "--via", "email").exit_code == 0  # already sent: not again
    assert len(smtp.received) == 1


def test_an_unanswered_email_is_unknown_and_not_sent_again(
    cli: Cli, messaging: object, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_fee(cli, "S-1", "Sita", "sita@example.com", "E-1")
    monkeypatch.setenv("KHALTI_TIMEOUT", "0.5")
    smtp.hang_s = 1.5
    run = cli("notify", "E-1", "--via", "email")
    assert run.exit_code == 75 and "may have gone" in run.stderr
    smtp.hang_s = 0
    assert cli("messages", "--format", "json").json()[0]["state"] == "unknown"
    cli("notify", "E-1", "--via", "email")
    assert cli("messages", "--state", "unknown", "--format", "json").json()[0]["order_id"] == "E-1"
    assert len(smtp.received) <= 1  # the slow server kept it (or not): never a second one
    history = cli("history", "E-1", "--format", "json").json()
    assert [e["outcome"] for e in history if e["kind"] == "message"] == ["queued", "unknown"]


def test_smtp_url_rules() -> None:
    target = parse_smtp_url("smtp://fees%40school.edu.np@mail.school.edu.np", None)
    assert (target.port, target.implicit_tls, target.sender, target.loopback) == (
        587,
        False,
        "fees@school.edu.np",
        False,
    )
    assert parse_smtp_url("smtps://u@127.0.0.1", "a@b.np").port == 465
    with pytest.raises(ConfigError, match="KHALTI_SMTP_PASSWORD"):
        parse_smtp_url(f"smtp://u:{SMTP_PASSWORD}@mail.example.com", "a@b.np")
    with pytest.raises(ConfigError, match="KHALTI_SMTP_FROM"):
        parse_smtp_url("smtp://mail.example.com", None)


def test_plain_smtp_to_another_machine_is_refused(cli: Cli, messaging: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """No STARTTLS on a server that is not loopback: nothing is sent, exit 4. (A real SMTP server on a
    non-loopback address of this machine, when it has one; else the rule is checked on the parsed URL.)"""
    import socket

    from conftest import SmtpSink as Sink

    name = socket.gethostname()
    try:
        address = socket.gethostbyname(name)
    except OSError:
        address = "127.0.0.1"
    # khalti decides "loopback" from the URL alone (localhost or a loopback IP), never by resolving a name:
    # so where this machine's name resolves to 127.x, the URL names the machine and the sink listens there.
    host = name if address.startswith("127.") else address
    sink = Sink(host=address)
    try:
        monkeypatch.setenv("KHALTI_SMTP_URL", f"smtp://{host}:{sink.port}")
        monkeypatch.setenv("KHALTI_SMTP_FROM", "fees@school.example.edu.np")
        add_fee(cli, "S-1", "Sita", "sita@example.com", "E-1")
        run = cli("notify", "E-1", "--via", "email")
        assert run.exit_code == 4 and "STARTTLS" in run.stderr
        assert sink.received == []
    finally:
        sink.close()


def test_login_and_the_password_is_never_shown(
    cli: Cli, messaging: object, smtp: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    smtp.password = SMTP_PASSWORD
    monkeypatch.setenv("KHALTI_SMTP_URL", f"smtp://fees@127.0.0.1:{smtp.port}")
    monkeypatch.setenv("KHALTI_SMTP_PASSWORD", "wrong-" + SMTP_PASSWORD)
    add_fee(cli, "S-1", "Sita", "sita@example.com", "E-1")
    wrong = cli("-v", "notify", "E-1", "--via", "email")
    assert wrong.exit_code == 4 and "refused the login" in wrong.stderr
    monkeypatch.setenv("KHALTI_SMTP_PASSWORD", SMTP_PASSWORD)
    right = cli("-v", "notify", "E-1", "--via", "email")
    assert right.exit_code == 0 and smtp.logins == ["fees"] and len(smtp.received) == 1
    shown = wrong.stdout + wrong.stderr + right.stdout + right.stderr
    shown += "\n".join(str(m) for m in cli("history", "E-1", "--format", "json").json())
    assert SMTP_PASSWORD not in shown

"""notify: fee messages and thank-yous by SMS against the Sparrow SMS emulator, end to end: bad input,
templates, dry runs, outages, two runs at once, a SIGKILL mid-batch (no message twice, none lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import SMS_TOKEN, Cli, SmtpSink, control, fault, khalti_exe, sms_received
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khalti_cli.sandbox import SandboxServer, start_sandbox


def fees_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """order_id, customer_name, customer_phone -> an import file of Rs 1500 fees."""
    lines = ["order_id,name,amount,customer_name,customer_phone"]
    lines += [f'{o},Tuition,1500,"{n}",{p}' for o, n, p in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fees_in_subprocess(server: SandboxServer, tmp_path: Path, rows: list[tuple[str, str, str]]) -> dict[str, str]:
    """An environment for the installed khalti pointed at `server` (Khalti and SMS), with `rows` imported
    and initiated through it."""
    env = dict(os.environ)
    env.update(
        {
            "KHALTI_BASE_URL": server.url,
            "KHALTI_SECRET_KEY": "k",
            "KHALTI_WEBSITE_URL": "https://school.example.edu.np",
            "KHALTI_SMS_URL": f"{server.url}/v2",
            "KHALTI_SMS_TOKEN": SMS_TOKEN,
            "KHALTI_SMS_FROM": "S",
            "KHALTI_QUIET_HOURS": "off",
        }
    )
    csv_file = str(fees_csv(tmp_path / "f.csv", rows))
    made = subprocess.run([*khalti_exe(), "import", "--initiate", csv_file], env=env, capture_output=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return env


def test_fee_sms_bad_input_named_the_rest_sent(cli: Cli, messaging: SandboxServer, tmp_path: Path) -> None:
    rows = [("N-1", "Sita", "+977-९८०००००००१"), ("N-2", "Ram", "01-4412345"), ("N-3", "Hari", "")]
    assert cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", rows))).exit_code == 0
    run = cli("notify", "N-1", "N-2", "N-3", "--via", "sms", "--lang", "en")
    assert run.exit_code == 3
    assert "N-2 (Ram): the phone '01-4412345' is not a Nepali mobile number" in run.stderr
    assert "N-3 (Hari): the payer has no phone" in run.stderr
    [got] = sms_received(messaging)
    assert got["to"] == "9800000001" and "Tuition for Sita, Rs 1,500.00" in got["text"]
    assert got["from"] == "SchoolDemo"
    fault(messaging, {"path": "sms", "status": 500, "body": f"token={SMS_TOKEN} echoed back"})
    assert cli("notify", "N-1", "--via", "sms", "--again").exit_code == 75
    stored = b"".join(p.read_bytes() for p in Path(os.environ["KHALTI_DB"]).parent.glob("khalti.db*"))
    assert SMS_TOKEN.encode() not in stored and b"echoed back" in stored  # the answer kept, the token not


def test_unknown_placeholder_sends_nothing(cli: Cli, messaging: SandboxServer, tmp_path: Path) -> None:
    assert (
        cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", [("N-1", "Sita", "9800000001")]))).exit_code == 0
    )
    template = tmp_path / "t.txt"
    template.write_text("Dear {payer}, pay {amount} by {deadline}.", encoding="utf-8")
    run = cli("notify", "N-1", "--template", str(template))
    assert run.exit_code == 3 and "{deadline}" in run.stderr and "Nothing was sent" in run.stderr
    template.write_text("Dear {payer.__class__}", encoding="utf-8")
    assert cli("notify", "N-1", "--template", str(template)).exit_code == 3
    assert sms_received(messaging) == []
    assert cli("messages", "--format", "json").json() == []


def test_too_long_sms_is_refused_for_that_one(cli: Cli, messaging: SandboxServer, tmp_path: Path) -> None:
    rows = [("N-1", "Sita", "9800000001"), ("N-2", "क" * 190, "9800000002")]
    assert cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", rows))).exit_code == 0
    template = tmp_path / "t.txt"
    template.write_text("{payer} {payer} {payer} {fee}: {amount} {pay_url}", encoding="utf-8")
    run = cli("notify", "N-1", "N-2", "--template", str(template), "--via", "sms")
    assert run.exit_code == 3 and "N-2" in run.stderr and "parts" in run.stderr
    assert [m["to"] for m in sms_received(messaging)] == ["9800000001"]


def test_dry_run_prints_segments_and_credits_and_sends_nothing(
    cli: Cli, messaging: SandboxServer, tmp_path: Path
) -> None:
    rows = [("N-1", "सीता", "9800000001"), ("N-2", "Sita", "9800000002")]
    assert cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", rows))).exit_code == 0
    run = cli("notify", "N-1", "--via", "sms", "--dry-run")
    assert run.exit_code == 0
    assert "(UCS-2," in run.stdout and "would send 1 SMS using 3 credit(s)" in run.stdout
    assert "The SMS account has 100000 credit(s); this run needs 3." in run.stderr
    httpx.post(f"{messaging.url}/sandbox/sms", json={"credits": 2}).raise_for_status()
    assert "fewer than the 3 this run needs" in cli("notify", "N-1", "--via", "sms", "--dry-run").stderr
    english = cli("notify", "N-2", "--via", "sms", "--dry-run", "--lang", "en")
    assert "1 SMS (GSM-7" in english.stdout
    assert sms_received(messaging) == [] and cli("messages", "--format", "json").json() == []


@settings(max_examples=3, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    names=st.lists(
        st.text(st.characters(codec="utf-8", categories=["L", "M", "N", "P", "S", "Zs"]), min_size=1, max_size=40),
        min_size=6,
        max_size=6,
    )
)
def test_hostile_names_reach_the_parent_verbatim(
    cli: Cli, messaging: SandboxServer, smtp: SmtpSink, names: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Braces, quotes, Devanagari, emoji: each SMS and email arrives once, as the template made it,
    unexpanded, with the name whole in the email's subject."""
    import csv

    httpx.delete(f"{messaging.url}/sandbox/sms").raise_for_status()
    smtp.received.clear()
    folder = tmp_path_factory.mktemp("hostile")
    db, fees = str(folder / "k.db"), folder / "fees.csv"
    with fees.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "name", "amount", "customer_name", "customer_phone", "customer_email"])
        for i, name in enumerate(names):
            writer.writerow([f"H-{i}", "Fee", "1500", name, f"98000000{i:02d}", f"parent{i}@example.com"])
    cli("--db", db, "import", "--initiate", "--skip-invalid", str(fees))  # a name the register refuses is left out
    records = cli("--db", db, "list", "--format", "json").json()
    if not records:
        return
    sent = cli("--db", db, "notify", *[r["order_id"] for r in records], "--lang", "en")
    assert sent.exit_code == 0, sent.stderr
    texts = {m["to"]: m["text"] for m in sms_received(messaging)}
    assert len(texts) == len(records) == len(sms_received(messaging))
    mails = {m["To"]: m for m in smtp.messages()}
    assert len(mails) == len(records) == len(smtp.received)
    for record in records:
        text = texts[record["customer_phone"]]
        assert text.startswith(f"Shree Vidya School: Fee for {record['customer_name']}, Rs 1,500.00, due ")
        assert text.endswith(record["payment_url"])
        mail = mails[record["customer_email"]]
        assert " ".join(record["customer_name"].split()) in " ".join(str(mail["Subject"]).split())
        assert text in mail.get_body(("plain",)).get_content()


def test_outage_exits_75_and_the_rest_go_next_run(cli: Cli, messaging: SandboxServer, tmp_path: Path) -> None:
    rows = [(f"N-{i}", f"P{i}", f"98000000{i:02d}") for i in range(6)]
    assert cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", rows))).exit_code == 0
    fault(messaging, {"path": "sms", "status": 503, "count": 100})
    ids = [r[0] for r in rows]
    run = cli("notify", *ids, "--via", "sms", "--concurrency", "1")
    assert run.exit_code == 75 and "wait for the next run" in run.stderr
    assert sms_received(messaging) == []
    httpx.delete(f"{messaging.url}/sandbox/faults").raise_for_status()
    assert cli("notify", *ids, "--via", "sms").exit_code == 0
    assert sorted(m["to"] for m in sms_received(messaging)) == sorted(r[2] for r in rows)
    assert cli("notify", *ids, "--via", "sms").exit_code == 0  # nothing twice
    assert len(sms_received(messaging)) == 6


def test_bad_token_exits_4_and_nothing_is_lost(
    cli: Cli, messaging: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", [("N-1", "Sita", "9800000001")]))).exit_code == 0
    )
    with start_sandbox(sms_token="right") as server:
        monkeypatch.setenv("KHALTI_SMS_URL", f"{server.url}/v2")
        monkeypatch.setenv("KHALTI_SMS_TOKEN", "wrong-token-value")
        run = cli("-v", "notify", "N-1", "--via", "sms")
        assert run.exit_code == 4 and "Invalid Token" in run.stderr
        assert "wrong-token-value" not in run.stdout + run.stderr
        monkeypatch.setenv("KHALTI_SMS_TOKEN", "right")
        assert cli("notify", "N-1", "--via", "sms").exit_code == 0
        assert len(sms_received(server)) == 1


def test_thank_you_with_receipt_once(cli: Cli, messaging: SandboxServer, smtp: object, tmp_path: Path) -> None:
    assert (
        cli(
            "create",
            "--amount",
            "1500",
            "--name",
            "Tuition",
            "--order-id",
            "T-1",
            "--customer-name",
            "Sita",
            "--customer-phone",
            "9800000001",
            "--customer-email",
            "sita@example.com",
            "--initiate",
        ).exit_code
        == 0
    )
    pidx = cli("show", "T-1", "--format", "json").json()["pidx"]
    assert cli("notify", "--paid").stdout.startswith("sent 0,")  # nothing paid yet
    control(messaging, pidx, "complete")
    assert cli("lookup", "T-1").exit_code == 0
    run = cli("notify", "--paid", "--lang", "en")
    assert run.exit_code == 0 and run.stdout.startswith("sent 2,"), run.stderr
    receipt_no = cli("show", "T-1", "--format", "json").json()["receipt_no"]
    assert receipt_no
    [sms] = sms_received(messaging)
    assert "thank you" in sms["text"] and f"Receipt no. {receipt_no}" in sms["text"]
    [mail] = smtp.messages()  # type: ignore[attr-defined]
    assert receipt_no in mail["Subject"]
    [receipt] = list(mail.iter_attachments())
    # the receipt `khalti receipt` prints: the same PNG, named by its number and order id
    assert receipt.get_filename() == f"{receipt_no.replace('/', '-')}_T-1.png"
    assert receipt.get_content_type() == "image/png"
    printed = tmp_path / "printed"
    assert cli("receipt", "T-1", "--out", str(printed)).exit_code == 0
    assert receipt.get_content() == (printed / receipt.get_filename()).read_bytes()
    assert cli("notify", "--paid").stdout.startswith("sent 0,")
    assert len(sms_received(messaging)) == 1 and len(smtp.received) == 1  # type: ignore[attr-defined]


def test_thank_you_by_one_channel_waits_while_the_other_went(cli: Cli, messaging: SandboxServer, smtp: object) -> None:
    assert (
        cli(
            "create",
            "--amount",
            "1500",
            "--name",
            "Tuition",
            "--order-id",
            "T-1",
            "--customer-phone",
            "9800000001",
            "--customer-email",
            "sita@example.com",
            "--initiate",
        ).exit_code
        == 0
    )
    control(messaging, cli("show", "T-1", "--format", "json").json()["pidx"], "complete")
    assert cli("lookup", "T-1").exit_code == 0
    fault(messaging, {"path": "sms", "status": 503})
    assert cli("notify", "--paid").exit_code == 75
    assert len(smtp.received) == 1 and sms_received(messaging) == []  # type: ignore[attr-defined]
    assert cli("notify", "--paid").exit_code == 0
    assert len(sms_received(messaging)) == 1 and len(smtp.received) == 1  # type: ignore[attr-defined]


def test_two_runs_at_once_one_waits(cli: Cli, messaging: SandboxServer, tmp_path: Path) -> None:
    from khalti_cli.lock import messages_lock

    assert (
        cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", [("N-1", "Sita", "9800000001")]))).exit_code == 0
    )
    with messages_lock(Path(os.environ["KHALTI_DB"])):
        busy = cli("notify", "N-1", "--via", "sms")
    assert busy.exit_code == 75 and "Another khalti run is sending messages" in busy.stderr
    assert sms_received(messaging) == []


def test_sigkill_mid_batch_no_message_twice_none_lost(cli: Cli, tmp_path: Path) -> None:
    rows = [(f"K-{i:03d}", f"P{i}", f"9800{i:06d}") for i in range(80)]
    with start_sandbox(latency_ms=40) as server:
        env = fees_in_subprocess(server, tmp_path, rows)
        args = [*khalti_exe(), "remind", "--via", "sms", "--concurrency", "4"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(sms_received(server)) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first = len(sms_received(server))
        assert 20 <= first < 80
        again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode in (0, 75)  # 75 when the killed run left messages unknown
        got = [m["to"] for m in sms_received(server)]
        assert len(got) == len(set(got))  # no message twice
        ledger = {m["order_id"]: m for m in cli("messages", "--format", "json").json()}
        assert set(ledger) == {r[0] for r in rows}  # none lost: every fee has its reminder recorded
        for order_id, phone, *_ in ((r[0], r[2]) for r in rows):
            state = ledger[order_id]["state"]
            assert state in ("sent", "unknown"), (order_id, state)
            if state == "sent":
                assert phone in got
        assert sum(1 for m in ledger.values() if m["state"] == "unknown") <= 6  # at most the ones handed over


def test_the_same_text_goes_in_one_request_and_again_sends_once_more(
    cli: Cli, messaging: SandboxServer, tmp_path: Path
) -> None:
    rows = [(f"N-{i}", f"P{i}", f"98000000{i:02d}") for i in range(5)]
    assert cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", rows))).exit_code == 0
    template = tmp_path / "same.txt"
    template.write_text("Fees for Mangsir are due on Friday. Thank you. {school}", encoding="utf-8")
    ids = [r[0] for r in rows]
    assert cli("notify", *ids, "--via", "sms", "--template", str(template)).exit_code == 0
    got = sms_received(messaging)
    assert sorted(m["to"] for m in got) == sorted(r[2] for r in rows)
    assert len({m["request"] for m in got}) == 1  # one request, a comma-separated `to`
    assert cli("notify", "N-0", "--via", "sms").stdout.startswith("sent 0,")
    assert cli("notify", "-", "--via", "sms", "--again", input="N-0\n\n").stdout.startswith("sent 1,")
    assert [m["to"] for m in sms_received(messaging)].count("9800000000") == 2
    states = [m["state"] for m in cli("messages", "N-0", "--format", "json").json()]
    assert states == ["sent", "sent"]


def test_killed_while_the_gateway_holds_the_answer_the_message_is_unknown_never_resent(
    cli: Cli, messaging: SandboxServer, tmp_path: Path
) -> None:
    """The gateway took the message, the answer is late, the run is SIGKILLed: the next run finds it
    handed over (`sending`), marks it unknown, says so, and does not send it again."""
    assert (
        cli("import", "--initiate", str(fees_csv(tmp_path / "f.csv", [("N-1", "Sita", "9800000001")]))).exit_code == 0
    )
    fault(messaging, {"path": "sms", "delay_ms": 20000})
    proc = subprocess.Popen(
        [*khalti_exe(), "notify", "N-1", "--via", "sms"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not sms_received(messaging) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert cli("messages", "--format", "json").json()[0]["state"] == "sending"
    again = cli("notify", "N-1", "--via", "sms")
    assert again.exit_code == 0 and "marked unknown" in again.stderr
    assert again.stdout.startswith("sent 0,")
    assert len(sms_received(messaging)) == 1
    assert cli("messages", "--format", "json").json()[0]["state"] == "unknown"


def test_ctrl_c_mid_batch_stores_every_answer_and_leaves_nothing_in_doubt(cli: Cli, tmp_path: Path) -> None:
    rows = [(f"C-{i:03d}", f"P{i}", f"9801{i:06d}") for i in range(60)]
    with start_sandbox(latency_ms=60) as server:
        env = fees_in_subprocess(server, tmp_path, rows)
        args = [*khalti_exe(), "remind", "--via", "sms", "--concurrency", "4"]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while len(sms_received(server)) < 12 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130 and "Traceback" not in err
        ledger = cli("messages", "--format", "json").json()
        got = [m["to"] for m in sms_received(server)]
        assert {m["state"] for m in ledger} <= {"sent", "queued"}  # nothing sending, nothing unknown
        assert sorted(m["recipient"] for m in ledger if m["state"] == "sent") == sorted(got)
        again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        got = [m["to"] for m in sms_received(server)]
        assert sorted(got) == sorted(r[2] for r in rows)  # every one, once


def test_fee_message_carries_the_pay_page_link_a_bs_due_date_and_the_actor(
    cli: Cli, messaging: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With KHALTI_PUBLIC_URL set, a fee with no Khalti link yet is sent its durable pay_url (its token made
    now); the due date is BS (Gregorian with KHALTI_CALENDAR=ad); each message event names the actor."""
    from datetime import UTC, datetime, timedelta, timezone

    from khalti_cli.calendar import bs_iso

    monkeypatch.setenv("KHALTI_PUBLIC_URL", "https://fees.school.example.edu.np")
    monkeypatch.setenv("KHALTI_ACTOR", "office-pc")
    for oid, phone in (("P-1", "9800000001"), ("P-2", "9800000002")):
        made = cli("create", "--amount", "1500", "--name", "Tuition", "--order-id", oid, "--customer-phone", phone)
        assert made.exit_code == 0
    dry = cli("notify", "P-1", "--via", "sms", "--dry-run")
    assert dry.exit_code == 0 and "3 SMS" in dry.stdout and sms_received(messaging) == []  # counted with the link
    assert cli("notify", "P-1", "--via", "sms", "--lang", "en").exit_code == 0
    pay_url = cli("show", "P-1", "--format", "json").json()["pay_url"]
    assert pay_url and pay_url.startswith("https://fees.school.example.edu.np/pay/")
    today = datetime.now(UTC).astimezone(timezone(timedelta(hours=5, minutes=45))).date()
    [sms] = sms_received(messaging)
    assert f"Pay with Khalti: {pay_url}" in sms["text"] and f"due {bs_iso(today)}." in sms["text"]
    monkeypatch.setenv("KHALTI_CALENDAR", "ad")
    assert cli("notify", "P-2", "--via", "sms", "--lang", "en").exit_code == 0
    assert f"due {today.isoformat()}." in sms_received(messaging)[-1]["text"]
    history = cli("history", "P-1", "--format", "json").json()
    assert {e["actor"] for e in history if e["kind"] == "message"} == {"office-pc"}

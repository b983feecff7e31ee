"""remind: every unpaid fee, at most once every --every, never in quiet hours, never to a payer who
opted out; -q for cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import Cli, control, sms_received

from khalti_cli.sandbox import SandboxServer
from khalti_cli.services.notify import in_quiet_hours, quiet_window

NEPAL = timezone(timedelta(hours=5, minutes=45))


def payer_with_fee(cli: Cli, ref: str, phone: str, group: str = "Grade 5") -> str:
    assert cli("payers", "add", ref, "--name", f"Parent {ref}", "--phone", phone, "--group", group).exit_code == 0
    made = cli(
        "create", "--amount", "1500", "--name", "Tuition", "--payer", ref, "--order-id", f"F-{ref}", "--initiate"
    )
    assert made.exit_code == 0
    return f"F-{ref}"


def test_remind_every_unpaid_once_per_window_and_opt_out(cli: Cli, messaging: SandboxServer) -> None:
    payer_with_fee(cli, "S1", "9800000001")
    payer_with_fee(cli, "S2", "9800000002", group="Grade 6")
    paid = payer_with_fee(cli, "S3", "9800000003")
    payer_with_fee(cli, "S4", "9800000004")
    control(messaging, cli("show", paid, "--format", "json").json()["pidx"], "complete")
    assert cli("lookup", paid).exit_code == 0
    assert cli("payers", "update", "S4", "--no-sms").exit_code == 0
    assert cli("payers", "show", "S4", "--format", "json").json()["no_sms"] is True

    run = cli("-q", "remind", "--via", "sms", "--group", "Grade 5")
    assert run.exit_code == 0 and run.stdout == "" and run.stderr == ""
    assert [m["to"] for m in sms_received(messaging)] == ["9800000001"]  # S2 other group, S3 paid, S4 out

    again = cli("remind", "--via", "sms", "--format", "json")
    assert again.exit_code == 0
    result = again.json()
    assert result["sent"] == 1 and result["skipped"] == {"opted out of sms": 1, "reminded recently": 1}
    assert sorted(m["to"] for m in sms_received(messaging)) == ["9800000001", "9800000002"]

    assert cli("remind", "--via", "sms", "--every", "0s").exit_code == 0  # window gone: a new reminder each
    assert len(sms_received(messaging)) == 4
    assert cli("payers", "update", "S4", "--sms", "--no-email").exit_code == 0
    shown = cli("payers", "show", "S4", "--format", "json").json()
    assert (shown["no_sms"], shown["no_email"]) == (False, True)
    assert cli("remind", "--via", "sms").exit_code == 0
    assert [m["to"] for m in sms_received(messaging)][-1] == "9800000004"
    history = cli("history", "F-S1", "--format", "json").json()
    assert [e["outcome"] for e in history if e["kind"] == "message"] == ["queued", "sent", "queued", "sent"]


def test_quiet_hours_send_nothing(cli: Cli, messaging: SandboxServer) -> None:
    payer_with_fee(cli, "S1", "9800000001")
    here = datetime.now(UTC).astimezone(NEPAL)
    window = f"{(here - timedelta(hours=1)):%H:%M}-{(here + timedelta(hours=1)):%H:%M}"
    run = cli("remind", "--quiet-hours", window)
    assert run.exit_code == 0 and "Quiet hours" in run.stderr
    assert cli("-q", "notify", "--paid", "--quiet-hours", window).stderr == ""
    assert sms_received(messaging) == [] and cli("messages", "--format", "json").json() == []
    dry = cli("remind", "--via", "sms", "--quiet-hours", window, "--dry-run")
    assert "a real run would send nothing" in dry.stdout


@pytest.mark.parametrize(
    ("nepal_time", "quiet"),
    [("19:59", False), ("20:00", True), ("23:30", True), ("00:00", True), ("06:59", True), ("07:00", False)],
)
def test_default_quiet_hours_are_nepal_evening_to_morning(nepal_time: str, quiet: bool) -> None:
    hour, minute = map(int, nepal_time.split(":"))
    moment = datetime(2026, 11, 28, hour, minute, tzinfo=NEPAL).astimezone(UTC)
    assert in_quiet_hours(moment, quiet_window(None)) is quiet
    assert in_quiet_hours(moment, quiet_window("off")) is False


def test_payer_without_any_contact_is_named_rest_sent(cli: Cli, messaging: SandboxServer, smtp: object) -> None:
    payer_with_fee(cli, "S1", "9800000001")
    assert cli("payers", "add", "S2", "--name", "No Contact").exit_code == 0
    assert (
        cli("create", "--amount", "900", "--name", "Bus", "--payer", "S2", "--order-id", "F-S2", "--initiate").exit_code
        == 0
    )
    assert cli("payers", "add", "S3", "--name", "Mail Only", "--email", "s3@example.com").exit_code == 0
    assert (
        cli("create", "--amount", "900", "--name", "Bus", "--payer", "S3", "--order-id", "F-S3", "--initiate").exit_code
        == 0
    )
    run = cli("remind")  # --via both: every channel each payer has
    assert run.exit_code == 3
    assert "F-S2 (No Contact): the payer has no phone or email" in run.stderr
    assert [m["to"] for m in sms_received(messaging)] == ["9800000001"]
    assert [to for _, to, _ in smtp.received] == [["s3@example.com"]]  # type: ignore[attr-defined]


def test_month_keeps_the_fees_billed_for_that_month(cli: Cli, messaging: SandboxServer) -> None:
    """`remind --month` takes any spelling `khalti bill --month` takes and reminds only the fees billed for
    that BS month (payments.period): not another month's, not a fee raised without a month."""
    for ref, phone in (("M1", "9800000011"), ("M2", "9800000012")):
        assert (
            cli("payers", "add", ref, "--name", f"Parent {ref}", "--phone", phone, "--group", "Grade 7").exit_code == 0
        )
    fees = ("--group", "Grade 7", "--fee", "Tuition=4500", "--initiate")
    assert cli("bill", "--month", "2082-08", *fees).exit_code == 0
    payer_with_fee(cli, "M3", "9800000013", group="Grade 7")  # a fee of no month
    assert cli("bill", "--month", "2082-09", *fees).exit_code == 0  # M1, M2 and M3 each

    bad = cli("remind", "--via", "sms", "--month", "2082-13")
    assert bad.exit_code == 3 and sms_received(messaging) == []

    run = cli("remind", "--via", "sms", "--month", "mangsir 2082", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["sent"] == 2
    assert sorted(m["to"] for m in sms_received(messaging)) == ["9800000011", "9800000012"]

    assert cli("remind", "--via", "sms", "--month", "2082-09").exit_code == 0
    sent = [m["to"] for m in sms_received(messaging)]
    assert len(sent) == 5 and sorted(sent[2:]) == ["9800000011", "9800000012", "9800000013"]
    history = cli("history", "F-M3", "--format", "json").json()
    assert [e for e in history if e["kind"] == "message"] == []  # the fee of no month: never reminded

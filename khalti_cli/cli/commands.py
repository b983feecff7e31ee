"""Which module holds each command, and its one-line summary: so `khalti list` builds `list` alone.

Importing every command module and letting typer build all thirty commands cost about 100 ms on each run.
The root group (boundary.KhaltiGroup) asks this table instead: `khalti --help` prints the summaries from
here without importing any command, and a command's module is imported, built and polished only when
that command runs (or completion asks for it). tests/test_startup.py checks this table against the full
app (cli/app.py): the same names in the same order, and the same help line at every width.
"""

from __future__ import annotations

from typing import Any

# (name, module under khalti_cli.cli, the first sentence of its help), in the order `--help` lists them.
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("create", "payments", "Record a payment."),
    ("initiate", "payments", "Make a payment link for each payment."),
    ("lookup", "payments", "Ask Khalti now and store the answer."),
    ("list", "reading", "List payments, newest first."),
    ("show", "reading", "One payment with its links and its history."),
    ("history", "reading", "Every event of one payment, oldest first."),
    ("reconcile", "reconcile", "Look up every payment link Khalti has not reported final, and store the answers."),
    ("sandbox", "sandbox", "Serve a local emulator of Khalti's API: for training, demos and tests."),
    ("serve", "serve", "Serve the parents' pay page at KHALTI_PUBLIC_URL: /pay/<token>, /return, /healthz."),
    ("doctor", "serve", "Check the set-up end to end: the key, the URLs, the database, the pay page."),
    ("demo", "demo", "Create, initiate, pay, cancel and reconcile a few school fees against a local sandbox."),
    (
        "refund",
        "refund",
        ("Refund a completed payment in full, or in part with --amount; or one paid link of it with --pidx."),
    ),
    ("void", "corrections", "Withdraw fees recorded by mistake or waived: status voided (neither due nor paid)."),
    (
        "settle",
        "corrections",
        ("The whole fee was paid at the counter or the bank: status paid_offline (counts as paid)."),
    ),
    ("resolve", "corrections", "Decide a payment in review: accept it as completed (an underpayment) or void it."),
    (
        "edit",
        "corrections",
        ("Change a fee while no link of it can be paid (created, or every link expired, canceled or failed)."),
    ),
    ("note", "corrections", "Add a note to a payment's history, like 'father phoned; pays on Sunday'."),
    (
        "import",
        "importing",
        (
            "Record one payment per row: amount and name, optionally order_id, customer_name, customer_email, "
            "customer_phone, reference, payer."
        ),
    ),
    (
        "slips",
        "slips",
        (
            "Write a fee slip PNG for each payment: school, payer, fee, amount, expiry in Nepal time and a QR "
            "code of the payment link."
        ),
    ),
    (
        "report",
        "report",
        (
            "The books of a period (default: this BS month): payments by status and by class, collected through "
            "Khalti and outside it, refunds, Khalti's fees, net collected, links about to expire within the hour,"
            " and collections per day."
        ),
    ),
    ("backup", "backup", "Copy the database to FILE, consistently, even while reconcile or other commands run."),
    ("restore", "restore", "Replace the database with BACKUP, after checking it."),
    (
        "bill",
        "school",
        ("Raise one payment per payer of a class (or every class) for a BS month: amount = the sum of its fee heads."),
    ),
    (
        "dues",
        "school",
        (
            "Who owes what, as of now: unpaid fees by class and payer with their periods, totals per class and "
            "for the school."
        ),
    ),
    (
        "receipt",
        "school",
        (
            "Write a printable receipt (PNG; PDF too with --pdf) for each paid payment: school, payer, fee heads,"
            " amount in figures and words, how it was paid, BS and Gregorian date and the receipt number."
        ),
    ),
    (
        "completion",
        "completion",
        ("Print the shell completion script for SHELL: commands, options, statuses and order ids on TAB."),
    ),
    (
        "notify",
        "messages",
        (
            "Send each payment's fee message (school, payer, fee, amount, due date, pay link) to the payer; with "
            "--paid, a thank-you with the receipt to every payer whose payment was newly paid."
        ),
    ),
    (
        "remind",
        "messages",
        (
            "Remind the payer of every unpaid fee, at most once every --every per payment, never in quiet hours, "
            "never by a channel the payer opted out of."
        ),
    ),
    ("messages", "messages", "Every message sent (or tried) to parents, oldest first, with its outcome."),
    ("payers", "payers", "The register of who pays: a reference (student id), name, class or group, phone and email."),
)
NAMES = tuple(name for name, _module, _summary in COMMANDS)
MODULES = tuple(dict.fromkeys(module for _name, module, _summary in COMMANDS))
_MODULE_OF = {name: module for name, module, _summary in COMMANDS}
_SUMMARY_OF = {name: summary for name, _module, summary in COMMANDS}


def summary(name: str, limit: int) -> str:
    """The command's line in `khalti --help`, shortened to `limit` characters exactly as click would."""
    from typer._click.utils import make_default_short_help

    return make_default_short_help(_SUMMARY_OF[name], limit)


def load(name: str) -> Any:
    """The click command `name`, built by typer from the module that holds it; None if there is none."""
    module_name = _MODULE_OF.get(name)
    if module_name is None:
        return None
    import importlib

    import typer
    from typer.main import get_command

    module = importlib.import_module(f"khalti_cli.cli.{module_name}")
    scratch = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)
    scratch.callback()(_nothing)  # a callback makes typer build a group even for a module of one command
    module.register(scratch)
    # only `name`: typer reads every parameter of every function it builds, a few ms a command
    scratch.registered_commands = [c for c in scratch.registered_commands if c.name == name]
    scratch.registered_groups = [g for g in scratch.registered_groups if g.name == name]
    return getattr(get_command(scratch), "commands", {}).get(name)


def register_all(app: Any) -> None:
    """Every command on `app`, in the table's order: the full app tests and completion scripts use."""
    import importlib

    for module_name in MODULES:
        importlib.import_module(f"khalti_cli.cli.{module_name}").register(app)


def _nothing() -> None:
    """The scratch group's callback: never run."""

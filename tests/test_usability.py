"""The small things a person trips on: help, completion, --version, --excel, times and amounts as people
read them, phone numbers in Devanagari digits, spreadsheet columns to leave out, and messages that say
where to look."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

from conftest import Cli, fault, khalti_exe, run_on_terminal

from khalti_cli import __version__
from khalti_cli.money import format_rupees
from khalti_cli.sandbox import SandboxServer


def test_amounts_are_grouped_as_nepal_groups_them() -> None:
    assert format_rupees(15000000) == "Rs 1,50,000.00"
    assert format_rupees(1234567890) == "Rs 1,23,45,678.90"
    assert format_rupees(99950) == "Rs 999.50" and format_rupees(100000) == "Rs 1,000.00"
    assert format_rupees(-15000000) == "-Rs 1,50,000.00"


def test_help_says_what_each_option_takes_with_an_example(run_khalti: Any) -> None:
    listed = run_khalti("list", "--help", env={"COLUMNS": "120"}).stdout
    for text in ("--since DATE", "--status STATUS", "--format [table|tsv|csv|json|jsonl|xlsx]", "--out FILE"):
        assert text in listed, text
    assert "<str>" not in listed and "<int" not in listed
    assert "Usage: khalti initiate [OPTIONS] ORDER_ID..." in run_khalti("initiate", "--help").stdout
    assert "Usage: khalti messages [OPTIONS] [ORDER_ID]\n" in run_khalti("messages", "--help").stdout  # optional
    main_help = run_khalti("--help", env={"COLUMNS": "120"}).stdout
    assert "--db PATH" in main_help and "[default: 0]" not in main_help  # -v is a count: no default shown
    for command in (["void"], ["serve"], ["payers", "list"]):  # the installed khalti (each built when run)
        shown = run_khalti(*command, "--help", env={"COLUMNS": "120"})
        assert shown.exit_code == 0 and "Example: khalti" in shown.stdout, command
    bad = run_khalti("list", "--status", "paid")
    assert bad.exit_code == 2 and "completed" in bad.stderr and "pending" in bad.stderr  # the valid values


# Options whose value really is free text (what a fee is for, a name, a reason, words to search for), shown as
# TEXT. Any other option shown as TEXT fails test_every_option_says_what_it_takes: give it a metavar
# (cli/helptext.py METAVARS) saying what it takes.
FREE_TEXT = {"--name", "--customer-name", "--reason", "--search", "note TEXT"}
ALL_FORMATS = ("table", "tsv", "csv", "json", "jsonl", "xlsx")


@functools.cache
def _root() -> Any:
    """The full app (cli/app.py) as click builds it: every command, polished (built once: it takes a while)."""
    from typer.main import get_command

    from khalti_cli.cli.app import app

    return get_command(app)


def _tree() -> list[tuple[list[str], Any]]:
    """Every command and subcommand of the full app, with its path of names."""
    found: list[tuple[list[str], Any]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(_root(), [])
    return found


def test_every_option_says_what_it_takes() -> None:
    from typer._click import Context

    vague = []
    for path, command in _tree():
        ctx = Context(command, info_name=" ".join(["khalti", *path]))
        for param in command.params:
            if getattr(param, "is_flag", False) or getattr(param, "count", False) or param.hidden:
                continue
            if param.param_type_name == "argument":
                shown, name = param.make_metavar(ctx), f"{' '.join(path)} {param.make_metavar(ctx)}"
            else:
                record = param.get_help_record(ctx)
                shown, name = record[0].rsplit(" ", 1)[1], param.opts[-1]
                assert record[0].startswith(", ".join(param.opts) + " "), record  # a metavar, after the names
            is_int = any(t.__name__ == "IntParamType" for t in type(param.type).__mro__)
            if (shown in ("TEXT", "STR", "INTEGER") or "<" in shown) and (is_int or name not in FREE_TEXT):
                vague.append(f"khalti {' '.join(path)} {name} {shown}")
    assert not vague, "options without a metavar saying what they take:\n" + "\n".join(vague)
    from khalti_cli.cli.helptext import METAVARS
    from khalti_cli.services.corrections import METHODS
    from khalti_cli.services.notify import VIA

    assert METAVARS["method"] == "[" + "|".join(METHODS) + "]" and METAVARS["via"] == "[" + "|".join(VIA) + "]"


def _parse(words: list[str]) -> Any:
    """`khalti WORDS` through the full app's parser (as the installed khalti parses it, without running
    anything): the innermost command's context; click's usage errors propagate."""
    from khalti_cli import output

    excel = output.EXCEL
    try:
        command = _root()
        ctx = command.make_context("khalti", list(words))
        while hasattr(command, "commands"):
            args = [*getattr(ctx, "_protected_args", []), *ctx.args]
            name, command, rest = command.resolve_command(ctx, args)
            ctx = command.make_context(name, rest, parent=ctx)
        return ctx
    finally:
        output.EXCEL = excel  # --excel's callback sets it


def test_format_shows_and_completes_exactly_what_each_command_accepts() -> None:
    from typer._click import Context
    from typer._click.exceptions import UsageError

    checked = 0
    for path, command in _tree():
        fmt = next((p for p in command.params if p.name == "fmt"), None)
        if fmt is None:
            continue
        shown = fmt.metavar.strip("[]").split("|")
        completed = [c.value for c in fmt.shell_complete(Context(command), "")]
        accepted = []
        for value in ALL_FORMATS:
            try:
                _parse([*path, "--format", value.upper()])  # --format first: its check runs first
            except UsageError as exc:
                if getattr(exc, "param", None) is fmt or "--format" in str(getattr(exc, "param_hint", "")):
                    continue
            accepted.append(value)
        assert shown == completed == accepted, (path, shown, completed, accepted)
        assert ("xlsx" in accepted) == any(p.name == "out" and p.metavar == "FILE" for p in command.params), path
        checked += 1
    assert checked >= 20


def test_xlsx_commands_take_every_format_they_show(cli: Cli) -> None:
    assert cli("payers", "add", "S-1", "--name", "Sita", "--class", "Grade 5").exit_code == 0
    assert cli("create", "--amount", "100", "--name", "Fee", "--payer", "S-1").exit_code == 0
    for command in (["list"], ["dues"], ["report"], ["payers", "list"]):
        for value in ("jsonl", "xlsx"):  # the others: every other test; all of them parse (the test above)
            run = cli(*command, "--format", value)
            assert run.exit_code == 0, (command, value, run.stderr)


def test_xlsx_on_a_terminal_names_the_command_and_its_file() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    cases = {"list": "payments.xlsx", "dues": "dues.xlsx", "report": "report.xlsx", "payers list": "payers.xlsx"}
    for command, file in cases.items():
        code, screen = run_on_terminal([*command.split(), "--format", "xlsx"], env)
        said = " ".join(screen.split())
        assert code == 2, screen
        assert f"give --out {file}" in said and f"(khalti {command} --format xlsx > {file})" in said, said


def _example_lines(example: str) -> list[list[str]]:
    """The khalti command lines of an example: split as a shell would (pipes and redirections end one),
    a parenthesised note left out."""
    import shlex

    lexer = shlex.shlex(example, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lines: list[list[str]] = []
    current: list[str] | None = None
    for token in lexer:
        if current is not None and token and all(c in "();<>|&" for c in token):
            lines.append(current)
            current = None
        elif current is None and token == "khalti":
            current = []
        elif current is not None:
            current.append(token)
    if current is not None:
        lines.append(current)
    return lines


def test_every_command_has_an_example_that_parses() -> None:
    from khalti_cli.cli.helptext import EXAMPLES

    paths = set()
    for path, command in _tree():
        if not path:
            continue
        paths.add(" ".join(path))
        epilog = command.epilog or ""
        assert "Example: khalti " in epilog, path
        example = epilog.split("Example: ", 1)[1].split("\n\n", 1)[0]
        lines = _example_lines(example)
        assert lines, (path, example)
        named = []
        for words in lines:
            ctx = _parse(words)  # an option that does not exist, a bad value or a missing one: UsageError
            named.append(ctx.command_path.removeprefix("khalti ").removeprefix("khalti"))
        here = " ".join(path)
        assert any(n == here or n.startswith(here + " ") for n in named), (path, example)  # runs this command
    assert set(EXAMPLES) <= paths  # no example of a command that is not there


def test_version_and_completion(cli: Cli, run_khalti: Any) -> None:
    assert run_khalti("--version").stdout == f"khalti {__version__}\n"
    for order_id in ("KH-1", "KH-2", "X-9"):
        assert cli("create", "--amount", "100", "--name", "Fee", "--order-id", order_id).exit_code == 0
    scripts = {shell: run_khalti("completion", shell) for shell in ("bash", "zsh", "fish")}
    assert all(run.exit_code == 0 and "_KHALTI_COMPLETE=complete_" in run.stdout for run in scripts.values())
    assert run_khalti("completion", "tcsh").exit_code == 2

    def complete(words: str) -> list[str]:
        env = {"_KHALTI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        return run_khalti(env=env).stdout.split()

    assert complete("khalti show KH") == ["KH-2", "KH-1"]  # order ids from the database, newest first
    assert sorted(complete("khalti list --status pa")) == ["paid_offline", "partially_refunded"]
    assert complete("khalti list --format js") == ["json", "jsonl"]
    assert complete("khalti list --format x") == ["xlsx"] and complete("khalti show KH-1 --format x") == []
    assert complete("khalti notify --format j") == ["json"]  # notify's summary has no jsonl
    assert complete("khalti settle KH-1 --method c") == ["cash", "cheque"]
    assert complete("khalti resolve KH-1 --as v") == ["voided"]
    assert "import" in complete("khalti im") and "--since" in complete("khalti list --s")


def test_excel_csv_has_a_byte_order_mark_and_crlf(cli: Cli) -> None:
    assert cli("create", "--amount", "1500", "--name", "शुल्क", "--customer-name", "सीता").exit_code == 0
    import subprocess

    data = subprocess.run([*khalti_exe(), "list", "--excel"], capture_output=True, check=True).stdout
    assert (
        data.startswith(b"\xef\xbb\xbforder_id,")
        and data.count(b"\r\n") == 2
        and b"\n" not in data.replace(b"\r\n", b"")
    )
    assert "सीता".encode() in data
    plain = subprocess.run([*khalti_exe(), "list", "--format", "csv"], capture_output=True, check=True).stdout
    assert plain.startswith(b"order_id,")


def test_one_time_convention_and_local_minutes(cli: Cli, configured: SandboxServer) -> None:
    assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", "T-1", "--initiate").exit_code == 0
    by_python = cli("list", "--format", "json").json()[0]
    by_sql = cli("list", "--format", "jsonl").jsonl()[0]
    assert by_python == by_sql
    for key in ("created_at", "updated_at", "expires_at"):  # Khalti's +05:45 converted at the boundary
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", by_python[key]), (key, by_python[key])
    env = {"KHALTI_TZ": "Asia/Kathmandu", "COLUMNS": "120", "KHALTI_CALENDAR": "ad"}  # Gregorian days, to compare
    table = cli("show", "T-1", "--format", "table", env=env).stdout
    from datetime import datetime, timedelta

    created = datetime.fromisoformat(by_python["created_at"]) + timedelta(hours=5, minutes=45)
    assert re.search(rf"created\s+{created:%Y-%m-%d %H:%M}\s*$", table, re.M)
    assert ".000" not in table and "+00:00" not in table


def test_phone_numbers_in_devanagari_digits(cli: Cli) -> None:
    assert cli("payers", "add", "S-1", "--name", "Sita", "--phone", "९८०००००००१").exit_code == 0
    assert cli("payers", "show", "S-1", "--format", "json").json()["phone"] == "9800000001"
    made = cli("create", "--amount", "१५००", "--name", "Fee", "--customer-phone", "९८०१२३४५६७", "--format", "json")
    assert made.exit_code == 0 and made.json()["customer_phone"] == "9801234567"


def test_open_and_qr_need_initiate(cli: Cli) -> None:
    for flag in ("--open", "--qr"):
        run = cli("create", "--amount", "1500", "--name", "Fee", flag)
        assert run.exit_code == 2 and "--initiate" in run.stderr
    assert cli("list", "--format", "json").json() == []  # nothing recorded


def test_import_leaves_out_named_columns(cli: Cli, isolated: Path) -> None:
    (isolated / "class.csv").write_text("Roll No,amount,name,Section\n1,1500,Tuition,A\n2,1600,Tuition,B\n")
    refused = cli("import", "class.csv")
    assert refused.exit_code == 3 and "--ignore-columns" in refused.stderr
    run = cli("import", "class.csv", "--ignore-columns", "Roll No,section", "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert [r["amount"] for r in run.json()] == ["1500.00", "1600.00"]


def test_payers_show_in_a_pipe(cli: Cli) -> None:
    assert cli("payers", "add", "S-1", "--name", "Sita").exit_code == 0
    tsv = cli("payers", "show", "S-1").stdout.splitlines()
    assert len(tsv) == 1 and tsv[0].startswith("order_id\t")  # a header even with no payments
    shown = cli("payers", "show", "S-1", "--format", "jsonl").jsonl()
    assert shown[0]["name"] == "Sita" and shown[0]["totals"]["payments"] == 0


def test_failed_lookup_prints_no_stale_status(cli: Cli, configured: SandboxServer) -> None:
    assert cli("create", "--amount", "1500", "--name", "Fee", "--order-id", "L-1", "--initiate").exit_code == 0
    fault(configured, {"status": 503, "count": 10})
    run = cli("lookup", "L-1")
    assert run.exit_code == 75 and run.stdout == "" and "503" in run.stderr


def test_missing_key_says_where_it_looked(cli: Cli, isolated: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("KHALTI_WEBSITE_URL", "https://school.example.edu.np")
    run = cli("create", "--amount", "1500", "--name", "Fee", "--initiate")
    assert run.exit_code == 4
    assert "a .env file in this folder (none found)" in run.stderr and "khalti sandbox" in run.stderr
    (isolated / "school.env").write_text("KHALTI_ENV=sandbox\n")
    os.chmod(isolated / "school.env", 0o600)
    run = cli("--env-file", "school.env", "create", "--amount", "1500", "--name", "Fee", "--initiate")
    assert run.exit_code == 4 and "school.env" in run.stderr

"""Help that says what each option takes, with an example on every command, and completion of order ids,
statuses and formats: applied once to the built command tree, so command modules stay as they are."""

from __future__ import annotations

from typing import Any

# What each option takes, by parameter name; ONE_COMMAND overrides it for a command whose option of that name
# takes something else. `--format` and the xlsx `--out FILE` set their own metavar (cli/options.py), from the
# formats the command accepts. tests/test_usability.py walks every option of every command: a value option
# shown as the generic TEXT fails it, unless it is in the test's short list of free-text options.
METAVARS = {
    "db": "PATH",
    "env_file": "PATH",
    "env": "[sandbox|production]",
    "since": "DATE",
    "until": "DATE",
    "on": "DATE",
    "amount": "RUPEES",
    "status": "STATUS",
    "input_format": "[csv|jsonl]",
    "columns": "KEY,KEY...",
    "ignore_columns": "COLUMN,COLUMN...",
    "order_id": "ORDER_ID",
    "order_ids": "ORDER_ID...",
    "ids": "ID...",
    "reference": "REFERENCE",
    "payer": "REFERENCE",
    "pidx": "PIDX",
    "out": "FOLDER",
    "slips": "FOLDER",
    "file": "FILE",
    "plan": "FILE",
    "name": "TEXT",
    "customer_name": "TEXT",
    "reason": "TEXT",
    "search": "TEXT",
    "group": "CLASS",
    "month": "MONTH",
    "fiscal_year": "YEAR",
    "fee": "LABEL=RUPEES",
    "method": "[cash|bank|cheque|other]",
    "outcome": "[completed|voided]",
    "via": "[sms|email|both]",
    "lang": "[ne|en]",
    "states": "[queued|sending|sent|failed|unknown]",
    "every": "DURATION",
    "quiet_hours": "HH:MM-HH:MM",
    "mobile": "NUMBER",
    "phone": "NUMBER",
    "customer_phone": "NUMBER",
    "customer_email": "EMAIL",
    "email": "EMAIL",
    "older_than": "DURATION",
    "max_time": "DURATION",
    "host": "ADDRESS",
    "key": "KEY",
    "wait_timeout": "SECONDS",
    "interval": "SECONDS",
    "ttl": "SECONDS",
    "latency_ms": "MS",
    "port": "PORT",
    "fee_percent": "PERCENT",
    "sms_token": "TOKEN",
    "sms_from": "SENDER",
}
ONE_COMMAND = {("notify", "since"): "DURATION"}  # notify --paid --since 7d: paid within this long
# One real command line per command (tests/test_usability.py parses each: every option it names exists and
# takes what it is given). Words after two spaces and an opening parenthesis are a note, not typed.
EXAMPLES = {
    "create": "khalti create --amount 1500 --name 'Grade 5 tuition, Mangsir' --payer S-101 --initiate --qr",
    "initiate": "khalti list --status created --format tsv --columns order_id | tail -n +2 | khalti initiate -",
    "lookup": "khalti lookup KH-261128-ABC123",
    "list": "khalti list --status pending --since 2026-11-01 --format csv --excel > pending.csv",
    "show": "khalti show KH-261128-ABC123",
    "history": "khalti history KH-261128-ABC123 --format json",
    "reconcile": "khalti reconcile --concurrency 8   (e.g. from cron every 10 minutes)",
    "sandbox": "khalti sandbox --port 8765   (then KHALTI_BASE_URL=http://127.0.0.1:8765/api/v2)",
    "serve": "khalti serve --host 127.0.0.1 --port 8080   (behind the https proxy of KHALTI_PUBLIC_URL)",
    "doctor": "khalti --env production doctor",
    "demo": "khalti demo",
    "refund": "khalti refund KH-261128-ABC123 --amount 500",
    "void": "khalti void KH-261127-9PQ2W3 --reason 'Student left in Kartik' --yes",
    "settle": "khalti settle KH-261127-2M8RT4 --method cash --reference 'Receipt 0451' --date 2082-08-12 --yes",
    "resolve": "khalti resolve KH-261127-3ZC4M8 --as completed --reason 'Principal accepted Rs 1,000' --yes",
    "edit": "khalti edit KH-261127-5XK7N2 --amount 4000 --name 'Grade 5 tuition, Poush'",
    "note": "khalti note KH-261127-7K3QX9 'Father phoned: pays on Sunday'",
    "import": "khalti import fees.csv --initiate --slips slips/ --ignore-columns 'Roll No'",
    "slips": "khalti slips KH-261128-ABC123 KH-261128-DEF456 --out slips/",
    "report": "khalti report --month mangsir --format xlsx --out report-mangsir.xlsx",
    "backup": "khalti backup khalti-backup.db",
    "restore": "khalti restore khalti-backup.db",
    "bill": "khalti bill --month mangsir --group 'Grade 5' --fee Tuition=4500 --fee Transport=1200 --dry-run",
    "dues": "khalti dues --group 'Grade 5' --format xlsx --out dues.xlsx",
    "receipt": "khalti receipt --all-new --out receipts/ --pdf",
    "completion": "khalti completion bash > ~/.local/share/bash-completion/completions/khalti",
    "notify": "khalti notify KH-261128-ABC123 KH-261128-DEF456 --via sms --dry-run",
    "remind": "khalti remind --group 'Grade 5' --every 3d --dry-run",
    "messages": "khalti messages KH-261128-ABC123 --state failed",
    "payers": "khalti payers add S-101 --name 'Sita Sharma' --class 'Grade 5 B' --phone 9800000001",
    "payers add": "khalti payers add S-101 --name 'Sita Sharma' --class 'Grade 5 B' --phone 9800000001",
    "payers update": "khalti payers update S-101 --phone 9800000002",
    "payers list": "khalti payers list --class 'Grade 5 B' --format xlsx --out payers.xlsx",
    "payers show": "khalti payers show S-101",
    "payers import": "khalti payers import register.csv",
}
_ORDER_ID_PARAMS = ("order_id", "order_ids", "ids")


def polish(command: Any, path: str = "") -> Any:
    """Metavars, examples and completions for `command` and every subcommand under it."""
    _params(command, path)
    example = EXAMPLES.get(path)
    if example and not command.epilog:
        command.epilog = f"Example: {example}"
    for name, sub in getattr(command, "commands", {}).items():
        polish(sub, f"{path} {name}".strip())
    return command


def _excel(_ctx: Any, _param: Any, value: bool) -> None:
    from khalti_cli import output

    output.EXCEL = bool(value)


def _params(command: Any, path: str) -> None:
    from typer.core import TyperOption

    from khalti_cli.cli import completion

    if any(p.name == "fmt" for p in command.params) and not any(p.name == "excel" for p in command.params):
        command.params.append(
            TyperOption(
                param_decls=["--excel"],
                is_flag=True,
                expose_value=False,
                callback=_excel,
                help="CSV for Excel: UTF-8 with a byte order mark and CRLF line ends (implies --format csv).",
            )
        )

    for param in command.params:
        pname = param.name or ""
        flag = getattr(param, "is_flag", False) or getattr(param, "count", False)
        if getattr(param, "count", False):
            param.show_default = False  # -v, --verbose: a count, not a value with a default worth showing
        if param.metavar is None and not flag:
            number = any(t.__name__ == "IntParamType" for t in type(param.type).__mro__)
            param.metavar = ONE_COMMAND.get((path, pname)) or METAVARS.get(pname) or ("N" if number else "TEXT")
        if param.param_type_name == "argument":  # ORDER_ID... in the usage line too, not {order_ids}...
            shown = param.metavar or ""
            if not param.required and not shown.startswith("["):
                base = shown.removesuffix("...")  # `khalti messages [ORDER_ID]`: it may be left out
                shown = f"[{base}]" + shown[len(base) :]
            param.make_metavar = lambda *_a, _m=shown, **_k: _m
        if pname in _ORDER_ID_PARAMS:
            param._custom_shell_complete = lambda ctx, _p, inc: completion.order_ids(ctx, inc)
        elif pname == "status":
            param._custom_shell_complete = lambda _c, _p, inc: completion.statuses(inc)

"""Help that says what each option takes, with an example on every command, and completion of order ids,
statuses and formats: applied once to the built command tree, so command modules stay as they are."""

from __future__ import annotations

from typing import Any

from khalti_cli.output import FORMATS

FORMAT_METAVAR = "[" + "|".join(FORMATS) + "]"
METAVARS = {
    "db": "PATH",
    "env_file": "PATH",
    "env": "[sandbox|production]",
    "since": "DATE",
    "until": "DATE",
    "amount": "RUPEES",
    "status": "STATUS",
    "fmt": FORMAT_METAVAR,
    "input_format": "[csv|jsonl]",
    "columns": "KEY,KEY...",
    "ignore_columns": "COLUMN,COLUMN...",
    "order_id": "ORDER_ID",
    "order_ids": "ORDER_ID...",
    "ids": "ID...",
    "reference": "REFERENCE",
    "payer": "REFERENCE",
    "out": "FOLDER",
    "slips": "FOLDER",
    "file": "FILE",
    "name": "TEXT",
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
}
EXAMPLES = {
    "create": "khalti create --amount 1500 --name 'Grade 5 tuition, Mangsir' --payer S-101 --initiate --qr",
    "initiate": "khalti list --status created --format tsv --columns order_id | tail -n +2 | khalti initiate -",
    "lookup": "khalti lookup KH-261128-ABC123",
    "list": "khalti list --status pending --since 2026-11-01 --format csv --excel > pending.csv",
    "show": "khalti show KH-261128-ABC123",
    "history": "khalti history KH-261128-ABC123 --format json",
    "reconcile": "khalti reconcile --concurrency 8   (e.g. from cron every 10 minutes)",
    "sandbox": "khalti sandbox --port 8765   (then KHALTI_BASE_URL=http://127.0.0.1:8765/api/v2)",
    "demo": "khalti demo",
    "refund": "khalti refund KH-261128-ABC123 --amount 500",
    "import": "khalti import fees.csv --initiate --slips slips/ --ignore-columns 'Roll No'",
    "slips": "khalti slips KH-261128-ABC123 KH-261128-DEF456 --out slips/",
    "report": "khalti report --since 2026-11-01 --until 2026-11-30",
    "backup": "khalti backup khalti-backup.db",
    "completion": "khalti completion bash > ~/.local/share/bash-completion/completions/khalti",
    "payers": "khalti payers add S-101 --name 'Sita Sharma' --class 'Grade 5 B' --phone 9800000001",
    "payers add": "khalti payers add S-101 --name 'Sita Sharma' --class 'Grade 5 B' --phone 9800000001",
    "payers update": "khalti payers update S-101 --phone 9800000002",
    "payers list": "khalti payers list --class 'Grade 5 B'",
    "payers show": "khalti payers show S-101",
    "payers import": "khalti payers import register.csv",
}
_ORDER_ID_PARAMS = ("order_id", "order_ids", "ids")


def polish(command: Any, path: str = "") -> Any:
    """Metavars, examples and completions for `command` and every subcommand under it."""
    _params(command)
    example = EXAMPLES.get(path)
    if example and not command.epilog:
        command.epilog = f"Example: {example}"
    for name, sub in getattr(command, "commands", {}).items():
        polish(sub, f"{path} {name}".strip())
    return command


def _excel(_ctx: Any, _param: Any, value: bool) -> None:
    from khalti_cli import output

    output.EXCEL = bool(value)


def _params(command: Any) -> None:
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
        if param.metavar is None and not flag:
            number = getattr(param.type, "name", "") in ("integer", "integer range")
            param.metavar = METAVARS.get(pname) or ("N" if number else "TEXT")
        if param.param_type_name == "argument":  # ORDER_ID... in the usage line too, not {order_ids}...
            param.make_metavar = lambda *_a, _m=param.metavar, **_k: _m
        if pname in _ORDER_ID_PARAMS:
            param._custom_shell_complete = lambda ctx, _p, inc: completion.order_ids(ctx, inc)
        elif pname == "status":
            param._custom_shell_complete = lambda _c, _p, inc: completion.statuses(inc)
        elif pname == "fmt":
            param._custom_shell_complete = lambda _c, _p, inc: completion.formats(inc)

"""demo: the whole loop offline against the built-in sandbox."""

from __future__ import annotations

import sys

import typer

from khalti_cli.cli.state import state
from khalti_cli.output import write_records


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(ctx: typer.Context) -> None:
    """Create, initiate, pay, cancel and reconcile a few school fees against a local sandbox. No key needed."""
    from khalti_cli.services.demo import run_demo
    from khalti_cli.services.records import TABLE_COLUMNS

    st = state(ctx)
    records = run_demo(say=st.say)
    fmt = "table" if sys.stdout.isatty() else "tsv"
    columns = [*TABLE_COLUMNS[:4], "customer_name", "khalti_status"]
    write_records(records, fmt, columns=columns if fmt == "table" else None, color=st.stdout_color())
    for record in records:
        if record["status"] == "review":
            st.say(f"{record['order_id']} needs review: {record['review_reason']}")
    st.say("That was the sandbox: no money moved. Next: copy .env.example to .env and read README.md.")

"""The demo: a few realistic school fees through the whole loop, offline, against an in-process sandbox."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from khalti_cli.config import Secret, Settings
from khalti_cli.money import format_rupees
from khalti_cli.services import payments
from khalti_cli.services.listing import list_records
from khalti_cli.services.reconcile import Options, reconcile
from khalti_cli.store import open_store

FEES = (
    ("4500", "Grade 5 tuition fee, Mangsir", "Sita Sharma", "STU-0512", "pays"),
    ("1200", "Grade 8 terminal exam fee", "Ram Thapa", "STU-0834", "cancels"),
    ("1,800.50", "School bus fee, Mangsir", "Hari Gurung", "STU-0301", "leaves the link open"),
    ("750", "Grade 3 library fee", "Maya Rai", "STU-0307", "pays the wrong amount"),
)


def run_demo(say: Callable[[str], None]) -> list[dict[str, Any]]:
    from khalti_cli.gateway.client import KhaltiClient
    from khalti_cli.sandbox import start_sandbox

    with tempfile.TemporaryDirectory(prefix="khalti-demo-") as tmp, start_sandbox(fee_bp=200) as server:
        settings = Settings(
            env="sandbox",
            base_url=server.url,
            secret_key=Secret("demo-sandbox-key"),
            website_url="https://school.example.edu.np",
            return_url=f"{server.url}/return",  # the sandbox's own return page
            db_path=Path(tmp) / "demo.db",
            school_name="Demo School",
        )
        say(f"Sandbox running at {server.url}; throwaway database in {tmp}.")
        store = open_store(settings.db_path)
        client = KhaltiClient(settings.base_url, settings.require_key(), timeout_ms=settings.timeout_ms)
        try:
            plans = []
            for amount, fee, payer, student, plan in FEES:
                record = payments.create_payment(
                    store, payments.new_payment(amount=amount, name=fee, customer_name=payer, reference=student)
                )
                say(f"Recorded {record['order_id']}: {fee}, {format_rupees(record['amount_paisa'])} ({payer})")
                plans.append((record["order_id"], plan, payer))
            results = payments.initiate_many(store, settings, lambda: client, [p[0] for p in plans])
            links = {r.order_id: r for r in results}
            for order_id, plan, payer in plans:
                result = links[order_id]
                assert result.record is not None and result.payment_url is not None
                pidx = result.record["pidx"]
                say(f"Link for {order_id}: {result.payment_url}  -> {payer} {plan}")
                if plan == "pays":
                    server.state.complete(pidx, mobile="9800000001")
                elif plan == "cancels":
                    server.state.cancel(pidx)
                elif plan == "pays the wrong amount":
                    server.state.complete(pidx, total_amount=result.record["amount_paisa"] - 25000)
            summary = reconcile(store, settings, Options(concurrency=4))
            say(f"Reconciled: {summary.line()}")
            return list(list_records(store))
        finally:
            client.close()
            store.close()

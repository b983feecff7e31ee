"""sandbox: serve the local Khalti emulator."""

from __future__ import annotations

import sys

import typer

from khalti_cli.cli.options import MAX_SECONDS


def register(app: typer.Typer) -> None:
    app.command("sandbox")(sandbox)


def sandbox(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port (0 picks a free one)."),
    latency_ms: int = typer.Option(0, "--latency-ms", min=0, max=60_000, help="Delay before each API answer."),
    ttl: int = typer.Option(1800, "--ttl", min=1, max=MAX_SECONDS, help="Seconds until a payment link expires."),
    key: str | None = typer.Option(
        None, "--key", help="Accept only this secret key (a test key, never a real one). Default: any."
    ),
    fee_percent: str = typer.Option(
        "2", "--fee-percent", help="Khalti's fee reported on each completed payment, in percent (0 to 100)."
    ),
    sms_token: str | None = typer.Option(
        None, "--sms-token", help="The SMS emulator accepts only this token (a test one). Default: any."
    ),
    sms_from: str | None = typer.Option(None, "--sms-from", help="The SMS emulator accepts only this sender."),
) -> None:
    """Serve a local emulator of Khalti's API: for training, demos and tests. Prints its address."""
    from decimal import Decimal, InvalidOperation

    from khalti_cli.sandbox import serve

    try:
        fee_bp = int(Decimal(fee_percent.strip()) * 100)
    except (InvalidOperation, ValueError):
        fee_bp = -1
    if not 0 <= fee_bp <= 10_000:
        raise typer.BadParameter(f"{fee_percent!r} is not a percentage from 0 to 100.", param_hint="--fee-percent")

    def ready(url: str) -> None:
        sys.stdout.write(url + "\n")
        sys.stdout.flush()
        sys.stderr.write(
            f"khalti sandbox at {url}: set KHALTI_BASE_URL={url} and any KHALTI_SECRET_KEY"
            f"{' (the --key value)' if key else ''}. Test IDs 9800000000-9800000005, MPIN 1111. "
            f"SMS: KHALTI_SMS_URL={url}/v2. Ctrl-C stops.\n"
        )

    try:
        serve(
            host,
            port,
            latency_ms=latency_ms,
            ttl=ttl,
            key=key,
            log=sys.stdout,
            ready=ready,
            sms_token=sms_token,
            sms_from=sms_from,
            fee_bp=fee_bp,
        )
    except OSError as exc:
        from khalti_cli.errors import InvalidInput

        raise InvalidInput(f"Cannot listen on {host}:{port}: {exc.strerror}. Try another --port.") from None

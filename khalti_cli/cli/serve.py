"""serve: the parents' pay page; doctor: the configuration checked end to end."""

from __future__ import annotations

import sys

import typer

from khalti_cli.cli.state import state
from khalti_cli.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("doctor")(doctor)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (put an https proxy in front)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port (0 picks a free one)."),
) -> None:
    """Serve the parents' pay page at KHALTI_PUBLIC_URL: /pay/<token>, /return, /healthz. Prints its address."""
    st = state(ctx)
    settings = st.settings()
    # The set-up first (exit 4), and the database opened (and migrated) once before any parent arrives.
    settings.require_public_url()
    settings.require_urls()
    settings.require_key()
    st.store()

    from khalti_cli.web.server import log_to
    from khalti_cli.web.server import serve as run

    log_to(sys.stderr)

    def ready(url: str) -> None:
        sys.stdout.write(url + "\n")
        sys.stdout.flush()
        st.say(
            f"khalti pay page listening at {url}, for parents at {settings.public_url} "
            f"(Khalti {settings.env}). Ctrl-C stops."
        )

    try:
        run(settings, host, port, ready)
    except OSError as exc:
        from khalti_cli.errors import InvalidInput

        raise InvalidInput(f"Cannot listen on {host}:{port}: {exc.strerror}. Try another --port.") from None


def doctor(ctx: typer.Context) -> None:
    """Check the set-up end to end: the key, the URLs, the database, the pay page. Exit 0 all pass, 4 not."""
    from khalti_cli.services.doctor import run_checks

    st = state(ctx)
    failed = False
    for check in run_checks(st.settings()):
        mark = "note" if check.ok is None else ("ok" if check.ok else "FAIL")
        failed = failed or check.ok is False
        sys.stdout.write(f"{mark:<5} {check.name}: {check.detail}\n")
        sys.stdout.flush()
    if failed:
        st.warn("Some checks failed (FAIL above): fix them and run khalti doctor again.")
        raise typer.Exit(int(ExitCode.CONFIG))

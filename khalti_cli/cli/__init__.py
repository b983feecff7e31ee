"""typer commands: parse, call one service, render. Nothing else lives here."""

"""Business logic: no typer, no rich, no printing. Callable and testable on its own."""

"""The pay page (`khalti serve`): Starlette routes and Jinja2 templates over services.paylink."""

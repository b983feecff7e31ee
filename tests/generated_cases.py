"""What the generated-case files of issue 8 share: one hypothesis profile (derandomized, bounded) and a
tally of the cases each class tried, printed by the file's last test for the README's figures."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

PROPERTY = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def slow_examples(n: int) -> settings:
    """For a property whose example is slow (a whole database and commands, or a drawn page): n examples,
    derandomized, generated only (no shrinking: a failing case is printed as found, in seconds not minutes)."""
    return settings(PROPERTY, max_examples=n, phases=[Phase.generate])


class Tally:
    """Cases tried per class (per process: run the file with -n 0 to see the whole count)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.counts: dict[str, int] = {}

    def __call__(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def __getitem__(self, name: str) -> int:
        return self.counts[name]

    def line(self) -> str:
        return f"\n{self.title}: " + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))

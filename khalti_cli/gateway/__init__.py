"""Khalti's HTTP API. This package is the only place that imports httpx."""

from khalti_cli.gateway.answers import InitiateAnswer, LookupAnswer, RefundAnswer

__all__ = ["InitiateAnswer", "LookupAnswer", "RefundAnswer"]

"""QR codes of payment URLs, drawn on a terminal (a parent scans it with the Khalti app or camera)."""

from __future__ import annotations

from typing import TextIO


def draw(url: str, stream: TextIO) -> None:
    import segno

    code = segno.make(url, error="m")
    code.terminal(out=stream, compact=True, border=2)
    stream.flush()

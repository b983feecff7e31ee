"""Amounts in words for receipts, the way Nepal writes them: lakh and crore, then paisa."""

from __future__ import annotations

_ONES = (
    "",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
)
_TENS = ("", "", "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety")


def _below_hundred(n: int) -> str:
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    parts = [f"{_ONES[hundreds]} Hundred"] if hundreds else []
    if rest:
        parts.append(_below_hundred(rest))
    return " ".join(parts)


def number_words(n: int) -> str:
    """1234567 -> 'Twelve Lakh Thirty-Four Thousand Five Hundred Sixty-Seven' (Nepali/Indian grouping)."""
    if n == 0:
        return "Zero"
    parts: list[str] = []
    crore, n = divmod(n, 10**7)
    if crore:
        parts.append(f"{number_words(crore)} Crore")
    lakh, n = divmod(n, 10**5)
    if lakh:
        parts.append(f"{_below_hundred(lakh)} Lakh")
    thousand, n = divmod(n, 1000)
    if thousand:
        parts.append(f"{_below_hundred(thousand)} Thousand")
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def rupees_in_words(paisa: int) -> str:
    """570050 -> 'Rupees Five Thousand Seven Hundred and Fifty Paisa only'."""
    rupees, rest = divmod(paisa, 100)
    text = f"Rupees {number_words(rupees)}"
    if rest:
        text += f" and {_below_hundred(rest)} Paisa"
    return text + " only"

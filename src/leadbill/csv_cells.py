"""CSV cell safety: every CSV file leadbill exports is written by `ExportWriter`.

A spreadsheet reads a cell that begins with `=`, `+`, `-`, `@`, a tab or a
carriage return as a formula, so a lead named `=HYPERLINK(...)` would run in the
customer's spreadsheet (CSV injection). Following OWASP, such a text cell is
written with a single quote before it, which spreadsheets take as "this is
text"; the csv module then quotes the cell where its content needs it.

Cells are told apart by their Python type, never by their content: a `str` is
text and is neutralised, an `int` or a `Decimal` is a number and is written as
it is, so that a credit line's `-57.00` stays a negative number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Protocol

# OWASP's list (CSV Injection), no more: a leading line feed or a full-width sign
# such as `＝` is not on it, and ingestion already trims leading blanks of lead fields.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | Decimal


class TextOutput(Protocol):
    """Where a CSV file is written: a text file, standard output, a `StringIO`."""

    def write(self, text: str, /) -> object: ...


def neutralise(text: str) -> str:
    """The text of a cell, with a single quote before it if a spreadsheet would run it."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class ExportWriter:
    """`csv.writer` for the files leadbill exports: its text cells are neutralised."""

    def __init__(self, output: TextOutput, *, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(output, lineterminator=lineterminator)

    def writerow(self, cells: Iterable[Cell]) -> None:
        """Write one row; text is neutralised, numbers are written as numbers."""
        self._writer.writerow(
            [neutralise(cell) if isinstance(cell, str) else cell for cell in cells]
        )

    def writerows(self, rows: Iterable[Iterable[Cell]]) -> None:
        """Write each row as `writerow` does."""
        for row in rows:
            self.writerow(row)

"""CSV cell safety: text that starts like a formula is neutralised, numbers stay numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from leadbill.csv_cells import ExportWriter, neutralise
from tests.formula_cells import PREFIX_NAMES, PREFIXES, formula, neutralised


def _written(*rows: list[str | int | Decimal], lineterminator: str = "\r\n") -> str:
    buffer = io.StringIO()
    ExportWriter(buffer, lineterminator=lineterminator).writerows(rows)
    return buffer.getvalue()


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_NAMES)
def test_text_starting_like_a_formula_gets_a_single_quote(prefix: str) -> None:
    assert neutralise(formula(prefix)) == neutralised(formula(prefix))


@pytest.mark.parametrize(
    "text", ["", "Ann Lee", "L-1001", "2026-01-05T14:30:00Z", "'=already quoted", "a=b"]
)
def test_text_not_starting_like_a_formula_is_written_as_it_is(text: str) -> None:
    assert neutralise(text) == text


@pytest.mark.parametrize("prefix", PREFIXES, ids=PREFIX_NAMES)
def test_export_writer_neutralises_text_and_reads_back_with_the_csv_module(prefix: str) -> None:
    text = _written([formula(prefix), "plain", 3, Decimal("-57.00")])
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        [neutralised(formula(prefix)), "plain", "3", "-57.00"]
    ]


def test_export_writer_writes_negative_numbers_without_a_quote() -> None:
    assert _written([Decimal("-57.00"), -3, Decimal("0.00")], lineterminator="\n") == (
        "-57.00,-3,0.00\n"
    )


def test_export_writer_writes_safe_rows_as_csv_writer_does() -> None:
    rows: list[list[str | int | Decimal]] = [
        ["INV-000001", "acme", 'Seat fee: "north", 1 seat', 1, Decimal("57.00"), ""],
        ["2026-01-03T10:05Z call_missed no_answer 0s; x", "yes", 0, Decimal("1000.00")],
    ]
    expected = io.StringIO()
    csv.writer(expected).writerows(rows)
    assert _written(*rows) == expected.getvalue()

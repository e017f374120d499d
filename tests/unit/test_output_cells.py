"""CSV rows of API shapes (`leadbill.output`): flat columns, exact amounts, safe text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from pydantic import BaseModel

from leadbill.output import OutputFormat, csv_cells, csv_columns, print_items
from leadbill.schemas import MoneyOut


class _Line(BaseModel):
    description: str
    amount: MoneyOut
    credit: MoneyOut | None
    at: datetime
    counted: bool
    tags: list[str]


LINE = _Line(
    description="=HYPERLINK(1)",
    amount=MoneyOut(amount="-57.00", currency="USD"),
    credit=None,
    at=datetime(2026, 1, 1, tzinfo=UTC),
    counted=True,
    tags=["a", "b"],
)


def test_csv_columns_flatten_nested_shapes_and_money() -> None:
    assert csv_columns(_Line) == [
        "description",
        "amount_amount",
        "amount_currency",
        "credit_amount",
        "credit_currency",
        "at",
        "counted",
        "tags",
    ]


def test_csv_money_is_a_number_and_text_cannot_run_as_a_formula() -> None:
    buffer = io.StringIO()
    print_items(OutputFormat.CSV, _Line, [LINE], buffer)
    (row,) = csv.DictReader(io.StringIO(buffer.getvalue()))
    assert row == {
        "description": "'=HYPERLINK(1)",
        "amount_amount": "-57.00",  # a negative number stays a number, to the cent
        "amount_currency": "USD",
        "credit_amount": "",
        "credit_currency": "",
        "at": "2026-01-01T00:00:00Z",
        "counted": "true",
        "tags": '["a","b"]',
    }
    assert str(csv_cells(LINE)[1]) == "-57.00"

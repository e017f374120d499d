"""`--format table|json|csv` of the commands that read: a table for people, JSON and CSV
for scripts.

JSON is the API's shape: the command builds the same Pydantic response model the
endpoint returns and prints `model_dump(mode="json")`, so a script reads exactly what
GET on the API answers for the same object. A list command prints a JSON array of the
items the API list holds in `data`; the CLI does not page, so there is no `page`.

CSV is one row per item (a show command: one row) with flat columns, named after the
API's fields: a nested object's fields are `<field>_<subfield>` (money is
`total_amount`, an exact decimal, and `total_currency`); a list or a free-form object
is one cell holding its JSON text. Instants are RFC 3339 in UTC, as in the JSON. Every
row goes through `ExportWriter`, so a text cell never runs as a formula.
"""

from __future__ import annotations

import enum
import json
import sys
import types
from collections.abc import Iterable
from decimal import Decimal
from typing import IO, Any, TypeVar, Union, get_args, get_origin

import typer
from pydantic import BaseModel

from leadbill.csv_cells import Cell, ExportWriter
from leadbill.schemas import MoneyOut

Shape = TypeVar("Shape", bound=BaseModel)


class OutputFormat(enum.StrEnum):
    """How a command that reads prints what it found."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


FORMAT_HELP = "table (default), json (the API's shapes) or csv (one row per item)"


def format_option() -> Any:
    """The `--format` option every list and show command takes."""
    return typer.Option(OutputFormat.TABLE, "--format", help=FORMAT_HELP, case_sensitive=False)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The Pydantic model a field holds (also when it may be null), if it holds one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, types.UnionType):
        models = [m for arg in get_args(annotation) if (m := _model_of(arg)) is not None]
        others = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(models) == 1 and len(others) == 1:
            return models[0]
    return None


def _leaves(shape: type[BaseModel], prefix: str = "") -> list[tuple[str, tuple[str, ...], bool]]:
    """Each flat column of a shape: its name, its path in the JSON, whether it is money."""
    columns: list[tuple[str, tuple[str, ...], bool]] = []
    for name, field in shape.model_fields.items():
        key = field.serialization_alias or field.alias or name
        nested = _model_of(field.annotation)
        if nested is None:
            columns.append((prefix + key, (key,), False))
            continue
        for column, path, _money in _leaves(nested, f"{prefix}{key}_"):
            columns.append((column, (key, *path), nested is MoneyOut and path == ("amount",)))
    return columns


def csv_columns(shape: type[BaseModel]) -> list[str]:
    """The CSV header of a shape."""
    return [column for column, _path, _money in _leaves(shape)]


def _cell(value: Any, money: bool) -> Cell:
    if value is None:
        return ""
    if money:
        return Decimal(value)  # an exact decimal, never a float, written as it is
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def csv_cells(item: BaseModel) -> list[Cell]:
    """One CSV row of an item: its JSON shape flattened as `csv_columns` names it."""
    data = item.model_dump(mode="json", by_alias=True)
    row: list[Cell] = []
    for _column, path, money in _leaves(type(item)):
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        row.append(_cell(value, money))
    return row


def print_items(
    format_: OutputFormat, shape: type[Shape], items: Iterable[Shape], file: IO[str] | None = None
) -> None:
    """A list as JSON (an array of the API's items) or CSV (a header, one row per item)."""
    handle = file or sys.stdout
    if format_ is OutputFormat.JSON:
        data = [item.model_dump(mode="json", by_alias=True) for item in items]
        handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    writer = ExportWriter(handle)
    writer.writerow(csv_columns(shape))
    for item in items:
        writer.writerow(csv_cells(item))


def print_item(format_: OutputFormat, item: BaseModel, file: IO[str] | None = None) -> None:
    """One object as JSON (the API's shape) or CSV (a header and one row)."""
    handle = file or sys.stdout
    if format_ is OutputFormat.JSON:
        data = item.model_dump(mode="json", by_alias=True)
        handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    print_items(format_, type(item), [item], handle)

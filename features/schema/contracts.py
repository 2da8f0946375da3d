"""What the store accepts for each export kind, whatever platform the rows came from.

Adapters turn a platform's own columns into unified fields (`features.adapters`); these
checks then test the values. They are SQL conditions over the parsed value ``{v}``, run by
DuckDB on whole batches; every failing cell becomes a quarantine entry with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.schema.vocab import ChatRole, ExportKind, OrderStatus, RefundStatus


@dataclass(frozen=True, slots=True)
class ValueCheck:
    """A condition a parsed value must meet (``{v}`` stands for the value)."""

    condition: str
    reason: str


def _one_of(values: list[str]) -> ValueCheck:
    listed = ", ".join(f"'{v}'" for v in values)
    return ValueCheck(f"{{v}} IN ({listed})", f"must be one of {', '.join(values)}")


_POSITIVE = ValueCheck("{v} > 0", "must be more than 0")
_NON_NEGATIVE = ValueCheck("{v} >= 0", "must not be negative")
# an order, a message or a stock count cannot come from after the export was made; two days
# of slack for clocks and time zones. Kept, such a row would move "now" for every report.
_NOT_FUTURE = ValueCheck(
    "{v} <= (now() AT TIME ZONE 'UTC') + INTERVAL 2 DAY",
    "is after today: check the export's dates, or its time zone",
)
# nor from before online shops existed: a time in seconds read as milliseconds (or the
# other way round) lands in 1970, a date typed without its century in the 1900s
_NOT_ANCIENT = ValueCheck(
    "{v} >= DATE '2000-01-01'",
    "is before 2000: check the export's dates, or whether its times are in seconds or milliseconds",
)
# Excel shows a long number it was given as text in scientific notation, and saves it so:
# 2543157870183585575 becomes 2.54316E+18, its digits lost
_NOT_EXCEL_NUMBER = ValueCheck(
    "NOT contains({v}, 'E+') OR NOT regexp_full_match({v}, '-?[0-9]+([.][0-9]+)?E[+][0-9]+')",
    "is a number Excel rewrote in scientific notation, which lost the id's digits: export "
    "the file again, and if it must pass through Excel, import that column as text",
)
_PO_STATUS = ["open", "in_transit", "received", "cancelled"]

#: kind → unified field → checks. Emptiness of required fields is the adapters' contract.
VALUE_CHECKS: dict[ExportKind, dict[str, tuple[ValueCheck, ...]]] = {
    ExportKind.ORDERS: {
        "created_at": (_NOT_FUTURE, _NOT_ANCIENT),
        "quantity": (_POSITIVE,),
        "unit_price_fen": (_NON_NEGATIVE,),
        "paid_fen": (_NON_NEGATIVE,),
        "discount_fen": (_NON_NEGATIVE,),
        "refund_fen": (_NON_NEGATIVE,),
        "returned_qty": (_NON_NEGATIVE,),
        "status": (_one_of(list(OrderStatus)),),
        "refund_status": (_one_of(list(RefundStatus)),),
    },
    ExportKind.CHATS: {
        "sent_at": (_NOT_FUTURE, _NOT_ANCIENT),
        "seq": (_NON_NEGATIVE,),
        "role": (_one_of(list(ChatRole)),),
    },
    ExportKind.LISTINGS: {"price_fen": (_NON_NEGATIVE,)},
    ExportKind.PROMOTIONS: {
        "price_fen": (_NON_NEGATIVE,),
        "kind": (_one_of(["promotion", "price_change"]),),
    },
    ExportKind.PRODUCTS: {
        "list_price_fen": (_NON_NEGATIVE,),
        "unit_cost_fen": (_NON_NEGATIVE,),
        "case_pack": (_POSITIVE,),
        "moq": (_NON_NEGATIVE,),
        "lead_time_days": (_NON_NEGATIVE,),
    },
    ExportKind.INVENTORY: {
        "snapshot_date": (_NOT_FUTURE, _NOT_ANCIENT),
        "on_hand": (_NON_NEGATIVE,),
        "reserved": (_NON_NEGATIVE,),
    },
    ExportKind.PURCHASE_ORDERS: {
        "line_no": (_NON_NEGATIVE,),
        "qty_ordered": (_POSITIVE,),
        "qty_received": (_NON_NEGATIVE,),
        "status": (_one_of(_PO_STATUS),),
    },
}


@dataclass(frozen=True, slots=True)
class RowCheck:
    """A condition across fields of one row (``{name}`` stands for each field's value)."""

    fields: tuple[str, ...]
    condition: str
    reason: str


#: kind → checks across fields; the first field names the cell in quarantine
ROW_CHECKS: dict[ExportKind, tuple[RowCheck, ...]] = {
    ExportKind.PROMOTIONS: (
        RowCheck(("ends_at", "starts_at"), "{ends_at} >= {starts_at}", "ends before it starts"),
    ),
    ExportKind.ORDERS: (
        RowCheck(  # a quantity that is not positive is its own check's problem, not this one's
            ("returned_qty", "quantity"),
            "{quantity} <= 0 OR {returned_qty} <= {quantity}",
            "exceeds the quantity",
        ),
    ),
}


def row_checks(kind: ExportKind) -> tuple[RowCheck, ...]:
    """The cross-field checks rows of ``kind`` must pass."""
    return ROW_CHECKS.get(kind, ())


def is_id(field: str) -> bool:
    """Whether the unified ``field`` holds an id (``order_id``, ``outer_sku_code`` …)."""
    return field.endswith(("_id", "_code"))


def value_checks(kind: ExportKind, field: str) -> tuple[ValueCheck, ...]:
    """The checks the unified ``field`` of ``kind`` must pass; an id (``*_id``, ``*_code``)
    also must not be a number Excel rewrote."""
    checks = VALUE_CHECKS.get(kind, {}).get(field, ())
    if is_id(field):
        checks = (*checks, _NOT_EXCEL_NUMBER)
    return checks

"""What the store accepts for each export kind, whatever platform the rows came from.

Adapters turn a platform's own columns into unified fields (`features.adapters`); these
pandera schemas then check the values. Every failing cell becomes a quarantine entry with
its reason; nothing is raised for a bad row.
"""

from __future__ import annotations

from functools import cache

import pandera.pandas as pa

from features.schema.vocab import ChatRole, ExportKind, OrderStatus, RefundStatus

_NONNEG = [pa.Check.ge(0)]
_POS = [pa.Check.gt(0)]


def _col(dtype: object, *, nullable: bool = True, checks: list | None = None) -> pa.Column:
    return pa.Column(dtype, nullable=nullable, checks=checks or [], required=False, coerce=False)


_STR = "object"
_TS = "datetime64[ns]"
_INT = "Int64"
_BOOL = "boolean"


@cache
def unified_contract(kind: ExportKind) -> pa.DataFrameSchema:
    """The pandera schema that rows of ``kind`` must satisfy to enter the store."""
    columns: dict[str, pa.Column] = {}
    if kind is ExportKind.ORDERS:
        columns = {
            "order_id": _col(_STR, nullable=False),
            "line_id": _col(_STR, nullable=False),
            "shop_id": _col(_STR, nullable=False),
            "quantity": _col(_INT, nullable=False, checks=_POS),
            "unit_price_fen": _col(_INT, nullable=False, checks=_NONNEG),
            "paid_fen": _col(_INT, nullable=False, checks=_NONNEG),
            "discount_fen": _col(_INT, checks=_NONNEG),
            "refund_fen": _col(_INT, checks=_NONNEG),
            "returned_qty": _col(_INT, checks=_NONNEG),
            "status": _col(_STR, nullable=False, checks=[pa.Check.isin(list(OrderStatus))]),
            "refund_status": _col(_STR, checks=[pa.Check.isin(list(RefundStatus))]),
            "created_at": _col(_TS, nullable=False),
            "paid_at": _col(_TS),
        }
    elif kind is ExportKind.MEMBERS:
        columns = {
            "platform_user_id": _col(_STR, nullable=False),
            "registered_at": _col(_TS),
        }
    elif kind is ExportKind.CHATS:
        columns = {
            "session_id": _col(_STR, nullable=False),
            "seq": _col(_INT, nullable=False, checks=_NONNEG),
            "shop_id": _col(_STR, nullable=False),
            "role": _col(_STR, nullable=False, checks=[pa.Check.isin(list(ChatRole))]),
            "sent_at": _col(_TS, nullable=False),
            "text": _col(_STR, nullable=False),
        }
    elif kind is ExportKind.LISTINGS:
        columns = {
            "shop_id": _col(_STR, nullable=False),
            "platform_sku_id": _col(_STR, nullable=False),
            "listed": _col(_BOOL, nullable=False),
            "price_fen": _col(_INT, checks=_NONNEG),
            "updated_at": _col(_TS, nullable=False),
        }
    elif kind is ExportKind.PROMOTIONS:
        columns = {
            "shop_id": _col(_STR, nullable=False),
            "promo_id": _col(_STR, nullable=False),
            "platform_sku_id": _col(_STR, nullable=False),
            "kind": _col(
                _STR, nullable=False, checks=[pa.Check.isin(["promotion", "price_change"])]
            ),
            "starts_at": _col(_TS, nullable=False),
            "ends_at": _col(_TS),
            "price_fen": _col(_INT, nullable=False, checks=_NONNEG),
        }
    elif kind is ExportKind.SHOPS:
        columns = {"platform": _col(_STR, nullable=False), "shop_id": _col(_STR, nullable=False)}
    elif kind is ExportKind.WAREHOUSES:
        columns = {"warehouse_id": _col(_STR, nullable=False), "name": _col(_STR, nullable=False)}
    elif kind is ExportKind.PRODUCTS:
        columns = {
            "sku_id": _col(_STR, nullable=False),
            "product_id": _col(_STR, nullable=False),
            "name": _col(_STR, nullable=False),
            "list_price_fen": _col(_INT, checks=_NONNEG),
            "unit_cost_fen": _col(_INT, checks=_NONNEG),
            "case_pack": _col(_INT, checks=_POS),
            "moq": _col(_INT, checks=_NONNEG),
            "lead_time_days": _col(_INT, checks=_NONNEG),
        }
    elif kind is ExportKind.SKU_MAP:
        columns = {
            "platform": _col(_STR, nullable=False),
            "platform_sku_id": _col(_STR, nullable=False),
            "sku_id": _col(_STR, nullable=False),
        }
    elif kind is ExportKind.INVENTORY:
        columns = {
            "snapshot_date": _col(_TS, nullable=False),
            "warehouse_id": _col(_STR, nullable=False),
            "sku_id": _col(_STR, nullable=False),
            "on_hand": _col(_INT, nullable=False, checks=_NONNEG),
            "reserved": _col(_INT, checks=_NONNEG),
        }
    elif kind is ExportKind.PURCHASE_ORDERS:
        columns = {
            "po_id": _col(_STR, nullable=False),
            "line_no": _col(_INT, nullable=False, checks=_NONNEG),
            "sku_id": _col(_STR, nullable=False),
            "warehouse_id": _col(_STR, nullable=False),
            "qty_ordered": _col(_INT, nullable=False, checks=_POS),
            "qty_received": _col(_INT, checks=_NONNEG),
            "ordered_on": _col(_TS, nullable=False),
            "expected_on": _col(_TS),
            "status": _col(
                _STR,
                nullable=False,
                checks=[pa.Check.isin(["open", "in_transit", "received", "cancelled"])],
            ),
        }
    return pa.DataFrameSchema(columns, strict=False, coerce=False, name=f"unified {kind.value}")

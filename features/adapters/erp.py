"""The brand's own ERP/WMS: master data, warehouse stock and purchase orders.

Not a sales channel: it declares which shops exist, the warehouses, SKUs and their platform
mappings, daily stock per SKU × warehouse and purchase orders in transit. UTF-8 CSV with
English snake_case headers as the ERP's report designer writes them; money in fen.
"""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ExportKind, Platform

PLATFORMS = {p.value: p.value for p in Platform.channels()}
PO_STATUS = {s: s for s in ("open", "in_transit", "received", "cancelled")}
YES_NO = {"Y": True, "N": False}


class ErpAdapter(PlatformAdapter):
    """The brand's ERP (master data and stock)."""

    platform = Platform.ERP
    money_unit = "fen"
    ts_format = "%Y-%m-%d %H:%M:%S"
    date_format = "%Y-%m-%d"
    contracts = (
        ExportContract(
            ExportKind.SHOPS,
            file_stem="erp_shops",
            columns=(
                Column("platform", "channel", "enum", required=True, values=PLATFORMS),
                Column("shop_id", "channel_shop_id", required=True),
                Column("shop_name", "shop_display_name"),
                Column("expected", "expects_data", "bool", values=YES_NO),
                Column("opened_on", "opened_on", "date"),
            ),
        ),
        ExportContract(
            ExportKind.WAREHOUSES,
            file_stem="erp_warehouses",
            columns=(
                Column("warehouse_id", "warehouse_code", required=True),
                Column("name", "warehouse_name", required=True),
                Column("region", "region"),
                Column("province", "wh_province"),
                Column("city", "wh_city"),
            ),
        ),
        ExportContract(
            ExportKind.PRODUCTS,
            file_stem="erp_products",
            columns=(
                Column("sku_id", "sku_code", required=True),
                Column("product_id", "spu_code", required=True),
                Column("name", "product_name", required=True),
                Column("category", "category"),
                Column("brand", "brand"),
                Column("spec", "spec"),
                Column("barcode", "barcode"),
                Column("list_price_fen", "list_price_fen", "money"),
                Column("unit_cost_fen", "unit_cost_fen", "money"),
                Column("case_pack", "case_pack", "int"),
                Column("moq", "moq", "int"),
                Column("lead_time_days", "lead_time_days", "int"),
                Column("launched_on", "launched_on", "date"),
            ),
        ),
        ExportContract(
            ExportKind.SKU_MAP,
            file_stem="erp_sku_map",
            columns=(
                Column("platform", "channel", "enum", required=True, values=PLATFORMS),
                Column("platform_item_id", "channel_item_id"),
                Column("platform_sku_id", "channel_sku_id", required=True),
                Column("sku_id", "sku_code", required=True),
            ),
        ),
        ExportContract(
            ExportKind.INVENTORY,
            file_stem="erp_inventory",
            columns=(
                Column("snapshot_date", "snapshot_date", "date", required=True),
                Column("warehouse_id", "warehouse_code", required=True),
                Column("sku_id", "sku_code", required=True),
                Column("on_hand", "on_hand_qty", "int", required=True),
                Column("reserved", "reserved_qty", "int"),
            ),
        ),
        ExportContract(
            ExportKind.PURCHASE_ORDERS,
            file_stem="erp_purchase_orders",
            columns=(
                Column("po_id", "po_number", required=True),
                Column("line_no", "po_line", "int", required=True),
                Column("sku_id", "sku_code", required=True),
                Column("warehouse_id", "warehouse_code", required=True),
                Column("qty_ordered", "qty_ordered", "int", required=True),
                Column("qty_received", "qty_received", "int"),
                Column("ordered_on", "ordered_on", "date", required=True),
                Column("expected_on", "expected_on", "date"),
                Column("status", "po_status", "enum", required=True, values=PO_STATUS),
            ),
        ),
    )

"""Offline stores' POS (门店收银): XLSX, yuan, Beijing time to the minute.

The till writes one row per receipt line (小票); its shop column is the store (门店). POS
exports orders, members and promotions only: a store has no chat and no online listing.
"""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ExportKind, OrderStatus, Platform, RefundStatus

STATUS = {
    "已结账": OrderStatus.COMPLETED,
    "挂单": OrderStatus.PENDING_PAYMENT,
    "已付款": OrderStatus.PAID,  # paid at the till, to be delivered from the store
    "配送中": OrderStatus.SHIPPED,
    "已作废": OrderStatus.CANCELLED,
    "已退货": OrderStatus.REFUNDED,
}
REFUND = {
    "无退货": RefundStatus.NONE,
    "退货待审核": RefundStatus.REQUESTED,
    "已退货": RefundStatus.REFUNDED,
    "拒绝退货": RefundStatus.REJECTED,
}
GENDER = {"男": "M", "女": "F", "未知": "U"}
PROMO_KIND = {"门店促销": "promotion", "调价": "price_change"}


class PosAdapter(PlatformAdapter):
    """Offline stores' POS system."""

    platform = Platform.POS
    money_unit = "yuan"
    ts_format = "%Y-%m-%d %H:%M"
    timezone = "Asia/Shanghai"
    masks_phones = False
    contracts = (
        ExportContract(
            ExportKind.ORDERS,
            file_stem="门店销售流水",
            file_format="xlsx",
            columns=(
                Column("order_id", "小票号", required=True),
                Column("line_id", "行号", required=True),
                Column("shop_id", "门店", required=True),
                Column("buyer_id", "会员卡号"),
                Column("title", "商品名称"),
                Column("platform_sku_id", "商品条码", required=True),
                Column("outer_sku_code", "货号"),
                Column("quantity", "销售数量", "int", required=True),
                Column("unit_price_fen", "零售价", "money", required=True),
                Column("paid_fen", "实收金额", "money", required=True),
                Column("discount_fen", "折扣金额", "money"),
                Column("status", "单据状态", "enum", required=True, values=STATUS),
                Column("refund_status", "退货状态", "enum", values=REFUND),
                Column("refund_fen", "退款金额", "money"),
                Column("returned_qty", "退货数量", "int"),
                Column("created_at", "销售时间", "ts", required=True),
                Column("paid_at", "结账时间", "ts"),
                Column("warehouse_id", "出货仓"),
            ),
        ),
        ExportContract(
            ExportKind.MEMBERS,
            file_stem="门店会员",
            file_format="xlsx",
            columns=(
                Column("platform_user_id", "会员编号", required=True),
                Column("shop_id", "开卡门店"),
                Column("full_name", "会员姓名"),
                Column("phone", "手机号"),
                Column("birth_date", "生日", "date"),
                Column("gender", "性别", "enum", values=GENDER),
                Column("province", "省份"),
                Column("city", "城市"),
                Column("district", "区县"),
                Column("address_line", "联系地址"),
                Column("registered_at", "开卡时间", "ts"),
            ),
        ),
        ExportContract(
            ExportKind.PROMOTIONS,
            file_stem="门店促销",
            file_format="xlsx",
            columns=(
                Column("shop_id", "门店", required=True),
                Column("promo_id", "促销单号", required=True),
                Column("name", "促销主题"),
                Column("kind", "促销方式", "enum", required=True, values=PROMO_KIND),
                Column("platform_sku_id", "商品条码", required=True),
                Column("price_fen", "促销价", "money", required=True),
                Column("starts_at", "生效时间", "ts", required=True),
                Column("ends_at", "失效时间", "ts"),
            ),
        ),
    )

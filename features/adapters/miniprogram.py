"""The brand's own WeChat mini-program mall: UTF-8 CSV, snake_case headers, fen, Beijing time.

The mall's reports keep WeChat Pay's field names (``out_trade_no``, ``payer_openid``) and
its amounts in whole fen. Members carry full phones, the WeChat ``unionid`` (shared by the
brand's official account and mini-program) and the device id. No header repeats the ERP's
(``erp.py``), so the two are told apart by their headers alone.
"""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus

STATUS = {
    "WAIT_PAY": OrderStatus.PENDING_PAYMENT,
    "WAIT_DELIVER": OrderStatus.PAID,
    "DELIVERED": OrderStatus.SHIPPED,
    "FINISHED": OrderStatus.COMPLETED,
    "CLOSED": OrderStatus.CANCELLED,
    "REFUNDED": OrderStatus.REFUNDED,
}
REFUND = {
    "NONE": RefundStatus.NONE,
    "PROCESSING": RefundStatus.REQUESTED,
    "SUCCESS": RefundStatus.REFUNDED,
    "REJECTED": RefundStatus.REJECTED,
}
ROLE = {"customer": ChatRole.BUYER, "kf": ChatRole.AGENT, "bot": ChatRole.AGENT}
GENDER = {"male": "M", "female": "F", "unknown": "U"}
LISTED = {"ON_SHELF": True, "OFF_SHELF": False}
PROMO_KIND = {"discount": "promotion", "reprice": "price_change", "coupon": "promotion"}


class MiniprogramAdapter(PlatformAdapter):
    """The brand's WeChat mini-program mall."""

    platform = Platform.MINIPROGRAM
    money_unit = "fen"
    ts_format = "%Y-%m-%d %H:%M:%S"
    timezone = "Asia/Shanghai"
    masks_phones = False
    contracts = (
        ExportContract(
            ExportKind.ORDERS,
            file_stem="mp_orders",
            columns=(
                Column("order_id", "out_trade_no", required=True),
                Column("line_id", "item_line_no", required=True),
                Column("shop_id", "mp_shop_id", required=True),
                Column("buyer_id", "payer_openid"),
                Column("title", "goods_name"),
                Column("platform_item_id", "goods_id"),
                Column("platform_sku_id", "goods_sku_id", required=True),
                Column("outer_sku_code", "merchant_sku"),
                Column("quantity", "goods_num", "int", required=True),
                Column("unit_price_fen", "goods_price_fen", "money", required=True),
                Column("paid_fen", "payer_total_fen", "money", required=True),
                Column("discount_fen", "coupon_fen", "money"),
                Column("status", "order_state", "enum", required=True, values=STATUS),
                Column("refund_status", "refund_state", "enum", values=REFUND),
                Column("refund_fen", "refund_fen", "money"),
                Column("returned_qty", "return_num", "int"),
                Column("created_at", "create_time", "ts", required=True),
                Column("paid_at", "success_time", "ts"),
                Column("receiver_name", "receiver_name"),
                Column("receiver_phone", "receiver_tel"),
                Column("receiver_province", "receiver_province"),
                Column("receiver_city", "receiver_city"),
                Column("receiver_address", "receiver_detail_address"),
                Column("warehouse_id", "fulfil_warehouse"),
            ),
        ),
        ExportContract(
            ExportKind.MEMBERS,
            file_stem="mp_members",
            columns=(
                Column("platform_user_id", "openid", required=True),
                Column("shop_id", "mp_shop_id"),
                Column("nickname", "nick_name"),
                Column("full_name", "real_name"),
                Column("phone", "phone_number"),
                Column("email", "email"),
                Column("birth_date", "birthday", "date"),
                Column("gender", "gender", "enum", values=GENDER),
                Column("province", "province"),
                Column("city", "city"),
                Column("district", "district"),
                Column("address_line", "address_detail"),
                Column("device_id", "device_id"),
                Column("union_id", "unionid"),
                Column("registered_at", "register_time", "ts"),
            ),
        ),
        ExportContract(
            ExportKind.CHATS,
            file_stem="mp_kf_messages",
            columns=(
                Column("session_id", "kf_session_id", required=True),
                Column("seq", "msg_seq", "int", required=True),
                Column("shop_id", "mp_shop_id", required=True),
                Column("buyer_id", "customer_openid"),
                Column("order_id", "related_out_trade_no"),
                Column("role", "sender_type", "enum", required=True, values=ROLE),
                Column("sent_at", "msg_time", "ts", required=True),
                Column("text", "content", required=True),
            ),
        ),
        ExportContract(
            ExportKind.LISTINGS,
            file_stem="mp_goods",
            columns=(
                Column("shop_id", "mp_shop_id", required=True),
                Column("platform_item_id", "goods_id"),
                Column("platform_sku_id", "goods_sku_id", required=True),
                Column("outer_sku_code", "merchant_sku"),
                Column("title", "goods_name"),
                Column("listed", "shelf_status", "bool", required=True, values=LISTED),
                Column("price_fen", "sale_price_fen", "money"),
                Column("platform_stock", "stock_num", "int"),
                Column("updated_at", "update_time", "ts", required=True),
            ),
        ),
        ExportContract(
            ExportKind.PROMOTIONS,
            file_stem="mp_activities",
            columns=(
                Column("shop_id", "mp_shop_id", required=True),
                Column("promo_id", "activity_id", required=True),
                Column("name", "activity_name"),
                Column("kind", "activity_type", "enum", required=True, values=PROMO_KIND),
                Column("platform_sku_id", "goods_sku_id", required=True),
                Column("price_fen", "activity_price_fen", "money", required=True),
                Column("starts_at", "begin_time", "ts", required=True),
                Column("ends_at", "end_time", "ts"),
            ),
        ),
    )

"""Xiaohongshu (小红书千帆) exports: UTF-8 CSV, yuan, times in UTC (``2024-11-10T16:03:12Z``).

小红书 writes its report times in UTC with a ``Z`` and says so in the header (``(UTC)``);
the business day is still counted in Beijing time by the store.
"""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus

STATUS = {
    "待付款": OrderStatus.PENDING_PAYMENT,
    "待发货": OrderStatus.PAID,
    "已发货": OrderStatus.SHIPPED,
    "已完成": OrderStatus.COMPLETED,
    "已取消": OrderStatus.CANCELLED,
    "已关闭": OrderStatus.CANCELLED,
    "已退款": OrderStatus.REFUNDED,
}
REFUND = {
    "无售后": RefundStatus.NONE,
    "售后处理中": RefundStatus.REQUESTED,
    "退款完成": RefundStatus.REFUNDED,
    "售后已拒绝": RefundStatus.REJECTED,
}
ROLE = {"用户": ChatRole.BUYER, "商家": ChatRole.AGENT, "客服": ChatRole.AGENT}
GENDER = {"男": "M", "女": "F", "未知": "U"}
LISTED = {"在架": True, "下架": False}
PROMO_KIND = {"限时折扣": "promotion", "改价": "price_change", "满减": "promotion"}


class XiaohongshuAdapter(PlatformAdapter):
    """小红书 (千帆) back office."""

    platform = Platform.XIAOHONGSHU
    money_unit = "yuan"
    ts_format = "%Y-%m-%dT%H:%M:%SZ"
    timezone = "UTC"
    masks_phones = False
    contracts = (
        ExportContract(
            ExportKind.ORDERS,
            file_stem="小红书订单",
            columns=(
                Column("order_id", "订单号", required=True),
                Column("line_id", "商品行ID", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "用户小红书号"),
                Column("title", "商品名称"),
                Column("platform_item_id", "商品ID"),
                Column("platform_sku_id", "SKU编号", required=True),
                Column("outer_sku_code", "商家编码"),
                Column("quantity", "数量", "int", required=True),
                Column("unit_price_fen", "商品单价(元)", "money", required=True),
                Column("paid_fen", "实付金额(元)", "money", required=True),
                Column("discount_fen", "商家优惠(元)", "money"),
                Column("status", "订单状态", "enum", required=True, values=STATUS),
                Column("refund_status", "售后状态", "enum", values=REFUND),
                Column("refund_fen", "退款金额(元)", "money"),
                Column("returned_qty", "退货数量", "int"),
                Column("created_at", "下单时间(UTC)", "ts", required=True),
                Column("paid_at", "支付时间(UTC)", "ts"),
                Column("receiver_name", "收件人"),
                Column("receiver_phone", "收件人电话"),
                Column("receiver_province", "收件省份"),
                Column("receiver_city", "收件城市"),
                Column("receiver_address", "收件地址"),
                Column("warehouse_id", "仓库编码"),
            ),
        ),
        ExportContract(
            ExportKind.MEMBERS,
            file_stem="小红书会员",
            columns=(
                Column("platform_user_id", "小红书号", required=True),
                Column("shop_id", "店铺名称"),
                Column("nickname", "昵称"),
                Column("full_name", "姓名"),
                Column("phone", "手机号"),
                Column("email", "邮箱"),
                Column("birth_date", "生日", "date"),
                Column("gender", "性别", "enum", values=GENDER),
                Column("province", "省份"),
                Column("city", "城市"),
                Column("district", "区县"),
                Column("address_line", "详细地址"),
                Column("registered_at", "入会时间(UTC)", "ts"),
            ),
        ),
        ExportContract(
            ExportKind.CHATS,
            file_stem="小红书私信",
            columns=(
                Column("session_id", "私信会话ID", required=True),
                Column("seq", "消息序号", "int", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "用户小红书号"),
                Column("order_id", "订单号"),
                Column("role", "发送者", "enum", required=True, values=ROLE),
                Column("sent_at", "发送时间(UTC)", "ts", required=True),
                Column("text", "内容", required=True),
            ),
        ),
        ExportContract(
            ExportKind.LISTINGS,
            file_stem="小红书商品",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("platform_item_id", "商品ID"),
                Column("platform_sku_id", "SKU编号", required=True),
                Column("outer_sku_code", "商家编码"),
                Column("title", "商品名称"),
                Column("listed", "在架状态", "bool", required=True, values=LISTED),
                Column("price_fen", "售价(元)", "money"),
                Column("platform_stock", "可售库存", "int"),
                Column("updated_at", "更新时间(UTC)", "ts", required=True),
            ),
        ),
        ExportContract(
            ExportKind.PROMOTIONS,
            file_stem="小红书营销活动",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("promo_id", "活动编码", required=True),
                Column("name", "活动名称"),
                Column("kind", "活动形式", "enum", required=True, values=PROMO_KIND),
                Column("platform_sku_id", "SKU编号", required=True),
                Column("price_fen", "活动价(元)", "money", required=True),
                Column("starts_at", "开始时间(UTC)", "ts", required=True),
                Column("ends_at", "结束时间(UTC)", "ts"),
            ),
        ),
    )

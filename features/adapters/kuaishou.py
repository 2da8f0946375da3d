"""Kuaishou (快手小店) exports: UTF-8 CSV, money in fen, times as epoch milliseconds.

The 快手小店 open-platform reports keep the API's shapes: amounts in whole fen, times as
Unix milliseconds (``1731254592000``), phones masked (``138****5678``).
"""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus

STATUS = {
    "待付款": OrderStatus.PENDING_PAYMENT,
    "待发货": OrderStatus.PAID,
    "已发货": OrderStatus.SHIPPED,
    "交易成功": OrderStatus.COMPLETED,
    "已收货": OrderStatus.COMPLETED,
    "交易关闭": OrderStatus.CANCELLED,
    "退款完成": OrderStatus.REFUNDED,
}
REFUND = {
    "未退款": RefundStatus.NONE,
    "退款中": RefundStatus.REQUESTED,
    "已退款": RefundStatus.REFUNDED,
    "退款被拒绝": RefundStatus.REJECTED,
}
ROLE = {"买家": ChatRole.BUYER, "客服": ChatRole.AGENT, "智能客服": ChatRole.AGENT}
GENDER = {"男": "M", "女": "F", "未知": "U"}
LISTED = {"已上架": True, "已下架": False, "待上架": False}
PROMO_KIND = {"秒杀": "promotion", "改价": "price_change", "满减": "promotion"}


class KuaishouAdapter(PlatformAdapter):
    """快手小店 back office."""

    platform = Platform.KUAISHOU
    money_unit = "fen"
    ts_format = "epoch_ms"
    timezone = "Asia/Shanghai"
    masks_phones = True
    contracts = (
        ExportContract(
            ExportKind.ORDERS,
            file_stem="快手小店订单",
            columns=(
                Column("order_id", "订单ID", required=True),
                Column("line_id", "子订单ID", required=True),
                Column("shop_id", "小店名称", required=True),
                Column("buyer_id", "买家ID"),
                Column("title", "商品名称"),
                Column("platform_item_id", "商品ID"),
                Column("platform_sku_id", "商品规格ID", required=True),
                Column("outer_sku_code", "商家SKU编码"),
                Column("quantity", "购买件数", "int", required=True),
                Column("unit_price_fen", "单价(分)", "money", required=True),
                Column("paid_fen", "实付款(分)", "money", required=True),
                Column("discount_fen", "优惠金额(分)", "money"),
                Column("status", "订单状态", "enum", required=True, values=STATUS),
                Column("refund_status", "退款状态", "enum", values=REFUND),
                Column("refund_fen", "退款金额(分)", "money"),
                Column("returned_qty", "退货件数", "int"),
                Column("created_at", "下单时间(毫秒)", "ts", required=True),
                Column("paid_at", "支付时间(毫秒)", "ts"),
                Column("receiver_name", "收货人"),
                Column("receiver_phone", "收货人电话"),
                Column("receiver_province", "收货省份"),
                Column("receiver_city", "收货城市"),
                Column("receiver_address", "收货地址"),
                Column("warehouse_id", "发货仓编码"),
            ),
        ),
        ExportContract(
            ExportKind.MEMBERS,
            file_stem="快手小店粉丝会员",
            columns=(
                Column("platform_user_id", "快手用户ID", required=True),
                Column("shop_id", "小店名称"),
                Column("nickname", "快手昵称"),
                Column("full_name", "真实姓名"),
                Column("phone", "手机号"),
                Column("email", "邮箱"),
                Column("birth_date", "生日", "date"),
                Column("gender", "性别", "enum", values=GENDER),
                Column("province", "省份"),
                Column("city", "城市"),
                Column("district", "区县"),
                Column("address_line", "地址"),
                Column("device_id", "设备ID"),
                Column("registered_at", "入会时间(毫秒)", "ts"),
            ),
        ),
        ExportContract(
            ExportKind.CHATS,
            file_stem="快手客服会话",
            columns=(
                Column("session_id", "客服会话ID", required=True),
                Column("seq", "消息序号", "int", required=True),
                Column("shop_id", "小店名称", required=True),
                Column("buyer_id", "买家ID"),
                Column("order_id", "订单ID"),
                Column("role", "消息来源", "enum", required=True, values=ROLE),
                Column("sent_at", "消息时间(毫秒)", "ts", required=True),
                Column("text", "消息文本", required=True),
            ),
        ),
        ExportContract(
            ExportKind.LISTINGS,
            file_stem="快手小店商品",
            columns=(
                Column("shop_id", "小店名称", required=True),
                Column("platform_item_id", "商品ID"),
                Column("platform_sku_id", "商品规格ID", required=True),
                Column("outer_sku_code", "商家SKU编码"),
                Column("title", "商品名称"),
                Column("listed", "上架状态", "bool", required=True, values=LISTED),
                Column("price_fen", "售价(分)", "money"),
                Column("platform_stock", "库存数量", "int"),
                Column("updated_at", "更新时间(毫秒)", "ts", required=True),
            ),
        ),
        ExportContract(
            ExportKind.PROMOTIONS,
            file_stem="快手小店营销活动",
            columns=(
                Column("shop_id", "小店名称", required=True),
                Column("promo_id", "营销活动ID", required=True),
                Column("name", "活动名称"),
                Column("kind", "活动类别", "enum", required=True, values=PROMO_KIND),
                Column("platform_sku_id", "商品规格ID", required=True),
                Column("price_fen", "活动价(分)", "money", required=True),
                Column("starts_at", "开始时间(毫秒)", "ts", required=True),
                Column("ends_at", "结束时间(毫秒)", "ts"),
            ),
        ),
    )

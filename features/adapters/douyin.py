"""Douyin (抖店) exports: UTF-8 CSV, money in fen, ISO 8601 times with their offset.

抖店 writes amounts as whole fen and says so in the header (``商品单价(分)``), keeps the
main order (主订单) and its sub-orders (子订单) apart, and masks phones (``138****5678``).
"""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus

STATUS = {
    "待支付": OrderStatus.PENDING_PAYMENT,
    "备货中": OrderStatus.PAID,
    "待发货": OrderStatus.PAID,
    "已发货": OrderStatus.SHIPPED,
    "已完成": OrderStatus.COMPLETED,
    "已关闭": OrderStatus.CANCELLED,
    "已退款": OrderStatus.REFUNDED,
}
REFUND = {
    "无售后": RefundStatus.NONE,
    "售后中": RefundStatus.REQUESTED,
    "退款成功": RefundStatus.REFUNDED,
    "售后拒绝": RefundStatus.REJECTED,
}
ROLE = {"用户": ChatRole.BUYER, "客服": ChatRole.AGENT, "机器人": ChatRole.AGENT}
GENDER = {"男": "M", "女": "F", "未知": "U"}
LISTED = {"在售": True, "已下架": False, "审核中": False}
PROMO_KIND = {"限时限量购": "promotion", "改价": "price_change", "满减": "promotion"}


class DouyinAdapter(PlatformAdapter):
    """抖店 back office (抖音电商)."""

    platform = Platform.DOUYIN
    money_unit = "fen"
    ts_format = "iso8601"
    timezone = "Asia/Shanghai"
    masks_phones = True
    contracts = (
        ExportContract(
            ExportKind.ORDERS,
            file_stem="抖店订单",
            columns=(
                Column("order_id", "主订单编号", required=True),
                Column("line_id", "子订单编号", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "下单用户ID"),
                Column("title", "选购商品"),
                Column("platform_item_id", "商品ID"),
                Column("platform_sku_id", "规格ID", required=True),
                Column("outer_sku_code", "商家编码"),
                Column("quantity", "商品数量", "int", required=True),
                Column("unit_price_fen", "商品单价(分)", "money", required=True),
                Column("paid_fen", "订单应付金额(分)", "money", required=True),
                Column("discount_fen", "优惠总金额(分)", "money"),
                Column("status", "订单状态", "enum", required=True, values=STATUS),
                Column("refund_status", "售后状态", "enum", values=REFUND),
                Column("refund_fen", "退款金额(分)", "money"),
                Column("returned_qty", "退货数量", "int"),
                Column("created_at", "订单提交时间", "ts", required=True),
                Column("paid_at", "支付完成时间", "ts"),
                Column("receiver_name", "收件人"),
                Column("receiver_phone", "收件人手机号"),
                Column("receiver_province", "省"),
                Column("receiver_city", "市"),
                Column("receiver_address", "详细地址"),
                Column("warehouse_id", "发货仓库编码"),
            ),
        ),
        ExportContract(
            ExportKind.MEMBERS,
            file_stem="抖店会员",
            columns=(
                Column("platform_user_id", "抖音用户ID", required=True),
                Column("shop_id", "店铺名称"),
                Column("nickname", "抖音昵称"),
                Column("full_name", "姓名"),
                Column("phone", "手机号"),
                Column("email", "邮箱"),
                Column("birth_date", "生日", "date"),
                Column("gender", "性别", "enum", values=GENDER),
                Column("province", "省份"),
                Column("city", "城市"),
                Column("district", "区县"),
                Column("address_line", "详细地址"),
                Column("device_id", "设备ID"),
                Column("union_id", "UnionID"),
                Column("registered_at", "入会时间", "ts"),
            ),
        ),
        ExportContract(
            ExportKind.CHATS,
            file_stem="飞鸽聊天记录",
            columns=(
                Column("session_id", "飞鸽会话ID", required=True),
                Column("seq", "消息序号", "int", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "用户ID"),
                Column("order_id", "关联订单号"),
                Column("role", "发送者", "enum", required=True, values=ROLE),
                Column("sent_at", "发送时间", "ts", required=True),
                Column("text", "消息内容", required=True),
            ),
        ),
        ExportContract(
            ExportKind.LISTINGS,
            file_stem="抖店商品",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("platform_item_id", "商品ID"),
                Column("platform_sku_id", "规格ID", required=True),
                Column("outer_sku_code", "商家编码"),
                Column("title", "商品名称"),
                Column("listed", "商品状态", "bool", required=True, values=LISTED),
                Column("price_fen", "售价(分)", "money"),
                Column("platform_stock", "现货库存", "int"),
                Column("updated_at", "更新时间", "ts", required=True),
            ),
        ),
        ExportContract(
            ExportKind.PROMOTIONS,
            file_stem="抖店营销活动",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("promo_id", "活动ID", required=True),
                Column("name", "活动名称"),
                Column("kind", "活动类型", "enum", required=True, values=PROMO_KIND),
                Column("platform_sku_id", "规格ID", required=True),
                Column("price_fen", "活动价(分)", "money", required=True),
                Column("starts_at", "活动开始时间", "ts", required=True),
                Column("ends_at", "活动结束时间", "ts"),
            ),
        ),
    )

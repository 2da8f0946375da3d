"""JD (京东 POP 商家后台) exports: GBK, yuan, Beijing time written ``2024/11/11 00:03:12``.

Orders and members are downloaded as XLSX (the back office's default); the other reports
as GBK CSV. JD keeps one row per order × SKU and calls the merchant code 货号.
"""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus

STATUS = {
    "等待付款": OrderStatus.PENDING_PAYMENT,
    "等待出库": OrderStatus.PAID,
    "等待发货": OrderStatus.PAID,
    "等待确认收货": OrderStatus.SHIPPED,
    "完成": OrderStatus.COMPLETED,
    "已取消": OrderStatus.CANCELLED,
    "(删除)锁定": OrderStatus.CANCELLED,  # the buyer cancelled; JD locks the order first
    "锁定": OrderStatus.CANCELLED,
    "退款成功": OrderStatus.REFUNDED,
}
REFUND = {
    "无售后": RefundStatus.NONE,
    "售后审核中": RefundStatus.REQUESTED,
    "退款完成": RefundStatus.REFUNDED,
    "审核不通过": RefundStatus.REJECTED,
}
ROLE = {"顾客": ChatRole.BUYER, "客服": ChatRole.AGENT, "商家": ChatRole.AGENT}
GENDER = {"男": "M", "女": "F", "保密": "U"}
LISTED = {"上柜": True, "下柜": False, "待上柜": False}
PROMO_KIND = {"单品促销": "promotion", "价格调整": "price_change", "满减促销": "promotion"}


class JdAdapter(PlatformAdapter):
    """京东 POP back office."""

    platform = Platform.JD
    money_unit = "yuan"
    ts_format = "%Y/%m/%d %H:%M:%S"
    date_format = "%Y/%m/%d"
    timezone = "Asia/Shanghai"
    masks_phones = False
    contracts = (
        ExportContract(
            ExportKind.ORDERS,
            file_stem="订单查询导出",
            file_format="xlsx",
            encoding="gbk",
            columns=(
                Column("order_id", "订单号", required=True),
                Column("line_id", "订单明细编号", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "下单帐号", aliases=("下单账号",)),
                Column("title", "商品名称"),
                Column("platform_item_id", "SPU编号"),
                Column("platform_sku_id", "商品编号", required=True),
                Column("outer_sku_code", "商品货号"),
                Column("quantity", "订购数量", "int", required=True),
                Column("unit_price_fen", "京东价", "money", required=True),
                Column("paid_fen", "应付金额", "money", required=True),
                Column("discount_fen", "总优惠金额", "money"),
                Column("status", "订单状态", "enum", required=True, values=STATUS),
                Column("refund_status", "售后状态", "enum", values=REFUND),
                Column("refund_fen", "退款金额", "money"),
                Column("returned_qty", "退货件数", "int"),
                Column("created_at", "下单时间", "ts", required=True),
                Column("paid_at", "付款确认时间", "ts"),
                Column("receiver_name", "客户姓名"),
                Column("receiver_phone", "联系电话"),
                Column("receiver_address", "客户地址"),
                Column("warehouse_id", "出库仓"),
            ),
        ),
        ExportContract(
            ExportKind.MEMBERS,
            file_stem="会员信息导出",
            file_format="xlsx",
            encoding="gbk",
            columns=(
                Column("platform_user_id", "用户PIN", required=True),
                Column("shop_id", "开卡店铺"),
                Column("nickname", "用户昵称"),
                Column("full_name", "姓名"),
                Column("phone", "手机号"),
                Column("email", "邮箱"),
                Column("birth_date", "生日", "date"),
                Column("gender", "性别", "enum", values=GENDER),
                Column("province", "省份"),
                Column("city", "城市"),
                Column("district", "区县"),
                Column("address_line", "详细地址"),
                Column("registered_at", "开卡时间", "ts"),
            ),
        ),
        ExportContract(
            ExportKind.CHATS,
            file_stem="咚咚聊天记录",
            encoding="gbk",
            columns=(
                Column("session_id", "咚咚会话ID", required=True),
                Column("seq", "消息顺序", "int", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "顾客帐号"),
                Column("order_id", "咨询订单号"),
                Column("role", "发送人角色", "enum", required=True, values=ROLE),
                Column("sent_at", "消息时间", "ts", required=True),
                Column("text", "聊天内容", required=True),
            ),
        ),
        ExportContract(
            ExportKind.LISTINGS,
            file_stem="商品管理导出",
            encoding="gbk",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("platform_item_id", "SPU编号"),
                Column("platform_sku_id", "商品编号", required=True),
                Column("outer_sku_code", "商品货号"),
                Column("title", "商品名称"),
                Column("listed", "上下柜状态", "bool", required=True, values=LISTED),
                Column("price_fen", "京东价", "money"),
                Column("platform_stock", "可售库存", "int"),
                Column("updated_at", "最近修改时间", "ts", required=True),
            ),
        ),
        ExportContract(
            ExportKind.PROMOTIONS,
            file_stem="促销活动导出",
            encoding="gbk",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("promo_id", "促销编号", required=True),
                Column("name", "促销名称"),
                Column("kind", "促销类型", "enum", required=True, values=PROMO_KIND),
                Column("platform_sku_id", "商品编号", required=True),
                Column("price_fen", "促销价", "money", required=True),
                Column("starts_at", "促销开始时间", "ts", required=True),
                Column("ends_at", "促销结束时间", "ts"),
            ),
        ),
    )

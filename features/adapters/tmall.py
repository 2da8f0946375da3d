"""Tmall / Taobao (千牛 / 生意参谋) exports: GBK CSV, yuan, Beijing time."""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus

STATUS = {
    "等待买家付款": OrderStatus.PENDING_PAYMENT,
    "买家已付款，等待卖家发货": OrderStatus.PAID,
    "买家已付款": OrderStatus.PAID,
    "卖家已发货，等待买家确认": OrderStatus.SHIPPED,
    "交易成功": OrderStatus.COMPLETED,
    "交易关闭": OrderStatus.CANCELLED,
    "退款成功，交易关闭": OrderStatus.REFUNDED,
}
REFUND = {
    "没有申请退款": RefundStatus.NONE,
    "买家已经申请退款，等待卖家同意": RefundStatus.REQUESTED,
    "退款成功": RefundStatus.REFUNDED,
    "卖家拒绝退款": RefundStatus.REJECTED,
}
ROLE = {"买家": ChatRole.BUYER, "客服": ChatRole.AGENT, "卖家": ChatRole.AGENT}
GENDER = {"男": "M", "女": "F", "未知": "U"}
LISTED = {"出售中": True, "仓库中": False, "已下架": False}
PROMO_KIND = {"营销活动": "promotion", "改价": "price_change"}


class TmallAdapter(PlatformAdapter):
    """淘宝/天猫 back office."""

    platform = Platform.TMALL
    money_unit = "yuan"
    ts_format = "%Y-%m-%d %H:%M:%S"
    timezone = "Asia/Shanghai"
    masks_phones = False
    contracts = (
        ExportContract(
            ExportKind.ORDERS,
            file_stem="订单报表",
            encoding="gbk",
            columns=(
                Column("order_id", "订单编号", required=True),
                Column("line_id", "子订单编号", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "买家会员名"),
                Column("title", "宝贝标题", aliases=("商品标题",)),
                Column("platform_item_id", "宝贝ID"),
                Column("platform_sku_id", "SKU ID", required=True),
                Column("outer_sku_code", "商家编码"),
                Column("quantity", "购买数量", "int", required=True),
                Column("unit_price_fen", "宝贝单价", "money", required=True),
                Column("paid_fen", "买家实付金额", "money", required=True),
                Column("discount_fen", "优惠金额", "money"),
                Column("status", "订单状态", "enum", required=True, values=STATUS),
                Column("refund_status", "退款状态", "enum", values=REFUND),
                Column("refund_fen", "退款金额", "money"),
                Column("returned_qty", "退货数量", "int"),
                Column("created_at", "订单创建时间", "ts", required=True),
                Column("paid_at", "订单付款时间", "ts"),
                Column("receiver_name", "收货人姓名"),
                Column("receiver_phone", "联系手机"),
                Column("receiver_address", "收货地址"),
                Column("warehouse_id", "发货仓"),
            ),
        ),
        ExportContract(
            ExportKind.MEMBERS,
            file_stem="会员列表",
            encoding="gbk",
            columns=(
                Column("platform_user_id", "会员名", required=True),
                Column("shop_id", "入会店铺"),
                Column("nickname", "会员昵称"),
                Column("full_name", "真实姓名"),
                Column("phone", "手机号码"),
                Column("email", "电子邮箱"),
                Column("birth_date", "生日", "date"),
                Column("gender", "性别", "enum", values=GENDER),
                Column("province", "所在省份"),
                Column("city", "所在城市"),
                Column("district", "所在区县"),
                Column("address_line", "详细地址"),
                Column("registered_at", "入会时间", "ts"),
            ),
        ),
        ExportContract(
            ExportKind.CHATS,
            file_stem="聊天记录",
            encoding="gbk",
            columns=(
                Column("session_id", "会话编号", required=True),
                Column("seq", "消息序号", "int", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "买家会员名"),
                Column("order_id", "关联订单编号"),
                Column("role", "发送方", "enum", required=True, values=ROLE),
                Column("sent_at", "发送时间", "ts", required=True),
                Column("text", "消息内容", required=True),
            ),
        ),
        ExportContract(
            ExportKind.LISTINGS,
            file_stem="宝贝列表",
            encoding="gbk",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("platform_item_id", "宝贝ID"),
                Column("platform_sku_id", "SKU ID", required=True),
                Column("outer_sku_code", "商家编码"),
                Column("title", "宝贝标题"),
                Column("listed", "宝贝状态", "bool", required=True, values=LISTED),
                Column("price_fen", "一口价", "money"),
                Column("platform_stock", "宝贝库存", "int"),
                Column("updated_at", "最后修改时间", "ts", required=True),
            ),
        ),
        ExportContract(
            ExportKind.PROMOTIONS,
            file_stem="营销活动",
            encoding="gbk",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("promo_id", "活动编号", required=True),
                Column("name", "活动名称"),
                Column("kind", "活动类型", "enum", required=True, values=PROMO_KIND),
                Column("platform_sku_id", "SKU ID", required=True),
                Column("price_fen", "活动价", "money", required=True),
                Column("starts_at", "开始时间", "ts", required=True),
                Column("ends_at", "结束时间", "ts"),
            ),
        ),
    )

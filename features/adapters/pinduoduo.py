"""Pinduoduo (拼多多商家后台) exports: UTF-8 CSV with BOM, yuan, Beijing time.

Headers carry their unit, as the back office writes them (``用户实付金额(元)``); the
receiver's and members' phones come masked (``138****5678``) and are kept so. PDD sells
one SKU per order, yet the export still numbers each line.
"""

from __future__ import annotations

from features.adapters.base import Column, ExportContract, PlatformAdapter
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus

STATUS = {
    "待支付": OrderStatus.PENDING_PAYMENT,
    "待发货": OrderStatus.PAID,
    "已发货，待收货": OrderStatus.SHIPPED,
    "已发货,待收货": OrderStatus.SHIPPED,
    "已发货": OrderStatus.SHIPPED,
    "已签收": OrderStatus.COMPLETED,
    "已取消": OrderStatus.CANCELLED,
    "售后完成": OrderStatus.REFUNDED,
}
REFUND = {
    "无售后或售后取消": RefundStatus.NONE,
    "售后处理中": RefundStatus.REQUESTED,
    "退款成功": RefundStatus.REFUNDED,
    "售后驳回": RefundStatus.REJECTED,
}
ROLE = {"消费者": ChatRole.BUYER, "客服": ChatRole.AGENT, "机器人": ChatRole.AGENT}
GENDER = {"男": "M", "女": "F", "未知": "U"}
LISTED = {"在售中": True, "已下架": False, "已售罄": True}
PROMO_KIND = {"限时秒杀": "promotion", "商品改价": "price_change", "多件优惠": "promotion"}


class PinduoduoAdapter(PlatformAdapter):
    """拼多多 back office."""

    platform = Platform.PINDUODUO
    money_unit = "yuan"
    ts_format = "%Y-%m-%d %H:%M:%S"
    timezone = "Asia/Shanghai"
    masks_phones = True
    contracts = (
        ExportContract(
            ExportKind.ORDERS,
            file_stem="订单列表",
            encoding="utf-8-sig",
            columns=(
                Column("order_id", "订单号", required=True),
                Column("line_id", "子订单号", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "买家ID"),
                Column("title", "商品"),
                Column("platform_item_id", "商品id"),
                Column("platform_sku_id", "样式ID", required=True),
                Column("outer_sku_code", "商家编码-SKU维度"),
                Column("quantity", "商品数量(件)", "int", required=True),
                Column("unit_price_fen", "商品单价(元)", "money", required=True),
                Column("paid_fen", "用户实付金额(元)", "money", required=True),
                Column("discount_fen", "店铺优惠折扣(元)", "money"),
                Column("status", "订单状态", "enum", required=True, values=STATUS),
                Column("refund_status", "售后状态", "enum", values=REFUND),
                Column("refund_fen", "退款金额(元)", "money"),
                Column("returned_qty", "退货数量(件)", "int"),
                Column("created_at", "订单创建时间", "ts", required=True),
                Column("paid_at", "支付时间", "ts"),
                Column("receiver_name", "收货人"),
                Column("receiver_phone", "手机"),
                Column("receiver_province", "省"),
                Column("receiver_city", "市"),
                Column("receiver_address", "详细地址"),
                Column("warehouse_id", "发货仓库"),
            ),
        ),
        ExportContract(
            ExportKind.MEMBERS,
            file_stem="店铺会员",
            encoding="utf-8-sig",
            columns=(
                Column("platform_user_id", "会员ID", required=True),
                Column("shop_id", "店铺名称"),
                Column("nickname", "拼多多昵称"),
                Column("full_name", "会员姓名"),
                Column("phone", "会员手机号"),
                Column("email", "邮箱"),
                Column("birth_date", "生日", "date"),
                Column("gender", "性别", "enum", values=GENDER),
                Column("province", "省"),
                Column("city", "市"),
                Column("district", "区"),
                Column("address_line", "详细地址"),
                Column("registered_at", "入会时间", "ts"),
            ),
        ),
        ExportContract(
            ExportKind.CHATS,
            file_stem="聊天记录",
            encoding="utf-8-sig",
            columns=(
                Column("session_id", "会话ID", required=True),
                Column("seq", "消息序号", "int", required=True),
                Column("shop_id", "店铺名称", required=True),
                Column("buyer_id", "买家ID"),
                Column("order_id", "订单号"),
                Column("role", "发送方身份", "enum", required=True, values=ROLE),
                Column("sent_at", "消息发送时间", "ts", required=True),
                Column("text", "消息内容", required=True),
            ),
        ),
        ExportContract(
            ExportKind.LISTINGS,
            file_stem="商品列表",
            encoding="utf-8-sig",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("platform_item_id", "商品id"),
                Column("platform_sku_id", "样式ID", required=True),
                Column("outer_sku_code", "商家编码-SKU维度"),
                Column("title", "商品标题"),
                Column("listed", "商品状态", "bool", required=True, values=LISTED),
                Column("price_fen", "拼单价(元)", "money"),
                Column("platform_stock", "库存(件)", "int"),
                Column("updated_at", "最后编辑时间", "ts", required=True),
            ),
        ),
        ExportContract(
            ExportKind.PROMOTIONS,
            file_stem="营销活动",
            encoding="utf-8-sig",
            columns=(
                Column("shop_id", "店铺名称", required=True),
                Column("promo_id", "活动ID", required=True),
                Column("name", "活动名称"),
                Column("kind", "活动工具", "enum", required=True, values=PROMO_KIND),
                Column("platform_sku_id", "样式ID", required=True),
                Column("price_fen", "活动价(元)", "money", required=True),
                Column("starts_at", "活动开始时间", "ts", required=True),
                Column("ends_at", "活动结束时间", "ts"),
            ),
        ),
    )

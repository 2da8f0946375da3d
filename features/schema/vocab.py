"""The unified vocabulary: platforms, export kinds, statuses and unit conventions.

Conventions used across the store:

* money is an integer number of fen (``*_fen`` columns; 1 yuan = 100 fen);
* timestamps are UTC (``*_at`` columns, ``TIMESTAMP`` without zone);
* business days and weeks are in Asia/Shanghai; a week (``week``) starts on Monday.
"""

from __future__ import annotations

from enum import StrEnum

BUSINESS_TZ = "Asia/Shanghai"


class Platform(StrEnum):
    """A sales channel whose back office Butler reads, plus the brand's own ERP."""

    TMALL = "tmall"
    JD = "jd"
    PINDUODUO = "pinduoduo"
    DOUYIN = "douyin"
    KUAISHOU = "kuaishou"
    XIAOHONGSHU = "xiaohongshu"
    MINIPROGRAM = "miniprogram"
    POS = "pos"
    ERP = "erp"

    @classmethod
    def channels(cls) -> list[Platform]:
        """The eight sales channels (every platform but the ERP)."""
        return [p for p in cls if p is not cls.ERP]


#: Display names and the aliases operators use for each platform.
PLATFORM_NAMES: dict[Platform, tuple[str, str]] = {
    Platform.TMALL: ("天猫/淘宝", "Tmall/Taobao"),
    Platform.JD: ("京东", "JD"),
    Platform.PINDUODUO: ("拼多多", "Pinduoduo"),
    Platform.DOUYIN: ("抖音", "Douyin"),
    Platform.KUAISHOU: ("快手", "Kuaishou"),
    Platform.XIAOHONGSHU: ("小红书", "Xiaohongshu"),
    Platform.MINIPROGRAM: ("微信小程序", "WeChat mini-program"),
    Platform.POS: ("线下门店", "Offline POS"),
    Platform.ERP: ("品牌ERP", "Brand ERP"),
}


def channel_named(name: str) -> Platform | None:
    """The sales channel a spelling names, or None: its code, or a Chinese or English name
    of :data:`PLATFORM_NAMES`, in any case and with surrounding spaces ("Taobao", "京东").

    Examples:
        >>> channel_named(" Taobao "), channel_named("京东"), channel_named("amazon")
        (<Platform.TMALL: 'tmall'>, <Platform.JD: 'jd'>, None)
    """
    return _CHANNEL_SPELLINGS.get(name.strip().lower())


_CHANNEL_SPELLINGS: dict[str, Platform] = {
    spelling.strip().lower(): platform
    for platform in Platform.channels()
    for spelling in (platform.value, *PLATFORM_NAMES[platform][0].split("/"),
                     *PLATFORM_NAMES[platform][1].split("/"), PLATFORM_NAMES[platform][1])
}  # fmt: skip


class ExportKind(StrEnum):
    """What an export file holds; each maps to one unified table."""

    ORDERS = "orders"  # one row per order line (sub-order)
    MEMBERS = "members"
    CHATS = "chats"  # one row per chat message
    LISTINGS = "listings"  # what a shop lists on the platform, its price and platform stock
    PROMOTIONS = "promotions"  # promotions and price changes
    # brand master data, from the ERP
    SHOPS = "shops"
    WAREHOUSES = "warehouses"
    PRODUCTS = "products"  # one row per SKU with its product
    SKU_MAP = "sku_map"
    INVENTORY = "inventory"
    PURCHASE_ORDERS = "purchase_orders"


class OrderStatus(StrEnum):
    """One status vocabulary for order lines from every platform."""

    PENDING_PAYMENT = "pending_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"

    @classmethod
    def sold(cls) -> tuple[OrderStatus, ...]:
        """Statuses whose quantity counts as sold (the buyer paid)."""
        return (cls.PAID, cls.SHIPPED, cls.COMPLETED, cls.REFUNDED)


class RefundStatus(StrEnum):
    """Where an order line's refund or return stands."""

    NONE = "none"
    REQUESTED = "requested"
    REFUNDED = "refunded"
    REJECTED = "rejected"


class ChatRole(StrEnum):
    """Who wrote a chat message."""

    BUYER = "buyer"
    AGENT = "agent"


class Severity(StrEnum):
    """How urgently a supervisor must look at a risk scenario."""

    HIGH = "high"
    MEDIUM = "medium"


class RiskLabel(StrEnum):
    """The customer-chat risk scenarios, as defined from what buyers write.

    The order is the order of every label matrix's columns.
    """

    COMPLAINT_THREAT = "complaint_threat"
    MEDIA_EXPOSURE = "media_exposure"
    LEGAL_THREAT = "legal_threat"
    SAFETY_INJURY = "safety_injury"
    COUNTERFEIT = "counterfeit"
    FRAUD_SCAM = "fraud_scam"
    PRIVACY_LEAK = "privacy_leak"
    MASS_COMPLAINT = "mass_complaint"
    REFUND_DISPUTE = "refund_dispute"
    PRICE_PROTECTION = "price_protection"
    LOGISTICS_LOSS_DAMAGE = "logistics_loss_damage"
    ABUSIVE_LANGUAGE = "abusive_language"
    EXTREME_NEGATIVE_CHURN = "extreme_negative_churn"
    REPEATED_CONTACT = "repeated_contact"

    @property
    def severity(self) -> Severity:
        """High for the eight scenarios that can become a regulator, media or legal case."""
        return _SEVERITY[self]


#: Each scenario's severity (looked up per scenario of every classified conversation).
_SEVERITY = {
    label: Severity.HIGH if i < 8 else Severity.MEDIUM for i, label in enumerate(RiskLabel)
}

"""Small unified frames for every export kind, and helpers to write them as platform exports.

A test renders a unified frame with an adapter, writes it the way the back office would
(its encoding and file format), and checks what reading it back gives. Timestamps are naive
UTC on whole minutes, because POS writes times to the minute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from features.adapters.base import PlatformAdapter
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus
from features.store import Store

SHOP = "Butler旗舰店"


def _ts(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values))).astype("datetime64[ns]")


def _phones(adapter: type[PlatformAdapter], n: int) -> list[str]:
    full = ["13812345678", "13900001111", "15012345678", "18688889999", "17700000000"]
    if adapter.masks_phones:
        return [p[:3] + "****" + p[-4:] for p in full[:n]]
    return full[:n]


def _orders(adapter: type[PlatformAdapter]) -> pd.DataFrame:
    # O1001 has two lines; every order status and refund status appears once at least
    return pd.DataFrame(
        {
            "order_id": ["O1001", "O1001", "O1002", "O1003", "O1004", "O1005", "O1006"],
            "line_id": ["L1", "L2", "L3", "L4", "L5", "L6", "L7"],
            "shop_id": SHOP,
            "buyer_id": ["buyer_a", "buyer_a", "buyer_b", "buyer_c", "buyer_d", "buyer_e", None],
            "title": ["保温杯 500ml 白色", "保温杯 500ml 黑色", "滤水壶", "茶具套装, 6件",
                      "保温杯 500ml 白色", "筷子(10双)", "保温杯 500ml 白色"],
            "platform_item_id": ["I9001", "I9001", "I9002", "I9003", "I9001", "I9004", "I9001"],
            "platform_sku_id": ["S1", "S2", "S3", "S4", "S1", "S5", "S1"],
            "outer_sku_code": ["SKU-001", "SKU-002", "SKU-003", None, "SKU-001", "SKU-005",
                               "SKU-001"],
            "quantity": pd.array([1, 2, 1, 3, 1, 1, 2], dtype="Int64"),
            "unit_price_fen": pd.array([1999, 2999, 5, 100000, 1999, 1, 1999], dtype="Int64"),
            "paid_fen": pd.array([1899, 5998, 5, 300000, 1999, 0, 3998], dtype="Int64"),
            "discount_fen": pd.array([100, 0, 0, 0, 0, 1, 0], dtype="Int64"),
            "status": [OrderStatus.COMPLETED, OrderStatus.COMPLETED, OrderStatus.PENDING_PAYMENT,
                       OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.CANCELLED,
                       OrderStatus.REFUNDED],
            "refund_status": [RefundStatus.NONE, RefundStatus.REJECTED, RefundStatus.NONE,
                              RefundStatus.REQUESTED, RefundStatus.NONE, RefundStatus.NONE,
                              RefundStatus.REFUNDED],
            "refund_fen": pd.array([0, 0, 0, 0, 0, 0, 3998], dtype="Int64"),
            "returned_qty": pd.array([0, 0, 0, 0, 0, 0, 2], dtype="Int64"),
            # 2024-11-10 16:03 UTC is 11-11 00:03 in Beijing: the business day moves
            "created_at": _ts("2024-11-10 16:03", "2024-11-10 16:03", "2024-06-17 15:59",
                              "2024-01-01 00:00", "2023-12-31 23:59", "2024-02-10 04:30",
                              "2024-11-11 12:00"),
            "paid_at": _ts("2024-11-10 16:05", "2024-11-10 16:05", None, "2024-01-01 00:01",
                           "2024-01-01 00:00", None, "2024-11-11 12:01"),
            "receiver_name": ["张三", "张三", "李四", "王五", "赵六", "钱七", None],
            "receiver_phone": _phones(adapter, 1) * 2 + _phones(adapter, 5),
            "receiver_province": ["浙江省", "浙江省", "上海市", "广东省", "北京市", "四川省", None],
            "receiver_city": ["杭州市", "杭州市", "上海市", "深圳市", "北京市", "成都市", None],
            "receiver_address": ["西湖区文三路1号, 3幢", "西湖区文三路1号, 3幢",
                                 "浦东新区世纪大道8号", "南山区科技园", "朝阳区建国路", "武侯区",
                                 None],
            "warehouse_id": ["WH-HZ", "WH-HZ", "WH-SH", None, "WH-HZ", "WH-CD", "WH-HZ"],
        }
    )  # fmt: skip


def _members(adapter: type[PlatformAdapter]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "platform_user_id": ["U001", "U002", "U003", "U004"],
            "shop_id": [SHOP, SHOP, None, SHOP],
            "nickname": ["小明", "阿花", None, "Tom"],
            "full_name": ["王小明", "李花", "张伟", None],
            "phone": _phones(adapter, 3) + [None],
            "email": ["xm@example.com", None, "zw@example.cn", None],
            "birth_date": _ts("1990-05-01", None, "2001-12-31", "1985-02-28"),
            "gender": ["M", "F", "U", "M"],
            "province": ["浙江省", "上海市", None, "广东省"],
            "city": ["杭州市", "上海市", None, "广州市"],
            "district": ["西湖区", "浦东新区", None, "天河区"],
            "address_line": ["文三路1号", "世纪大道8号", None, "体育西路"],
            "device_id": ["dev-1", None, "dev-3", "dev-4"],
            "union_id": ["oUnion1", "oUnion2", None, "oUnion4"],
            "registered_at": _ts("2023-03-01 02:00", "2024-11-10 16:00", None, "2020-01-01 00:00"),
        }
    )


def _chats() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "session_id": ["C1", "C1", "C1", "C2"],
            "seq": pd.array([0, 1, 2, 0], dtype="Int64"),
            "shop_id": SHOP,
            "buyer_id": ["buyer_a", "buyer_a", "buyer_a", "buyer_b"],
            "order_id": ["O1001", "O1001", "O1001", None],
            "role": [ChatRole.BUYER, ChatRole.AGENT, ChatRole.BUYER, ChatRole.BUYER],
            "sent_at": _ts("2024-11-10 16:10", "2024-11-10 16:11", "2024-11-10 16:12",
                           "2024-11-12 01:00"),
            "text": ["你好，还有货吗？", "亲，有的，今天发货", "好的, 谢谢",
                     "再不发货我就打12315投诉"],
        }
    )  # fmt: skip


def _listings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shop_id": SHOP,
            "platform_item_id": ["I9001", "I9001", "I9002", "I9003"],
            "platform_sku_id": ["S1", "S2", "S3", "S4"],
            "outer_sku_code": ["SKU-001", "SKU-002", None, "SKU-004"],
            "title": ["保温杯 500ml 白色", "保温杯 500ml 黑色", "滤水壶", "茶具套装"],
            "listed": pd.array([True, False, True, True], dtype="boolean"),
            "price_fen": pd.array([1999, 2999, 0, 100000], dtype="Int64"),
            "platform_stock": pd.array([10, 0, 999, 3], dtype="Int64"),
            "updated_at": _ts("2024-11-01 08:00", "2024-11-02 09:30", "2024-10-01 00:00",
                              "2024-11-10 16:00"),
        }
    )  # fmt: skip


def _promotions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shop_id": SHOP,
            "promo_id": ["P1", "P1", "P2", "P3"],
            "name": ["双11大促", "双11大促", "调价", None],
            "kind": ["promotion", "promotion", "price_change", "promotion"],
            "platform_sku_id": ["S1", "S2", "S1", "S3"],
            "price_fen": pd.array([1599, 2599, 1899, 0], dtype="Int64"),
            "starts_at": _ts("2024-11-10 16:00", "2024-11-10 16:00", "2024-12-01 00:00",
                             "2024-06-17 16:00"),
            "ends_at": _ts("2024-11-11 15:59", "2024-11-11 15:59", None, "2024-06-18 15:59"),
        }
    )  # fmt: skip


def _erp(kind: ExportKind) -> pd.DataFrame:
    frames = {
        ExportKind.SHOPS: {
            "platform": ["tmall", "jd", "pos", "miniprogram"],
            "shop_id": [SHOP, "京东自营旗舰店", "杭州湖滨店", "wx-mall"],
            "shop_name": ["Butler 天猫旗舰店", None, "湖滨门店", "小程序商城"],
            "expected": pd.array([True, False, True, True], dtype="boolean"),
            "opened_on": _ts("2019-01-01", "2020-06-18", None, "2022-11-11"),
        },
        ExportKind.WAREHOUSES: {
            "warehouse_id": ["WH-HZ", "WH-SH", "WH-CD", "WH-GZ"],
            "name": ["杭州仓", "上海仓", "成都仓", "广州仓"],
            "region": ["华东", "华东", "西南", None],
            "province": ["浙江省", "上海市", "四川省", "广东省"],
            "city": ["杭州市", "上海市", "成都市", None],
        },
        ExportKind.PRODUCTS: {
            "sku_id": ["SKU-001", "SKU-002", "SKU-003", "SKU-004"],
            "product_id": ["P-01", "P-01", "P-02", "P-03"],
            "name": ["保温杯 500ml", "保温杯 500ml", "滤水壶", "茶具套装"],
            "category": ["杯壶", "杯壶", "杯壶", None],
            "brand": "Butler",
            "spec": ["白色", "黑色", None, "6件"],
            "barcode": ["6901234567890", "6901234567891", None, "0012345678905"],
            "list_price_fen": pd.array([1999, 1999, 5900, None], dtype="Int64"),
            "unit_cost_fen": pd.array([800, 800, 2100, 30000], dtype="Int64"),
            "case_pack": pd.array([24, 24, 12, None], dtype="Int64"),
            "moq": pd.array([100, 100, 0, 10], dtype="Int64"),
            "lead_time_days": pd.array([14, 14, 30, 45], dtype="Int64"),
            "launched_on": _ts("2021-03-01", "2021-03-01", None, "2023-09-09"),
        },
        ExportKind.SKU_MAP: {
            "platform": ["tmall", "tmall", "jd", "douyin"],
            "platform_item_id": ["I9001", "I9001", None, "3581234567"],
            "platform_sku_id": ["S1", "S2", "100012345678", "1780000000001"],
            "sku_id": ["SKU-001", "SKU-002", "SKU-001", "SKU-003"],
        },
        ExportKind.INVENTORY: {
            "snapshot_date": _ts("2024-11-10", "2024-11-10", "2024-11-11", "2024-11-11"),
            "warehouse_id": ["WH-HZ", "WH-SH", "WH-HZ", "WH-SH"],
            "sku_id": ["SKU-001", "SKU-001", "SKU-001", "SKU-002"],
            "on_hand": pd.array([120, 0, 95, 40], dtype="Int64"),
            "reserved": pd.array([5, 0, 0, 2], dtype="Int64"),
        },
        ExportKind.PURCHASE_ORDERS: {
            "po_id": ["PO-1", "PO-1", "PO-2", "PO-3"],
            "line_no": pd.array([1, 2, 1, 1], dtype="Int64"),
            "sku_id": ["SKU-001", "SKU-002", "SKU-003", "SKU-001"],
            "warehouse_id": ["WH-HZ", "WH-HZ", "WH-SH", "WH-CD"],
            "qty_ordered": pd.array([480, 240, 120, 24], dtype="Int64"),
            "qty_received": pd.array([0, 240, 0, 0], dtype="Int64"),
            "ordered_on": _ts("2024-10-01", "2024-10-01", "2024-10-15", "2024-11-01"),
            "expected_on": _ts("2024-10-20", "2024-10-20", None, "2024-11-20"),
            "status": ["open", "received", "in_transit", "cancelled"],
        },
    }
    return pd.DataFrame(frames[kind])


def _unified_frame(adapter: type[PlatformAdapter], kind: ExportKind) -> pd.DataFrame:
    """A small unified frame of ``kind`` (four rows at least), phones as ``adapter`` writes them."""
    if adapter.platform is Platform.ERP:
        return _erp(kind)
    builders: dict[ExportKind, Callable[[], pd.DataFrame]] = {
        ExportKind.ORDERS: lambda: _orders(adapter),
        ExportKind.MEMBERS: lambda: _members(adapter),
        ExportKind.CHATS: _chats,
        ExportKind.LISTINGS: _listings,
        ExportKind.PROMOTIONS: _promotions,
    }
    return builders[kind]()


def _write_table(
    table: pd.DataFrame,
    path: Path,
    *,
    file_format: str,
    encoding: str = "utf-8",
) -> Path:
    """Write a rendered export with pandas, as CSV in ``encoding`` or as XLSX."""
    if file_format == "xlsx":
        table.to_excel(path, index=False, engine="xlsxwriter")
    else:
        table.to_csv(path, index=False, encoding=encoding)
    return path


def _write_rendered(
    adapter: type[PlatformAdapter],
    kind: ExportKind,
    unified: pd.DataFrame,
    folder: Path,
    *,
    encoding: str | None = None,
) -> Path:
    """Render ``unified`` as ``adapter``'s ``kind`` export and write it into ``folder`` in the
    contract's file format and (unless ``encoding`` says otherwise) its encoding."""
    contract = adapter.contract(kind)
    return _write_table(
        adapter.render(kind, unified),
        folder / f"{contract.file_stem}.{contract.file_format}",
        file_format=contract.file_format,
        encoding=encoding or contract.encoding,
    )


# the helpers are handed to tests as fixtures (session-scoped: they are pure functions, and
# hypothesis tests may use them too)
@pytest.fixture(scope="session")
def unified_frame() -> Callable[[type[PlatformAdapter], ExportKind], pd.DataFrame]:
    return _unified_frame


@pytest.fixture(scope="session")
def write_rendered() -> Callable[..., Path]:
    return _write_rendered


@pytest.fixture(scope="session")
def write_table() -> Callable[..., Path]:
    return _write_table


@pytest.fixture
def mem_store() -> Iterator[Store]:
    """An empty store in memory (``settings`` comes from tests/conftest.py)."""
    s = Store.in_memory()
    yield s
    s.close()

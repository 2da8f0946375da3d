"""The declarations themselves: each export is told apart by its headers alone.

These tests read only the contracts, no files: every (platform, kind) must be detected from
its full header, from its required headers only and in any column order, and a file that
lacks a required column must be reported as that export with the column named, never be
mistaken for another export.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from features.adapters.base import PlatformAdapter
from features.adapters.readers import ExportFile
from features.adapters.registry import all_adapters, detect, get_adapter
from features.errors import ContractViolation, UnknownPlatformError
from features.schema.vocab import ChatRole, ExportKind, OrderStatus, Platform, RefundStatus

CONTRACTS = [
    pytest.param(adapter, contract, id=f"{adapter.platform}-{contract.kind}")
    for adapter in all_adapters()
    for contract in adapter.contracts
]
SALES_KINDS = {
    ExportKind.ORDERS,
    ExportKind.MEMBERS,
    ExportKind.CHATS,
    ExportKind.LISTINGS,
    ExportKind.PROMOTIONS,
}


def _export(headers: list[str]) -> ExportFile:
    return ExportFile(Path("export.csv"), "csv", "utf-8", headers)


@pytest.mark.parametrize(("adapter", "contract"), CONTRACTS)
def test_full_header_is_detected_in_any_order(adapter, contract):
    headers = [c.header for c in contract.columns]

    assert detect(_export(headers)) == (adapter, contract)
    assert detect(_export(headers[::-1])) == (adapter, contract)
    assert detect(_export(headers), platform=adapter.platform) == (adapter, contract)


@pytest.mark.parametrize(("adapter", "contract"), CONTRACTS)
def test_required_headers_alone_are_detected(adapter, contract):
    assert detect(_export(contract.required_headers)) == (adapter, contract)


@pytest.mark.parametrize(("adapter", "contract"), CONTRACTS)
def test_header_lacking_a_required_column_is_named_never_mistaken(adapter, contract):
    headers = [c.header for c in contract.columns]
    for missing in contract.required_headers:
        short = [h for h in headers if h != missing]
        matches = [
            f"{other.platform} {c.kind}"
            for other in all_adapters()
            for _, c in other.match_headers(short)
        ]
        assert matches == [], f"without {missing!r}"
        # the file is this export with a column missing: say which, for this export
        with pytest.raises(ContractViolation, match=re.escape(missing)) as err:
            detect(_export(short))
        assert f"{adapter.platform.value} {contract.kind.value}" in str(err.value)
        with pytest.raises(ContractViolation, match=re.escape(missing)):
            adapter.resolve_headers(contract, short)


@pytest.mark.parametrize("platform", Platform.channels())
def test_each_channel_declares_its_exports(platform):
    adapter = get_adapter(platform)
    kinds = {c.kind for c in adapter.contracts}

    if platform is Platform.POS:  # a till has no chats and no online listings
        assert kinds == {ExportKind.ORDERS, ExportKind.MEMBERS, ExportKind.PROMOTIONS}
    else:
        assert kinds == SALES_KINDS


@pytest.mark.parametrize("platform", [p for p in Platform.channels() if p is not Platform.POS])
def test_each_channel_covers_the_fields_tmall_covers(platform):
    tmall = get_adapter(Platform.TMALL)
    adapter = get_adapter(platform)
    for contract in adapter.contracts:
        fields = {c.field for c in contract.columns}
        required = {c.field for c in contract.columns if c.required}
        tmall_contract = tmall.contract(contract.kind)
        assert {c.field for c in tmall_contract.columns} <= fields, contract.kind
        assert {c.field for c in tmall_contract.columns if c.required} == required, contract.kind


def test_pos_covers_what_a_till_knows():
    pos = get_adapter(Platform.POS)
    fields = {c.field for c in pos.contract(ExportKind.ORDERS).columns}
    tmall = {c.field for c in get_adapter(Platform.TMALL).contract(ExportKind.ORDERS).columns}
    # a store sale has no delivery address and no online item page
    online_only = {"receiver_name", "receiver_phone", "receiver_address", "platform_item_id"}
    assert tmall - online_only <= fields
    assert {c.header for c in pos.contract(ExportKind.ORDERS).columns if c.field == "shop_id"} == {
        "门店"
    }


def test_miniprogram_headers_never_repeat_the_erps():
    erp = {h for c in get_adapter(Platform.ERP).contracts for col in c.columns for h in col.headers}
    mini = {
        h
        for c in get_adapter(Platform.MINIPROGRAM).contracts
        for col in c.columns
        for h in col.headers
    }
    assert mini & erp == set()


def _enum_targets(adapter: type[PlatformAdapter], field: str) -> set[object]:
    return {
        value
        for contract in adapter.contracts
        for col in contract.columns
        if col.field == field and col.values
        for value in col.values.values()
    }


@pytest.mark.parametrize("platform", Platform.channels())
def test_every_unified_value_has_a_platform_word(platform):
    # render writes the first word of each value; a value with no word would render blank
    adapter = get_adapter(platform)
    expected = {
        "status": set(OrderStatus),
        "refund_status": set(RefundStatus),
        "role": set(ChatRole),
        "gender": {"M", "F", "U"},
        "listed": {True, False},
        "kind": {"promotion", "price_change"},
    }
    for field, values in expected.items():
        found = _enum_targets(adapter, field)
        if found:
            assert found == values, field


def test_phone_masking_is_declared_where_the_platform_masks():
    masking = {a.platform for a in all_adapters() if a.masks_phones}
    assert masking == {Platform.PINDUODUO, Platform.DOUYIN, Platform.KUAISHOU}


def test_declared_units_zones_and_formats():
    declared = {
        a.platform: (a.money_unit, a.ts_format, a.timezone)
        for a in all_adapters()
        if a.platform is not Platform.ERP
    }
    assert declared == {
        Platform.TMALL: ("yuan", "%Y-%m-%d %H:%M:%S", "Asia/Shanghai"),
        Platform.JD: ("yuan", "%Y/%m/%d %H:%M:%S", "Asia/Shanghai"),
        Platform.PINDUODUO: ("yuan", "%Y-%m-%d %H:%M:%S", "Asia/Shanghai"),
        Platform.DOUYIN: ("fen", "iso8601", "Asia/Shanghai"),
        Platform.KUAISHOU: ("fen", "epoch_ms", "Asia/Shanghai"),
        Platform.XIAOHONGSHU: ("yuan", "%Y-%m-%dT%H:%M:%SZ", "UTC"),
        Platform.MINIPROGRAM: ("fen", "%Y-%m-%d %H:%M:%S", "Asia/Shanghai"),
        Platform.POS: ("yuan", "%Y-%m-%d %H:%M", "Asia/Shanghai"),
    }
    jd = get_adapter(Platform.JD)
    assert jd.contract(ExportKind.ORDERS).file_format == "xlsx"
    assert jd.contract(ExportKind.MEMBERS).file_format == "xlsx"
    assert {c.encoding for c in jd.contracts} == {"gbk"}
    assert {c.encoding for c in get_adapter(Platform.PINDUODUO).contracts} == {"utf-8-sig"}
    assert {c.file_format for c in get_adapter(Platform.POS).contracts} == {"xlsx"}


def test_unknown_platform_name_is_refused():
    with pytest.raises(UnknownPlatformError, match="amazon"):
        get_adapter("amazon")

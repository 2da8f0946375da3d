"""Which adapter reads which file: the registry of platforms and detection by headers."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from features.adapters.base import ExportContract, PlatformAdapter
from features.adapters.readers import ExportFile
from features.errors import ButlerError, ContractViolation, UnknownPlatformError
from features.schema.vocab import Platform

# One module per platform; adding a platform is adding a module and a line here.
_MODULES: dict[Platform, str] = {
    Platform.TMALL: "features.adapters.tmall:TmallAdapter",
    Platform.JD: "features.adapters.jd:JdAdapter",
    Platform.PINDUODUO: "features.adapters.pinduoduo:PinduoduoAdapter",
    Platform.DOUYIN: "features.adapters.douyin:DouyinAdapter",
    Platform.KUAISHOU: "features.adapters.kuaishou:KuaishouAdapter",
    Platform.XIAOHONGSHU: "features.adapters.xiaohongshu:XiaohongshuAdapter",
    Platform.MINIPROGRAM: "features.adapters.miniprogram:MiniprogramAdapter",
    Platform.POS: "features.adapters.pos:PosAdapter",
    Platform.ERP: "features.adapters.erp:ErpAdapter",
}


@cache
def get_adapter(platform: Platform | str) -> type[PlatformAdapter]:
    """The adapter class for ``platform``.

    Raises:
        UnknownPlatformError: ``platform`` is not one Butler knows.
    """
    try:
        key = Platform(platform)
    except ValueError:
        known = ", ".join(p.value for p in Platform)
        raise UnknownPlatformError(f"Unknown platform {platform!r}; use one of: {known}.") from None
    module_name, _, class_name = _MODULES[key].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def all_adapters() -> list[type[PlatformAdapter]]:
    """Every registered adapter, channels first and the ERP last."""
    return [get_adapter(p) for p in Platform]


def detect(
    export: ExportFile, platform: Platform | str | None = None
) -> tuple[type[PlatformAdapter], ExportContract]:
    """Find the adapter and export contract that fit ``export``'s header.

    Args:
        export: the opened file.
        platform: force this platform (``--platform``); only its contracts are tried.

    Raises:
        UnknownPlatformError: no contract fits, or several fit equally well.
    """
    adapters = [get_adapter(platform)] if platform else all_adapters()
    candidates: list[tuple[float, type[PlatformAdapter], ExportContract]] = []
    for adapter in adapters:
        # back offices let users download most reports as CSV or XLSX: both are read
        for score, contract in adapter.match_headers(export.headers):
            candidates.append((score, adapter, contract))
    if not candidates:
        raise _no_match(export, adapters, platform)
    candidates.sort(key=lambda c: c[0], reverse=True)
    best = candidates[0]
    if len(candidates) > 1 and candidates[1][0] == best[0]:
        names = sorted(
            {f"{a.platform.value} {c.kind.value}" for s, a, c in candidates if s == best[0]}
        )
        raise UnknownPlatformError(
            f"{export.path}: its columns fit several exports ({', '.join(names)}); "
            "name the platform with --platform."
        )
    return best[1], best[2]


def _no_match(
    export: ExportFile, adapters: list[type[PlatformAdapter]], platform: Platform | str | None
) -> ButlerError:
    """The most helpful error for a header that fits no contract whole.

    When most of one contract's columns are there, the file is that export with columns
    missing: say which. Otherwise the platform is unknown.
    """
    present = set(export.headers)
    best: tuple[float, type[PlatformAdapter], ExportContract] | None = None
    for adapter in adapters:
        for contract in adapter.contracts:
            share = contract.columns_present(present) / len(contract.columns)
            if best is None or share > best[0]:
                best = (share, adapter, contract)
    if best is not None and best[0] >= 0.5:
        _, adapter, contract = best
        try:
            adapter.resolve_headers(contract, export.headers)
        except ContractViolation as exc:
            return ContractViolation(f"{export.path}: {exc}")
    shown = export.headers[:8] + (["…"] if len(export.headers) > 8 else [])
    platforms = ", ".join(p.value for p in Platform)
    if platform:
        fix = (
            f"Check that it is a {Platform(platform).value} export, or leave out --platform "
            f"to let Butler tell the platform from the columns ({platforms})."
        )
        scope = f"a {Platform(platform).value} export (as --platform says)"
    else:
        fix = f"Check the file, or name its platform with --platform ({platforms})."
        scope = "any known export"
    if export.file_format == "xlsx":
        fix = f"{_sheet_hint(export.path)} {fix}"
    else:
        fix = f"Butler reads line 1 as the column headers: remove any title lines above them. {fix}"
    return UnknownPlatformError(f"{export.path}: its columns {shown} do not match {scope}. {fix}")


def _sheet_hint(path: Path) -> str:
    """Where Butler looked in a workbook: its first visible sheet, row 1 as the header."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
        visible = [n for n in names if reader.load_sheet(n, n_rows=0).visible == "visible"]
    except (fastexcel.FastExcelError, OSError):  # the hint is a courtesy; the error stands
        names = visible = []
    others = f" (the workbook's sheets: {', '.join(names)})" if len(names) > 1 else ""
    first = f" '{visible[0]}'" if visible else ""
    return (
        f"Butler reads the first visible sheet{first}{others}, with the column headers in "
        "row 1: "
        "move the export's table there (no title rows above it)."
    )

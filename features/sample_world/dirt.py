"""A few dirty rows in the order exports, as real back offices produce them.

Every ``EVERY``-th data row of an order file (counting from ``OFFSET``) gets one problem,
in turn (each platform starting at its own): text in the paid-amount cell, a status word
the platform's vocabulary lacks, or an empty platform SKU id. Ingest must quarantine exactly
these rows with their reasons, so the demo's status shows what "nothing lost" looks like;
``planted`` says how many to expect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.adapters.base import ExportContract
from features.schema.vocab import ExportKind

EVERY = 5_000
OFFSET = 400
#: (unified field, text written) per kind of problem, used in turn
PROBLEMS: tuple[tuple[str, str], ...] = (
    ("paid_fen", "待核算"),
    ("status", "交易异常"),
    ("platform_sku_id", ""),
)


def planted(rows: int) -> int:
    """How many dirty rows a file of ``rows`` data rows carries."""
    return 0 if rows <= OFFSET else (rows - OFFSET - 1) // EVERY + 1


def soil(contract: ExportContract, part: pd.DataFrame, first_row: int) -> pd.DataFrame:
    """Return ``part`` (rendered rows ``first_row…`` of a file) with its planted problems."""
    if contract.kind is not ExportKind.ORDERS:
        return part
    rows = np.arange(first_row, first_row + len(part))
    hit = (rows >= OFFSET) & ((rows - OFFSET) % EVERY == 0)
    if not hit.any():
        return part
    header = {c.field: c.header for c in contract.columns}
    first = sum(map(ord, contract.file_stem))  # so small files of each platform differ too
    part = part.copy()
    for position in np.flatnonzero(hit):
        field, text = PROBLEMS[(first + (rows[position] - OFFSET) // EVERY) % len(PROBLEMS)]
        part.iloc[position, part.columns.get_loc(header[field])] = text
    return part

"""Member accounts of the unified store, in the shape identity resolution takes.

One row per platform account (``members`` table), with ``unique_id`` =
``<platform>:<platform_user_id>`` and the Butler member fields the store keeps. The same
frame feeds training (:mod:`training.identity`) and serving, through
:func:`features.identity.normalise_members`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from features.identity import MEMBER_FIELDS
from features.store import Store

#: Separator of platform and platform user id in a member's ``unique_id``.
ID_SEP = ":"

# the store keeps no separate given / family name, postcode or id number for an account
_NOT_STORED = ("given_name", "family_name", "postcode", "id_number")
_COLUMNS = (
    *(f for f in MEMBER_FIELDS if f not in _NOT_STORED),
    "shop_id",
    "registered_at",
)


def store_members(store: Store, ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Every member account of the store (or those of ``ids``, ``<platform>:<user id>``;
    an id the store does not hold is left out), ``unique_id`` first, in a stable order.

    Raises:
        StoreError: the store holds no members (ingest the member exports first).
    """
    store.require_rows("members", "member accounts")
    cols = ", ".join(_COLUMNS)
    unique_id = f"platform || '{ID_SEP}' || platform_user_id"
    where = f"WHERE list_contains(?, {unique_id}) " if ids is not None else ""
    frame = store.sql(
        f"SELECT {unique_id} AS unique_id, {cols} "
        f"FROM members {where}ORDER BY platform, platform_user_id",
        [list(map(str, ids))] if ids is not None else None,
    ).df()
    frame["birth_date"] = pd.to_datetime(frame["birth_date"]).dt.strftime("%Y-%m-%d")
    return frame.astype({"birth_date": object}).where(frame.notna(), None)

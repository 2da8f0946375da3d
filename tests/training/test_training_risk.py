"""training.risk: what `butler train risk` says when there is nothing to learn from."""

from __future__ import annotations

import pytest

from features.errors import InvalidParameterError
from features.store import Store
from training.risk import train


def test_a_store_without_chats_names_what_to_ingest(settings):
    Store.open(settings).close()  # an empty store
    with pytest.raises(InvalidParameterError, match="no customer chats.*butler ingest.*--pool"):
        train(settings)

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


def test_a_store_whose_chats_hold_only_agent_messages_says_so(settings, chat_world):
    with Store.open(settings) as store:
        chat_world.write(store, n_sessions=6)
        store.sql("UPDATE chat_messages SET role = 'agent'")
    with pytest.raises(InvalidParameterError, match="store's 6 conversations hold no buyer"):
        train(settings)

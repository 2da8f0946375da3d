"""Speed of the chat risk classifier on the real chat pool: throughput and one-conversation latency.

Fits the classifier as training does (without MLflow): the message stage on the pool's
weakly labelled buyer messages, the conversation stage on the hand-labelled training set;
then scores every pool conversation in batches of ``--batch`` and times ``--single``
conversations scored one at a time.

    uv run python -m evaluation.risk_benchmark --pool ../shared/data/chats
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

from features.chats import chat_text
from features.corpora import labelled_ids, read_chat_pool, read_labelled_set
from features.risk_rules import labelling_votes
from models.chat_risk import RiskClassifier


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=Path, required=True, help="../shared/data/chats")
    parser.add_argument("--batch", type=int, default=1_000, help="Conversations per call.")
    parser.add_argument("--single", type=int, default=2_000, help="Conversations timed alone.")
    args = parser.parse_args(argv)

    held_out = labelled_ids("dev") | labelled_ids("train")
    conversations = read_chat_pool(args.pool, exclude=held_out)
    hand = read_labelled_set(args.pool, "train")
    texts = [chat_text(t) for c in conversations for _, t in c.buyer_turns()]
    started = time.perf_counter()
    votes = labelling_votes(texts)
    label_seconds = time.perf_counter() - started
    started = time.perf_counter()
    model = RiskClassifier().fit_messages(texts, votes)
    model.fit_conversations(hand.conversations, hand.labels)
    fit_seconds = time.perf_counter() - started

    messages = sum(len(c.messages) for c in conversations)
    buyer = len(texts)
    started = time.perf_counter()
    for i in range(0, len(conversations), args.batch):
        model.assess(conversations[i : i + args.batch])
    batch_seconds = time.perf_counter() - started

    sample = random.Random(0).sample(conversations, min(args.single, len(conversations)))
    latencies = []
    for conv in sample:
        started = time.perf_counter()
        model.assess([conv])
        latencies.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(latencies, [50, 99])
    print(
        f"pool: {len(conversations):,} conversations, {messages:,} messages "
        f"({buyer:,} buyer messages scored)"
    )
    print(
        f"labelling functions: {buyer / label_seconds:,.0f} messages/s; "
        f"fit: {fit_seconds:.1f} s on {buyer:,} messages and "
        f"{len(hand.conversations):,} hand-labelled conversations"
    )
    print(
        f"batches of {args.batch}: {messages / batch_seconds:,.0f} messages/s "
        f"({buyer / batch_seconds:,.0f} buyer messages/s), {batch_seconds:.1f} s in all"
    )
    print(f"one conversation alone ({len(sample):,} timed): p50 {p50:.2f} ms, p99 {p99:.2f} ms")


if __name__ == "__main__":
    main()

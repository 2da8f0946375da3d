"""The identity HTTP service, in process: start-up, matching one member, deduplicating a batch.

One identity model is trained and registered on a small member store for the whole module;
the service is then started against that home the way BentoML starts it, with ``BUTLER_HOME``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bentoml.exceptions import InvalidArgument, NotFound
from pydantic import ValidationError

from features.identity import MEMBER_FIELDS
from features.settings import Settings
from features.store import Store
from services.http.identity_service import Candidate, Identity, MemberRecord
from services.registry import ModelNotRegisteredError

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"),
]

SURNAMES = ["smith", "jones", "brown", "taylor", "wilson", "davies", "evans", "thomas"]
GIVEN = ["james", "mary", "john", "linda", "peter", "susan", "paul", "karen", "mark", "lisa"]


def member_accounts(n_people: int = 60, seed: int = 3) -> pd.DataFrame:
    """1–3 accounts per person (a name typo, a missing phone), with the true ``person``."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_people):
        given, family = rng.choice(GIVEN), rng.choice(SURNAMES)
        phone = f"139{rng.integers(10**7, 10**8)}"
        born = f"19{rng.integers(50, 99)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}"
        for k in range(int(rng.integers(1, 4))):
            rows.append(
                {
                    "platform": ("jd", "tmall", "douyin")[k],
                    "platform_user_id": f"u{p}-{k}",
                    "full_name": f"{given[:-1] + 'e' if k == 2 else given} {family}",
                    "phone": phone if k != 1 else None,
                    "email": f"{given}.{family}{p}@example.com",
                    "birth_date": born,
                    "person": f"P{p}",
                }
            )
    frame = pd.DataFrame(rows)
    frame["unique_id"] = frame["platform"] + ":" + frame["platform_user_id"]
    return frame


ACCOUNTS = member_accounts()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Butler home whose store holds ``ACCOUNTS`` and an identity model trained on them."""
    from training.identity import train

    settings = Settings(home=tmp_path_factory.mktemp("identity_http") / "home")
    rows = ACCOUNTS.assign(birth_date=pd.to_datetime(ACCOUNTS["birth_date"]).dt.date, raw="{}",
                           source_file="test")  # fmt: skip
    cols = ["platform", "platform_user_id", "full_name", "phone", "email", "birth_date", "raw",
            "source_file"]  # fmt: skip
    with Store.open(settings) as store:
        store.con.register("incoming", rows[cols])
        store.sql(f"INSERT INTO members ({', '.join(cols)}) SELECT * FROM incoming")
    train(settings)
    return settings.home


@pytest.fixture(scope="module")
def service(home: Path) -> Identity:
    """The service started on ``home`` (module scope: start-up resolves the whole store)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BUTLER_HOME", str(home))
        yield Identity()


def accounts_of(person: str) -> set[str]:
    return set(ACCOUNTS.loc[ACCOUNTS["person"] == person, "unique_id"])


def variant(person: str, record_id: str = "crm-1") -> MemberRecord:
    """How a CRM might hold a known person: capitalised name, phone with country code and
    dashes, no e-mail."""
    first = ACCOUNTS[(ACCOUNTS["person"] == person) & ACCOUNTS["phone"].notna()].iloc[0]
    phone = first["phone"]
    return MemberRecord(
        record_id=record_id,
        full_name=first["full_name"].title(),
        phone=f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}",
        birth_date=first["birth_date"],
    )


def test_start_with_nothing_registered_names_the_train_command(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_HOME", str(tmp_path / "empty"))
    with pytest.raises(ModelNotRegisteredError, match="butler train identity"):
        Identity()


def test_info_is_the_registered_version(service):
    info = service.info()
    assert info["name"] == "butler-identity"
    assert info["alias"] == "champion" and info["version"] == "1"


def test_member_record_takes_every_member_field():
    assert set(MemberRecord.model_fields) == {"record_id", *MEMBER_FIELDS}


@pytest.mark.parametrize("person", ["P0", "P7", "P21", "P40"])
def test_a_known_members_variant_finds_its_person(service, person):
    answer = service.match_now(variant(person))
    accounts = accounts_of(person)
    assert answer.record_id == "crm-1"
    assert answer.person_id in accounts  # the person id is one of the person's accounts
    best = answer.candidates[0]
    assert best.person_id == answer.person_id and best.unique_id in accounts
    assert best.match_probability >= answer.threshold == service.threshold
    assert best.person_probability >= answer.min_group_probability > 0
    assert len({c.person_id for c in answer.candidates}) == len(answer.candidates)


def test_explain_match_gives_the_waterfall_of_a_candidate_s_score(service):
    record = variant("P7")
    best = service.match_now(record).candidates[0]
    why = service.explain_match(record, best.unique_id)
    assert why.account == best.unique_id and why.person_id == best.person_id
    assert why.match_probability == pytest.approx(best.match_probability, abs=1e-6)
    steps = {s.step: s for s in why.steps}
    assert why.steps[0].step == "prior" and why.steps[-1].step == "total"
    assert sum(s.match_weight for s in why.steps[:-1]) == pytest.approx(steps["total"].cumulative)
    assert steps["phone"].level == "same phone number" and steps["phone"].match_weight > 0
    said = why.model_dump_json()
    first = ACCOUNTS[ACCOUNTS["unique_id"] == best.unique_id].iloc[0]
    assert first["email"] not in said and first["full_name"] not in said.lower()
    with pytest.raises(NotFound, match="account.*tmall:nobody"):
        service.explain_match(record, "tmall:nobody")


def test_a_second_account_on_a_platform_the_person_uses_is_flagged_not_taken(service):
    person = "P0"
    held = set(ACCOUNTS.loc[ACCOUNTS["person"] == person, "platform"])
    again = service.match_now(variant(person).model_copy(update={"platform": sorted(held)[0]}))
    best = again.candidates[0]
    assert best.unique_id in accounts_of(person) and best.same_platform
    assert best.match_probability >= again.threshold and again.person_id is None
    elsewhere = service.match_now(variant(person).model_copy(update={"platform": "kuaishou"}))
    assert not elsewhere.candidates[0].same_platform
    assert elsewhere.person_id in accounts_of(person)


def test_the_api_is_a_coroutine_answering_as_match_now_does(service):
    answer = asyncio.run(service.match_member(variant("P7"), top=3))
    assert answer == service.match_now(variant("P7"), top=3)
    with pytest.raises(InvalidArgument, match="record: 1 record"):
        asyncio.run(service.match_member(MemberRecord(record_id="x", city="杭州")))


def test_calls_that_arrive_together_are_scored_as_one_batch_each_answered_as_alone(service):
    records = [
        variant("P1"),
        variant("P2"),
        MemberRecord(record_id="x", city="杭州"),
        variant("P1"),
    ]
    batches = []
    score = service._batcher.score
    service._batcher.score = lambda calls: batches.append(len(calls)) or score(calls)

    async def together():
        calls = (service.match_member(record, top=3) for record in records)
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        answers = asyncio.run(together())
    finally:
        service._batcher.score = score
    assert batches == [4]
    for i in (0, 1, 3):
        assert answers[i] == service.match_now(records[i], top=3)
    assert isinstance(answers[2], InvalidArgument)  # its neighbours were answered all the same
    assert str(answers[2]).startswith("record: 1 record(s) ('x') have no value")


def test_top_caps_the_candidates(service):
    # one person's phone and another's e-mail: accounts of both are candidates
    phone = ACCOUNTS.loc[ACCOUNTS["person"] == "P0", "phone"].dropna().iloc[0]
    email = ACCOUNTS.loc[ACCOUNTS["person"] == "P1", "email"].iloc[0]
    record = MemberRecord(record_id="x", phone=phone, email=email)
    persons = {c.person_id for c in service.match_now(record).candidates}
    assert {min(accounts_of("P0")), min(accounts_of("P1"))} <= persons
    assert len(service.match_now(record, top=1).candidates) == 1


def test_a_stranger_is_a_new_person(service):
    known = ACCOUNTS[ACCOUNTS["person"] == "P0"].iloc[0]
    # P0's family name and birthday make P0 a candidate; nothing else agrees
    stranger = MemberRecord(
        record_id="crm-2",
        full_name=f"zed {known['full_name'].split()[1]}",
        phone="13000000001",
        email="zed.quux@nowhere.org",
        birth_date=known["birth_date"],
    )
    answer = service.match_now(stranger)
    assert answer.candidates and answer.person_id is None
    assert all(c.match_probability < answer.threshold for c in answer.candidates)
    nobody = MemberRecord(record_id="crm-3", full_name="Zed Quux", phone="13000000002")
    assert service.match_now(nobody) == answer.model_copy(
        update={"record_id": "crm-3", "candidates": []}
    )


def test_a_match_answer_carries_ids_probabilities_and_flags_only(service):
    asked = variant("P7")
    answer = service.match_now(asked).model_dump_json()
    fields = {"person_id", "unique_id", "match_probability", "same_platform", "person_probability",
              "told_apart"}  # fmt: skip
    assert set(Candidate.model_fields) == fields  # no member data
    pii = {asked.full_name, asked.phone, asked.birth_date}
    for column in ("full_name", "phone", "email", "birth_date"):
        pii |= set(ACCOUNTS[column].dropna())
    pii |= {name.split()[0] for name in ACCOUNTS["full_name"]}  # given names alone
    leaked = sorted(value for value in pii if value in answer)
    assert not leaked, f"PII in the answer: {leaked[:5]}"


def test_a_record_with_nothing_the_model_compares_is_a_400(service):
    with pytest.raises(InvalidArgument, match=r"^record: 1 record\(s\) \('x'\).*phone"):
        service.match_now(MemberRecord(record_id="x", city="杭州"))


def test_resolve_members_groups_a_batch_by_person(service):
    people = [f"P{p}" for p in range(12)]
    batch = ACCOUNTS[ACCOUNTS["person"].isin(people)].sample(frac=1.0, random_state=0)
    records = [
        MemberRecord(record_id=f"r{i}", **row)
        for i, row in enumerate(
            batch[["full_name", "phone", "email", "birth_date"]].to_dict("records")
        )
    ]
    answer = service.resolve_members(records)
    assert [m.record_id for m in answer.members] == [r.record_id for r in records]
    assert answer.persons == len(people)
    truth = batch["person"].to_numpy()
    found = np.array([m.person_id for m in answer.members])
    same_truth = truth[:, None] == truth[None, :]
    assert (same_truth == (found[:, None] == found[None, :])).all()
    sizes = batch.groupby("person")["person"].transform("size").to_numpy()
    assert [m.cluster_size for m in answer.members] == sizes.tolist()
    assert all((m.match_probability is None) == (m.cluster_size == 1) for m in answer.members)


def test_resolve_members_rejects_an_empty_or_oversized_batch(service, monkeypatch):
    with pytest.raises(InvalidArgument, match="^records: the batch is empty"):
        service.resolve_members([])
    monkeypatch.setattr(service.settings, "max_batch", 3)
    records = [variant(f"P{p}", record_id=f"r{p}") for p in range(4)]
    with pytest.raises(InvalidArgument, match="^records: 4 items is over the limit of 3"):
        service.resolve_members(records)


def test_resolve_members_names_repeated_ids(service):
    records = [variant("P1", "a"), variant("P2", "b"), variant("P3", "a")]
    with pytest.raises(InvalidArgument, match="^records: record_id repeats 'a';"):
        service.resolve_members(records)


def test_resolve_members_names_records_the_model_cannot_compare(service):
    records = [variant("P1", "a"), MemberRecord(record_id="b", gender="f", city="杭州")]
    with pytest.raises(InvalidArgument, match=r"^records: 1 record\(s\) \('b'\) have no value"):
        service.resolve_members(records)


@pytest.mark.parametrize("field", ["record_id", "full_name", "phone", "address_line"])
def test_an_oversized_field_is_rejected_naming_it(field):
    values = {"record_id": "x", field: "字" * 201}
    with pytest.raises(ValidationError) as caught:
        MemberRecord(**values)
    assert [e["loc"] for e in caught.value.errors()] == [(field,)]
    MemberRecord(**{**values, field: "字" * 200})  # at the limit is fine


def test_an_unknown_or_missing_field_is_rejected_naming_it():
    with pytest.raises(ValidationError, match="mobile"):
        MemberRecord(record_id="x", mobile="13912345678")
    with pytest.raises(ValidationError, match="record_id"):
        MemberRecord(full_name="x")


def test_a_match_scores_the_record_alone_not_the_store(service, monkeypatch):
    """The matcher built at start-up answers (the p99 target is 100 ms): no resolution of the
    store, nor of the record, per call."""

    def resolve(*args, **kwargs):
        raise AssertionError("match_member resolved a whole set of members")

    monkeypatch.setattr(service.model, "resolve", resolve)
    assert service.match_now(variant("P0")).person_id in accounts_of("P0")

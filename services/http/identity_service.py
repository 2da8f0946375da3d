"""The member identity service: match one member against the store's persons, dedupe a batch.

Loads ``butler-identity`` from the registry by alias at start-up, resolves the store's member
accounts once and keeps a matcher over them, so a single match scores the new record against
its blocking candidates only. A server started with nothing registered fails at once, naming
``butler train identity``. Answers carry ids and probabilities, never another member's name,
phone or e-mail.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

import bentoml
import numpy as np
import pandas as pd
from bentoml.exceptions import InvalidArgument
from pydantic import BaseModel, ConfigDict, Field

from features.errors import ButlerError
from features.identity import normalise_members
from features.members import store_members
from features.settings import Settings
from features.store import Store
from models.identity import REGISTERED_NAME, IdentityResolver
from models.person_ids import carry_person_ids
from services.http import behind_gateway, prepare_to_serve
from services.http.batching import ContinuousBatcher
from services.http.errors import (
    KnownFieldsOnly,
    bad_request,
    check_batch,
    client_error,
    forbid_unknown_fields,
)
from services.http.media import JSON
from services.identity import registered_model, stored_id_history, stored_person_ids
from services.registry import registered_version

logger = logging.getLogger(__name__)

#: Longest text accepted in one member field (characters).
MAX_FIELD_CHARS = 200

_Text = Annotated[str | None, Field(max_length=MAX_FIELD_CHARS)]


class MemberRecord(KnownFieldsOnly):
    """One member as a CRM sends it: an id and any of Butler's member fields (any other
    field is a 400 naming it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    record_id: str = Field(
        min_length=1, max_length=MAX_FIELD_CHARS, description="The caller's id of the record."
    )
    full_name: _Text = None
    given_name: _Text = None
    family_name: _Text = None
    nickname: _Text = None
    phone: _Text = Field(None, description="Any form: 13812345678, +86 138-1234-5678, 138****5678.")
    email: _Text = None
    birth_date: _Text = Field(None, description="A date, e.g. 1990-05-17.")
    gender: _Text = None
    province: _Text = None
    city: _Text = None
    district: _Text = None
    address_line: _Text = None
    postcode: _Text = None
    id_number: _Text = None
    device_id: _Text = None
    union_id: _Text = None
    platform: _Text = None
    platform_user_id: _Text = None


class Candidate(BaseModel):
    """A known person a record may be, through one of the person's accounts."""

    person_id: str
    unique_id: str = Field(description="The matched account, `<platform>:<platform_user_id>`.")
    match_probability: float
    same_platform: bool = Field(
        False,
        description="The person already has an account on this record's platform. A person "
        "holds one account per platform, so the record is not taken as this person: it is a "
        "second account of theirs, or someone else.",
    )
    person_probability: float | None = Field(
        None,
        description="Mean match probability over the person's accounts this record was "
        "compared with (those scored below 0.01 count 0). The record is taken as the person "
        "only when it also reaches `min_group_probability`: one close account does not "
        "outweigh the others.",
    )
    told_apart: bool = Field(
        False,
        description="The record's birth date (10 years or more from one of the person's "
        "accounts) and given name (unalike, in characters) say it is someone else, such as a "
        "relative who shares the phone: the record is not taken as this person.",
    )


class MemberMatch(BaseModel):
    """Who a record is among the store's persons."""

    record_id: str
    person_id: str | None = Field(
        description="The best candidate's person whose probability reaches `threshold`, "
        "whose compared accounts average `min_group_probability`, and who has no account "
        "on the record's platform yet; null when the record is a new person."
    )
    threshold: float
    min_group_probability: float = Field(
        0.0, description="What a person's compared accounts must average (0 = no check)."
    )
    candidates: list[Candidate] = Field(description="Best first, one per person.")


class WeightStep(BaseModel):
    """One comparison's part in a match score."""

    step: str = Field(description="`prior`, a comparison's name, or `total`.")
    level: str = Field(description="What the comparison found, e.g. `same phone number`.")
    match_weight: float = Field(description="Bits it adds (+) or takes away (−).")
    cumulative: float = Field(description="The running total after it.")


class MatchExplanation(BaseModel):
    """Why a record scores as it does against one known account: the waterfall."""

    record_id: str
    account: str
    person_id: str = Field(description="The account's person in the store's resolution.")
    match_probability: float
    steps: list[WeightStep] = Field(description="The prior, each comparison, then the total.")


class ResolvedMember(BaseModel):
    """One record of a deduplicated batch."""

    record_id: str
    person_id: str = Field(description="The smallest record_id of its person in the batch.")
    match_probability: float | None = Field(
        description="Its strongest link inside its person; null when alone."
    )
    cluster_size: int


class ResolvedMembers(BaseModel):
    """A deduplicated batch, records in the order sent."""

    members: list[ResolvedMember]
    persons: int


@forbid_unknown_fields
@bentoml.service(name="identity", traffic={"timeout": 60}, **behind_gateway())
class Identity:
    """The registered member identity model over HTTP."""

    def __init__(self, settings: Settings | None = None) -> None:
        # BentoML starts a service without arguments (settings from the environment); the
        # butler's CLI runs the same class in process with its own settings
        self.settings = settings or Settings()
        self.model = registered_model(self.settings)
        self.version = registered_version(self.settings, REGISTERED_NAME)
        with Store.open(self.settings, read_only=True) as store:
            members = normalise_members(store_members(store))
            previous = stored_person_ids(store)
            retired = stored_id_history(store)["former_person_id"]
        resolution = self.model.resolve(members)
        # in the order of `members`, with the ids `butler members resolve` keeps in the store
        clusters = carry_person_ids(resolution.clusters, previous, retired).accounts
        #: the threshold the store was resolved at (chosen from its pairs by default); a new
        #: member at or above it to a person is that person
        self.threshold = resolution.threshold
        self.matcher = self.model.matcher(members.assign(person_id=clusters["person_id"].values))
        if not hasattr(self.model, "term_frequencies_"):  # pickled before fit kept them
            self.model.keep_term_frequencies(members)
        self.compared = _compared_columns(self.model)
        self._batcher = ContinuousBatcher(self.match_batch, max_batch=64)
        logger.info(
            "identity %s: %d accounts, %d persons",
            self.version["version"], len(members), clusters["person_id"].nunique(),
        )  # fmt: skip

    # served only: the CLI's in-process use of the class keeps its collector
    _prepare_to_serve = bentoml.on_startup(prepare_to_serve)

    @bentoml.api
    async def match_member(
        self, record: MemberRecord, top: int = Field(5, ge=1, le=20)
    ) -> MemberMatch:
        """The store's persons this member may be, and which one it is (null: a new person)."""
        # the calls that arrive while a batch is scored are scored together next: a record
        # normalised and matched in a batch of 8 costs about a quarter of one alone (pandas'
        # and splink's query's cost is per call), and an idle service starts at once
        return await self._batcher.submit((record, top))

    def match_now(self, record: MemberRecord, top: int = 5) -> MemberMatch:
        """:meth:`match_member`, computed in the caller's thread (the CLI's in-process models)."""
        (answer,) = self.match_batch([(record, top)])
        if isinstance(answer, Exception):
            raise answer
        return answer

    def match_batch(
        self, calls: list[tuple[MemberRecord, int]]
    ) -> list[MemberMatch | InvalidArgument]:
        """:meth:`match_member` for each ``(record, top)``, normalised and scored together;
        a record with nothing the model compares gets its 400 in its place."""
        records = [record for record, _ in calls]
        members = _members(records, ids=[str(i) for i in range(len(records))])
        blank = _nothing_compared(members, self.compared)
        rows = members[~blank].to_dict("records")
        found = iter(self.matcher.match_rows(rows, top=max(top for _, top in calls)))
        answers: list[MemberMatch | InvalidArgument] = []
        for (record, top), nothing in zip(calls, blank, strict=True):
            if nothing:
                answers.append(_nothing_compared_error("record", [record.record_id], self.compared))
                continue
            candidates = next(found)[:top]
            answers.append(
                MemberMatch(
                    record_id=record.record_id,
                    person_id=self.matcher.person(candidates, self.threshold),
                    threshold=self.threshold,
                    min_group_probability=self.matcher.min_group_probability,
                    candidates=[
                        Candidate(**{name: getattr(c, name) for name in Candidate.model_fields})
                        for c in candidates
                    ],
                )
            )
        return answers

    @bentoml.api
    def explain_match(self, record: MemberRecord, account: str) -> MatchExplanation:
        """Why ``record`` scores as it does against a known ``account`` (a candidate of
        :meth:`match_member`): the match weight each comparison adds, with no field's value."""
        new = "__butler_record__"
        try:
            row = _normalised([record], self.compared, "record").assign(unique_id=new)
            pair = pd.concat([row, pd.DataFrame([self.matcher.account(account)])])
            steps = self.model.explain(pair, new, account)
        except ButlerError as exc:
            raise client_error(exc, "account") from exc
        return MatchExplanation(
            record_id=record.record_id,
            account=account,
            person_id=self.matcher.person_of_[account],
            match_probability=float(steps["match_probability"].iloc[-1]),
            steps=[
                WeightStep(**row)
                for row in steps[["step", "level", "match_weight", "cumulative"]].to_dict("records")
            ],
        )

    @bentoml.api
    def resolve_members(self, records: list[MemberRecord]) -> ResolvedMembers:
        """Deduplicate a batch of members: a person id per record, within the batch."""
        check_batch(records, "records", self.settings.max_batch)
        try:
            # a batch is too small to choose a threshold from: the store's is used
            batch = _normalised(records, self.compared, "records")
            clusters = self.model.resolve(batch, self.threshold).clusters
        except ButlerError as exc:
            raise client_error(exc, "records") from exc
        clusters = clusters.rename(columns={"unique_id": "record_id"}).astype(object)
        rows = clusters.where(clusters.notna(), None).to_dict("records")
        return ResolvedMembers(
            members=[ResolvedMember(**row) for row in rows],
            persons=clusters["person_id"].nunique(),
        )

    @bentoml.api
    def info(self) -> JSON[dict]:
        """The registered model version this service answers with."""
        return self.version


def _compared_columns(model: IdentityResolver) -> dict[str, list[str]]:
    """The model's comparisons: name → the normalised columns it reads."""
    out: dict[str, list[str]] = {}
    for comparison in model.settings_["comparisons"]:
        sql = " ".join(level["sql_condition"] for level in comparison["comparison_levels"])
        used = [c for c in model.columns_ if re.search(rf"\b{re.escape(c)}_[lr]\b", sql)]
        out[comparison["output_column_name"]] = used
    return out


# the request fields behind the comparisons whose names are not a MemberRecord field
_FIELDS_OF = {
    "family_name": "full_name/family_name",
    "given_name": "full_name/given_name",
    "address": "province/city/district/address_line",
    "platform_ids": "device_id/union_id",
    "alias": "nickname",
}


def _normalised(
    records: list[MemberRecord], compared: dict[str, list[str]], field: str
) -> pd.DataFrame:
    """The records as the model reads them (``unique_id`` = ``record_id``).

    Raises:
        InvalidArgument: record ids repeat, or a record has nothing the model compares.
    """
    ids = pd.Series([r.record_id for r in records])
    if ids.duplicated().any():
        repeated = ", ".join(repr(i) for i in ids[ids.duplicated()].unique()[:10])
        raise bad_request(field, f"record_id repeats {repeated}; give each record its own id")
    members = _members(records, ids=ids.tolist())
    blank = ids[_nothing_compared(members, compared)].tolist()
    if blank:
        raise _nothing_compared_error(field, blank, compared)
    return members


def _members(records: list[MemberRecord], ids: list[str]) -> pd.DataFrame:
    """``records`` normalised, ``ids`` as their ``unique_id``."""
    frame = pd.DataFrame([r.model_dump(exclude={"record_id"}) for r in records])
    return normalise_members(frame.assign(unique_id=ids))


def _nothing_compared(members: pd.DataFrame, compared: dict[str, list[str]]) -> np.ndarray:
    """One boolean per member: it has no value any comparison reads."""
    columns = sorted({c for used in compared.values() for c in used})
    if not columns:
        return np.ones(len(members), dtype=bool)
    return members[columns].isna().all(axis=1).to_numpy()


def _nothing_compared_error(
    field: str, ids: list[str], compared: dict[str, list[str]]
) -> InvalidArgument:
    shown = ", ".join(repr(i) for i in ids[:10])
    wanted = ", ".join(dict.fromkeys(_FIELDS_OF.get(c, c) for c in compared))
    return bad_request(
        field,
        f"{len(ids)} record(s) ({shown}) have no value the model compares; "
        f"send at least one of {wanted}",
    )

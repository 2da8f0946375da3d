"""Person ids that stay the same from one resolution of a member list to the next.

The identity model names a person after its smallest account id; marketing keeps those ids
in its CRM, so a person that gains an account must keep the id it had.
:func:`carry_person_ids` carries the previous resolution's ids over to the persons that
continue them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.errors import ContractViolation


@dataclass(frozen=True, slots=True)
class CarriedIds:
    """What :func:`carry_person_ids` returns.

    Attributes:
        accounts: the accounts given, same rows and columns, ``person_id`` carried forward.
        person_ids: each person's id as the model gave it (index) → its carried id.
        former: carried ``person_id`` (index) → the previous ids merged into that person
            (sorted ``list[str]``); only persons with any.
        counts: ``kept`` (persons that kept a previous id), ``new`` (persons with a new id),
            ``merged`` (previous ids retired into another's person), ``split`` (previous
            persons whose accounts are now in several persons), ``dropped`` (previous ids
            none of whose accounts were given). Persons = kept + new; previous persons =
            kept + merged + dropped.
    """

    accounts: pd.DataFrame
    person_ids: pd.Series
    former: pd.Series
    counts: dict[str, int]


def carry_person_ids(
    accounts: pd.DataFrame,
    previous: Mapping[str, str] | pd.Series,
    retired: Iterable[str] = (),
) -> CarriedIds:
    """Keep the person ids of a previous resolution for the persons that continue it.

    The model names a person after its smallest account id, so a person that gains an
    account whose id sorts first would change its id at every resolution. Instead:

    * a previous id goes to the new person holding most of its previous accounts (ties: the
      person holding the account of that id, then the smallest model id);
    * a person given several previous ids (a merge) keeps the one with most of its accounts
      in it (ties: the smallest id); the others are retired, listed in ``former``;
    * a person given none takes the model's id, unless a previous id is that id (a
      previous person's id must never name someone else): then its smallest account id no
      previous person had, as a last resort the model's id with ``~2`` (``~3`` …). Ids
      retired by resolutions before the previous one (``retired``) are never given again
      either.

    Args:
        accounts: one row per account: ``unique_id, person_id`` (as the model gave it).
        previous: account ``unique_id`` → the person id the previous resolution gave it;
            accounts it does not hold are new.
        retired: ids that earlier resolutions retired (merged into another person, or left
            without accounts): no new person may take one.

    Returns:
        The accounts with their carried ids, per person its retired ids, and the counts.

    Raises:
        ContractViolation: a column is missing, or an account is listed twice.

    Examples:
        >>> accounts = pd.DataFrame({"unique_id": ["a", "b", "c"], "person_id": "a"})
        >>> carry_person_ids(accounts, {"b": "b", "c": "b"}).accounts["person_id"].tolist()
        ['b', 'b', 'b']
    """
    missing = [c for c in ("unique_id", "person_id") if c not in accounts.columns]
    if missing:
        raise ContractViolation(
            f"`carry_person_ids` needs `unique_id` and `person_id` columns in `accounts`; "
            f"missing {missing}."
        )
    uid = accounts["unique_id"].astype(str).to_numpy(dtype=object)
    prev = previous if isinstance(previous, pd.Series) else pd.Series(previous, dtype=object)
    prev = prev.dropna()
    prev = pd.Series(prev.astype(str).to_numpy(dtype=object), index=prev.index.astype(str))
    prev = prev[~prev.index.duplicated()]
    # every id as an integer code in string order (sorting strings is most of the cost)
    n = len(uid)
    codes, vocab = pd.factorize(
        np.concatenate(
            [
                uid,
                accounts["person_id"].astype(str).to_numpy(dtype=object),
                pd.Series(uid).map(prev).to_numpy(dtype=object),
                prev.to_numpy(dtype=object),
                np.asarray([str(r) for r in retired], dtype=object),
            ]
        ),
        sort=True,
    )
    n_prev = len(prev)
    vocab = np.asarray(vocab, dtype=object)
    frame = pd.DataFrame(
        {"unique_id": codes[:n], "new": codes[n : 2 * n], "prev": codes[2 * n : 3 * n]}
    )
    twice = frame["unique_id"].duplicated()
    if twice.any():
        repeated = frame.loc[twice, "unique_id"]
        raise ContractViolation(
            f"`carry_person_ids` needs one row per account; {repeated.nunique()} accounts are "
            f"listed more than once (e.g. {vocab[repeated.iloc[0]]}). Drop the repeated rows "
            "first."
        )

    # how many of each previous person's accounts each new person holds
    known = frame[frame["prev"] >= 0].assign(holds=lambda f: f["unique_id"] == f["prev"])
    overlap = (
        known.groupby(["prev", "new"], sort=False)
        .agg(n=("unique_id", "size"), holds=("holds", "any"))
        .reset_index()
    )
    # each previous id to one new person, then each new person keeps one of the ids it got
    claims = overlap.sort_values(
        ["prev", "n", "holds", "new"], ascending=[True, False, False, True]
    ).drop_duplicates("prev")
    ranked = claims.sort_values(["new", "n", "prev"], ascending=[True, False, True])
    winner = ~ranked["new"].duplicated().to_numpy()
    kept, retired = ranked[winner], ranked[~winner]

    persons = np.unique(frame["new"].to_numpy())
    carried = persons.copy()
    carried[np.searchsorted(persons, kept["new"].to_numpy())] = kept["prev"].to_numpy()
    fresh = ~np.isin(persons, kept["new"].to_numpy())
    # a previous id (kept or retired), or one retired before, names its person: a new
    # person must not reuse one
    previous_ids = np.unique(codes[3 * n : 3 * n + n_prev])
    reserved = np.unique(codes[3 * n :])
    clash = persons[fresh & np.isin(persons, reserved)]
    final = vocab[carried]
    if len(clash):
        used = np.union1d(reserved, persons[fresh])
        free = frame[frame["new"].isin(clash) & ~frame["unique_id"].isin(used)]
        other = free.groupby("new")["unique_id"].min()
        final[np.searchsorted(persons, other.index.to_numpy())] = vocab[other.to_numpy()]
        taken = set(final) | set(vocab[reserved])
        for person in np.setdiff1d(clash, other.index.to_numpy()):  # every account id taken
            k = 2
            while f"{vocab[person]}~{k}" in taken:
                k += 1
            final[np.searchsorted(persons, person)] = f"{vocab[person]}~{k}"
            taken.add(f"{vocab[person]}~{k}")

    out = accounts.copy()
    out["person_id"] = final[np.searchsorted(persons, frame["new"].to_numpy())]
    carried_ids = pd.Series(
        final, index=pd.Index(vocab[persons], name="person_id"), name="person_id"
    )
    former = (
        pd.DataFrame(
            {
                "person_id": final[np.searchsorted(persons, retired["new"].to_numpy())],
                "former": vocab[retired["prev"].to_numpy()],
            }
        )
        .sort_values(["person_id", "former"])
        .groupby("person_id")["former"]
        .agg(list)
    )
    counts = {
        "kept": len(kept),
        "new": len(persons) - len(kept),
        "merged": len(retired),
        "split": int((overlap.groupby("prev").size() >= 2).sum()),
        "dropped": len(previous_ids) - len(claims),
    }
    return CarriedIds(accounts=out, person_ids=carried_ids, former=former, counts=counts)


__all__ = ["CarriedIds", "carry_person_ids"]

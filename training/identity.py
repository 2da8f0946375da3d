"""`butler train identity`: store members → normalise → fit splink → resolve → log and register.

No labels are needed: u comes from random pairs, m from EM. The run logs the settings object
(comparisons, rules, thresholds, version) and the trained splink model dictionary — neither
holds a member's data — and summary counts; it registers the model as ``butler-identity``
with the alias the services load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from features.identity import normalise_members
from features.members import store_members
from features.settings import Settings
from features.store import Store
from models.identity import (
    REGISTERED_NAME,
    IdentityConfig,
    IdentityResolver,
    resolution_summary,
)
from training import tracking

logger = logging.getLogger(__name__)

EXPERIMENT = "identity"


@dataclass(frozen=True, slots=True)
class IdentityRun:
    """What one training run produced."""

    run_id: str
    registered: tracking.RegisteredModel
    summary: dict[str, float]
    fit_seconds: float


def train(
    settings: Settings, config: IdentityConfig | None = None, *, promote: bool = True
) -> IdentityRun:
    """Fit the identity model on every member account of the store and register it (and,
    with ``promote``, point the alias the services load at it).

    Raises:
        StoreError: the store holds no member accounts.
    """
    cfg = config or IdentityConfig()
    tracking.check_writable(settings)
    with Store.open(settings, read_only=True) as store:
        raw = store_members(store)
        newest = store.sql("SELECT max(registered_at)::DATE FROM members").fetchall()[0][0]
    members = normalise_members(raw)
    model = IdentityResolver(cfg).fit(members)
    resolution = model.resolve(members)
    summary = resolution_summary(
        raw, resolution.clusters, cost_per_account=settings.recruitment_cost or None
    )
    with tracking.run(settings, EXPERIMENT, run_name="identity") as run_id:
        rules = ["+".join(rule) for rule in model.blocking_rules_]
        tracking.log_params(
            cfg.to_params()
            | {"columns": ",".join(model.columns_), "blocking_rules": "; ".join(rules)}
        )
        tracking.log_dict(model.settings_, "splink_model.json")
        tracking.log_trained_on(
            f"{len(raw):,} member accounts" + (f", newest sign-up {newest}" if newest else "")
        )
        tracking.log_metrics(summary | {"fit_seconds": model.fit_seconds_})
        registered = tracking.log_and_register(
            settings, model, name=REGISTERED_NAME, alias=settings.model_alias if promote else None
        )
    return IdentityRun(
        run_id=run_id, registered=registered, summary=summary, fit_seconds=model.fit_seconds_
    )

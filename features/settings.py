"""Runtime settings: one object, built once at an entry point and passed down."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where Butler keeps its data and how it reaches its services.

    Every value can be set with an environment variable prefixed ``BUTLER_``
    (``BUTLER_HOME=/data/butler``). Build it once in the CLI command or service
    ``__init__`` and pass it down; nothing deeper reads the environment.

    Examples:
        >>> settings = Settings(home=Path("/tmp/butler"))
        >>> settings.duckdb_path.name
        'butler.duckdb'
    """

    model_config = SettingsConfigDict(env_prefix="BUTLER_", extra="ignore")

    home: Path = Field(default=Path(".butler"), description="Butler home folder.")
    duckdb_file: str = Field(default="butler.duckdb", description="Store file inside home.")
    duckdb_memory_limit: str = Field(
        default="1GB", description="DuckDB memory limit; larger work spills to disk."
    )
    duckdb_threads: int | None = Field(default=None, description="DuckDB threads (None = cores).")
    ingest_batch_rows: int = Field(
        default=200_000, ge=1_000, description="Rows read per batch while ingesting."
    )
    ingest_commit_rows: int = Field(
        default=300_000,  # larger groups buy little speed for much memory (RESULTS.md)
        ge=0,
        description=(
            "Consecutive files of one platform and export kind are committed together until "
            "they hold this many rows (0: one transaction per file). Bulk commits let DuckDB "
            "write row groups straight to the store instead of through its log."
        ),
    )
    model_alias: str = Field(
        default="champion", description="Registry alias training sets and services load."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default is a SQLite file in home."
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="Key HTTP clients send as `Authorization: Bearer <key>` (BUTLER_API_KEY).",
    )
    max_batch: int = Field(
        default=1_000, ge=1, description="Most records or conversations in one HTTP request."
    )
    recruitment_cost: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "What recruiting one member account costs per platform, e.g. "
            'BUTLER_RECRUITMENT_COST=\'{"tmall": 35, "jd": 28}\'. The member summaries\' '
            "duplicated recruitment is then a share of this spend; empty = every account costs "
            "the same, and the share counts accounts."
        ),
    )

    # -- the business butler (agent) ------------------------------------------------------
    llm_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("BUTLER_LLM_BASE_URL", "OPENAI_BASE_URL", "llm_base_url"),
        description="OpenAI-compatible endpoint (OPENAI_BASE_URL); None = offline planner.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("BUTLER_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="Key of the OpenAI-compatible endpoint (OPENAI_API_KEY).",
    )
    llm_model: str = Field(
        default="qwen2.5-7b-instruct", description="Model name the endpoint serves."
    )
    llm_timeout_s: float = Field(default=30.0, gt=0, description="Seconds per LLM call.")
    llm_send_pii: bool = Field(
        default=False,
        description="Send phone numbers and names to the LLM endpoint unmasked (off: masked).",
    )
    agent_max_steps: int = Field(
        default=6, ge=1, le=20, description="Most tool-calling rounds per question."
    )
    agent_today: str | None = Field(
        default=None,
        description="The day period words count from (上周, last week); None = the newest "
        "sales day in the store, or the day after it when it closes a week or a month.",
    )
    sql_max_rows: int = Field(default=200, ge=1, le=10_000, description="Rows a SQL query returns.")
    sql_timeout_s: float = Field(default=5.0, gt=0, description="Seconds a SQL query may run.")
    max_question_chars: int = Field(
        default=4_000, ge=100, description="Longest question (with pasted text) the butler reads."
    )

    @field_validator("model_alias")
    @classmethod
    def _alias_mlflow_takes(cls, alias: str) -> str:
        # MLflow keeps "latest" and v1, v2 … for versions: registering under them fails, and
        # only after a training run's whole fit
        if re.fullmatch(r"(?i)latest|v\d+", alias) or not re.fullmatch(r"[\w-]+", alias):
            raise ValueError(
                f"{alias!r} cannot be a registry alias: MLflow reserves 'latest' and v1, v2 …, "
                "and an alias is letters, digits, _ and -; e.g. champion or staging."
            )
        return alias

    @field_validator("recruitment_cost")
    @classmethod
    def _known_platforms(cls, costs: dict[str, float]) -> dict[str, float]:
        from features.schema.vocab import Platform

        known = {p.value for p in Platform.channels()}
        unknown = sorted(set(costs) - known)
        if unknown:
            raise ValueError(
                f"recruitment_cost names no such platform: {', '.join(unknown)}; use "
                f"{', '.join(sorted(known))}."
            )
        negative = sorted(p for p, cost in costs.items() if not cost >= 0)
        if negative:
            raise ValueError(f"recruitment_cost must be ≥ 0; {', '.join(negative)} is not.")
        return costs

    @property
    def llm_configured(self) -> bool:
        """Whether an LLM endpoint is configured (otherwise the offline planner answers)."""
        return bool(self.llm_base_url)

    @property
    def duckdb_path(self) -> Path:
        """The unified store's DuckDB file."""
        return self.home / self.duckdb_file

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI, defaulting to a local SQLite store under home."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.home / 'mlflow.db').resolve()}"

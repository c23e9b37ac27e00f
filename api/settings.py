"""Settings from the environment (``DUIJIE_*``); nothing is read at import time."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUIJIE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///duijie.db"
    top_k: int = 10
    keep_runs: int = 3  # recommendations of older runs are deleted
    demo_dir: str = "demo_data"


@lru_cache
def get_settings() -> Settings:
    return Settings()

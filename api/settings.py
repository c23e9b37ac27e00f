"""Settings from the environment (``DUIJIE_*``); nothing is read at import time."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DUIJIE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///duijie.db"
    top_k: int = 10
    keep_runs: int = 3  # recommendations of older runs are deleted
    demo_dir: str = "demo_data"
    # Signs session cookies and API tokens. Unset: a random key kept in secret_file.
    secret_key: str | None = None
    secret_file: str = ".duijie_secret"
    session_idle_minutes: int = 30
    password_min_length: int = 10
    max_failed_logins: int = 5  # then the account is locked for lockout_minutes
    lockout_minutes: int = 15
    login_rate_per_minute: int = 10  # login attempts per client address
    upload_rate_per_minute: int = 6  # uploads per client address
    max_body_kb: int = 1024  # any request but an upload
    https_only_cookies: bool = False
    max_upload_mb: int = 10
    # /metrics answers the machine itself, and others that send this token (unset: no one else).
    metrics_token: str | None = None

    # Mail (DUIJIE_SMTP_*, DUIJIE_MAIL_FROM) and the links inside it.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "none"  # none | starttls | ssl
    mail_from: str = "duijie@localhost"
    base_url: str = "http://127.0.0.1:8000"
    digest_top_n: int = 5

    # Schedule, in the province's time zone.
    timezone: str = "Asia/Shanghai"
    rematch_time: str = "02:00"
    digest_time: str = "07:30"
    incremental_seconds: int = 5
    scheduler_in_web: bool = True  # `duijie serve` runs the scheduler too (single-process deployments)
    # A re-match started from the web runs in a process of its own: in a thread, the engine's Python
    # would hold the interpreter for seconds at a time and every request would wait behind it.
    rematch_process: bool = True
    rematch_nice: int = 10  # that process's lower CPU priority: requests first (0: the same as the web's)
    # And in Linux's idle class while it only computes (a request's wake-up then never waits out its
    # time slice); back at its nice value before it writes. Only where it may leave the class again.
    rematch_idle: bool = True
    # Meaning beside words (matcher.semantic): texts are encoded in the background, a batch at a time,
    # and re-matches use the vectors stored so far. False: words alone, nothing encoded.
    semantic: bool = True
    encode_minutes: int = 5  # how often the scheduler encodes texts that have no vector yet

    def resolved_secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = Path(self.secret_file)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
            path.chmod(0o600)
        return path.read_text(encoding="utf-8").strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()

"""One scheduler process for the exactly-once test: runs the morning job for a given slot."""

from __future__ import annotations

import sys

from api.db import make_engine
from api.services.engine import get_matcher
from api.services.jobs import Jobs
from api.settings import Settings


def main(db_url: str, smtp_port: int, slot: str) -> None:
    settings = Settings(database_url=db_url, smtp_port=smtp_port, secret_key="test-secret-key")
    jobs = Jobs(make_engine(db_url), settings, get_matcher, secret="test-secret-key")
    run = jobs.morning_digest(slot=slot)
    print("ran" if run is not None else "skipped")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])

"""A `duijie rematch` that stops midway, for the crash test: it says where it is, then waits to be killed."""

from __future__ import annotations

import sys
import threading

from sqlmodel import Session

from api.db import make_engine
from api.services.engine import get_matcher
from api.services.runs import run_rematch


def main(db_url: str, stage: str) -> None:
    def progress(at: str) -> None:
        if at == stage:
            print(f"at {at}", flush=True)
            threading.Event().wait()  # until the test kills this process

    with Session(make_engine(db_url)) as session:
        run_rematch(session, get_matcher(), progress=progress)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""The CPU priority of a re-match beside the web: a nice value, and Linux's idle class while it only computes.

Linux keeps both per thread, and a child process starts with those of the thread that started it.
A niced thread still runs out its time slice when a request wakes on its core (the kernel's EEVDF
scheduler lets the running task reach its deadline first); a thread in the idle class
(``SCHED_IDLE``) gives way at once. But a thread in that class gets almost nothing while the
cores are busy, so one holding a lock others wait on (SQLite's write lock, rows being deleted)
would stall them: a run leaves it, back to its nice value, before it writes (``leave_idle``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from functools import cache
from multiprocessing.process import BaseProcess

PER_THREAD = sys.platform.startswith("linux")  # elsewhere these calls would lower the whole process
_IDLE = getattr(os, "SCHED_IDLE", None)


def _set_policy(policy: int) -> None:
    os.sched_setscheduler(0, policy, os.sched_param(0))  # 0: the calling thread, on Linux


@cache
def idle_reversible(nice: int) -> bool:
    """Whether a thread at ``nice`` may enter the idle class and leave it again. Leaving takes
    ``CAP_SYS_NICE`` or a high enough ``RLIMIT_NICE`` (an ordinary account has neither); without
    it a run would stay idle through its write, so it is not put there. Tried in a throwaway thread."""
    if not PER_THREAD or _IDLE is None:
        return False
    works: list[bool] = []

    def probe() -> None:
        try:
            os.nice(nice)
            _set_policy(_IDLE)
            _set_policy(os.SCHED_OTHER)
            works.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, name="idle-probe")
    thread.start()
    thread.join()
    return bool(works)


def in_idle() -> bool:
    return PER_THREAD and _IDLE is not None and os.sched_getscheduler(0) == _IDLE


def leave_idle() -> None:
    """The calling thread back to the ordinary class, at its nice value (which the idle class kept).
    A no-op outside the idle class; where leaving is refused (a process started idle by someone
    else) the thread stays as it was."""
    if in_idle():
        with contextlib.suppress(OSError):
            _set_policy(os.SCHED_OTHER)


def start_niced(proc: BaseProcess, nice: int, *, idle: bool = False) -> None:
    """Start ``proc`` at ``nice``, and in the idle class if ``idle`` (and it may leave it again),
    from its first instruction: its start (the interpreter, numpy, scikit-learn, jieba, numba: ~4 s
    of a core) then yields to the web's requests as the run itself does; niced by the run's own
    code, a web re-match's first seconds doubled the requests' p99 (BENCHMARKS.md). A helper thread
    lowers its own priority and starts the process; the caller's threads keep theirs."""
    idle = idle and idle_reversible(nice)
    if (nice <= 0 and not idle) or not PER_THREAD:
        proc.start()
        return
    failed: list[BaseException] = []

    def start() -> None:
        try:
            if nice > 0:
                os.nice(nice)
            if idle:
                _set_policy(_IDLE)  # type: ignore[arg-type]
            proc.start()
        except BaseException as exc:  # raised again in the caller's thread
            failed.append(exc)

    helper = threading.Thread(target=start, name="start-niced")
    helper.start()
    helper.join()
    if failed:
        raise failed[0]

"""Worker processes that die with their parent, whatever signal ends it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Initializer for pool workers: SIGKILL this worker when the parent process dies.

    A killed parent (SIGKILL by the OOM killer, SIGTERM by `timeout` or a CI cancel) would
    otherwise leave its workers reparented to PID 1, blocked on their queue. Linux delivers
    PR_SET_PDEATHSIG; elsewhere the check below catches only a parent that is already gone.
    Ctrl-C is the parent's to handle: workers ignore SIGINT and are cancelled by the parent.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

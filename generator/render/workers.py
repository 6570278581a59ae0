"""Worker processes of a build: forked where the platform allows, and ended with the build that started them."""

from __future__ import annotations

import concurrent.futures
import ctypes
import multiprocessing
import os
import signal
import sys


def process_pool(jobs: int, fork_only: bool = False) -> concurrent.futures.ProcessPoolExecutor:
    """``jobs`` workers; fork keeps what was registered at run time (plugins, tests), elsewhere spawn re-imports
    the package (``fork_only``: the caller needs what fork inherits). A worker that dies breaks the pool
    (``BrokenProcessPool``) instead of leaving the build waiting, and a worker ends when the build is killed."""
    methods = multiprocessing.get_all_start_methods()
    if fork_only and "fork" not in methods:
        raise RuntimeError("this needs the fork start method, which the platform lacks")
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context,
                                                  initializer=_end_with_parent, initargs=(os.getpid(),))


def _end_with_parent(parent: int) -> None:
    """A worker ends when the build that started it is killed (Linux); elsewhere it ends with its queue."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() != parent:  # the parent died before the call above
            os._exit(1)

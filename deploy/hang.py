"""Hang every thread of a process but its main one, until this program ends.

`make deploy-check` uses it to make the agent's pipeline stop progressing while its
main thread (the supervisor, which pings systemd's watchdog) keeps running: the agent
must notice the stall, stop pinging, and systemd must kill and restart it. The threads
are stopped with ptrace (PTRACE_SEIZE, then PTRACE_INTERRUPT), which, unlike SIGSTOP,
stops one thread and not the whole process. When this program ends the threads are
released (the kernel detaches a dead tracer's tracees).

    python3 deploy/hang.py PID      # as root; runs until killed

Standard library only: it runs with the container's own Python.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time

PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207


def other_threads(pid: int) -> list[int]:
    """The thread ids of process `pid`, its main thread left out."""
    return sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)


def sleeping(pid: int, tid: int) -> bool:
    """Whether the thread waits in the kernel (state S or D).

    Then it does not hold Python's GIL, which the main thread needs to go on: a thread
    stopped while holding it would hang the main thread too.
    """
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("S", "D")
    except OSError:
        return True  # it ended


def interrupt(libc: ctypes.CDLL, pid: int, tid: int) -> bool:
    """Stop one thread with ptrace, once it waits in the kernel; False if it ended."""
    if libc.ptrace(PTRACE_SEIZE, tid, None, None) != 0:
        return False
    for _ in range(1000):  # a running thread sleeps within milliseconds
        if sleeping(pid, tid):
            break
        time.sleep(0.001)
    return bool(libc.ptrace(PTRACE_INTERRUPT, tid, None, None) == 0)


def main() -> int:
    """Stop the threads, say how many on stdout, then wait for a signal to end."""
    pid = int(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    stopped = sum(interrupt(libc, pid, tid) for tid in other_threads(pid))
    if stopped == 0:
        print(f"hang.py: could not stop any thread of {pid}: {os.strerror(ctypes.get_errno())}")
        return 1
    print(f"hang.py {os.getpid()}: stopped {stopped} threads of {pid}; its main thread runs")
    sys.stdout.flush()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    return 0


if __name__ == "__main__":
    sys.exit(main())

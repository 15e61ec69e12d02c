"""What the test servers (PostgreSQL, Redis, the local LLM) share: a free loopback port, and a child that
dies with the test process."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
from collections.abc import Callable

__all__ = ["die_with_parent", "free_port"]

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A `preexec_fn` that has the child receive `sig` when the test process dies, even by SIGKILL.

    It runs in the child after any switch of user (`Popen(user=...)`): a credential change clears the
    parent-death signal, so it must be set after it."""

    def set_signal() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would send the signal.
        if os.getppid() == 1:
            os._exit(1)

    return set_signal

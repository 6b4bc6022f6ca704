"""A guard that turns any network attempt into an error (the demo runs under it).

Equivalent to pytest-socket's `--disable-socket --allow-unix-socket` for code outside pytest:
inet sockets cannot connect and host names cannot be resolved; Unix sockets (used by
multiprocessing and data loaders) keep working. Nothing is patched until ``block_network``
is entered, and everything is restored when it exits.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


class NetworkAttempt(RuntimeError):
    """Code tried to reach the network while it was blocked."""


@contextmanager
def block_network() -> Iterator[list[str]]:
    """Block inet connections and DNS inside the ``with`` block; yields the attempts seen."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo, real_create = socket.getaddrinfo, socket.create_connection

    def refuse(what: str):
        attempts.append(what)
        raise NetworkAttempt(f"network access blocked (offline mode): {what}")

    def connect(self, address, *a, **k):
        if self.family == socket.AF_UNIX:
            return real_connect(self, address, *a, **k)
        refuse(f"connect {address}")

    def connect_ex(self, address, *a, **k):
        if self.family == socket.AF_UNIX:
            return real_connect_ex(self, address, *a, **k)
        refuse(f"connect {address}")

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = lambda host, *a, **k: refuse(f"resolve {host}")  # type: ignore[assignment]
    socket.create_connection = lambda address, *a, **k: refuse(f"connect {address}")  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo, socket.create_connection = real_getaddrinfo, real_create  # type: ignore[assignment]

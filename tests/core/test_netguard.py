"""wood/netguard.py: inside block_network every inet connection and name lookup is an error (and recorded),
Unix sockets keep working, and everything is restored on exit."""

from __future__ import annotations

import socket

import pytest

from wood.netguard import NetworkAttempt, block_network


def test_block_network_refuses_and_records_then_restores():
    before = (socket.getaddrinfo, socket.create_connection, socket.socket.connect, socket.socket.connect_ex)
    with block_network() as attempts:
        with pytest.raises(NetworkAttempt, match="network access blocked .offline mode.: resolve example.org"):
            socket.getaddrinfo("example.org", 443)
        with pytest.raises(NetworkAttempt, match="connect \\('example.org', 80\\)"):
            socket.create_connection(("example.org", 80))
        a, b = socket.socketpair(socket.AF_UNIX)  # multiprocessing's kind: still works
        with a, b:
            a.sendall(b"ok")
            assert b.recv(2) == b"ok"
        assert attempts == ["resolve example.org", "connect ('example.org', 80)"]
    assert (socket.getaddrinfo, socket.create_connection, socket.socket.connect, socket.socket.connect_ex) == before


def test_block_network_restores_after_an_error():
    real = socket.getaddrinfo
    with pytest.raises(RuntimeError, match="boom"), block_network():
        raise RuntimeError("boom")
    assert socket.getaddrinfo is real

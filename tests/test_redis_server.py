"""The Redis service: a real redis-server on loopback, stopped by PID."""

from __future__ import annotations

import os
import time

import psutil
import pytest
import redis

from distlab.contracts import EngineStartError
from distlab.procs import port_open
from distlab.services.redis_server import RedisServer, find_redis_server, ping


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_binary_is_found():
    assert find_redis_server().endswith("redis-server")


def test_serves_on_loopback_and_stops():
    server = RedisServer().start()
    try:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()
        listening = {
            c.laddr for c in psutil.net_connections("inet")
            if c.pid == server.pid and c.status == psutil.CONN_LISTEN
        }  # fmt: skip
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening)
        pid, port, workdir = server.pid, server.port, server.workdir
    finally:
        server.stop()
    assert _gone(pid)
    assert not port_open("127.0.0.1", port, 0.5)
    assert not os.path.exists(workdir)
    server.stop()  # idempotent


def test_context_manager_stops_on_error():
    with pytest.raises(KeyboardInterrupt):
        with RedisServer() as server:
            pid, port = server.pid, server.port
            assert ping("127.0.0.1", port)
            raise KeyboardInterrupt
    assert _gone(pid)
    assert not ping("127.0.0.1", port)


def test_two_servers_get_distinct_ports():
    with RedisServer() as a, RedisServer() as b:
        assert a.port != b.port
        assert ping("127.0.0.1", a.port) and ping("127.0.0.1", b.port)


def test_binary_that_fails_gives_one_line_error():
    with pytest.raises(EngineStartError) as info:
        RedisServer(binary="/bin/false").start()
    assert "\n" not in str(info.value)


def test_a_durable_server_comes_back_with_its_data_after_a_kill():
    server = RedisServer(durable=True).start()
    try:
        assert server.keeps_data and "append-only" in server.label
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.close()
        pid, port, workdir = server.pid, server.port, server.workdir
        os.kill(pid, 9)
        deadline = time.monotonic() + 5
        while server.alive():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.restart()
        assert server.alive() and server.pid != pid and server.port == port
        client = redis.Redis.from_url(server.url)
        assert client.get("k") == b"v"  # fsynced at the write: kept through SIGKILL
        client.close()
    finally:
        server.stop()
    assert _gone(server.pid or pid) and not os.path.exists(workdir)
    assert not port_open("127.0.0.1", port)


def test_a_server_without_persistence_restarts_empty():
    with RedisServer() as server:
        assert not server.keeps_data
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        client.close()
        server.restart()
        client = redis.Redis.from_url(server.url)
        assert client.get("k") is None
        client.close()

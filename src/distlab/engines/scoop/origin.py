"""The driver<->origin protocol and what runs under SCOOP's launcher: the origin's relay
(``serve``, started by bridge.py) and the wrapper SCOOP's workers run every task in
(``run_task``); with them, the driver's halves of the same exchanges: the handshake
(``greet_origin``) and the decoding of a task's outcome (``settle``).

The driver's side is distlab.engines.scoop.engine. SCOOP's workers import this module to
unpickle ``run_task``, so it imports nothing of distlab beyond the contracts' errors.

The origin only relays: it never waits in a way that makes SCOOP run tasks locally, so
tasks run on the workers, never in the origin.
"""

from __future__ import annotations

import os
import pickle
import socket
import time
import traceback
from collections import deque
from concurrent.futures import Future
from multiprocessing.connection import Connection, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any

import cloudpickle
import zmq

from distlab.contracts.errors import (
    DistlabError,
    EngineStartError,
    RemoteTraceback,
    TaskLost,
    call_capturing,
    with_remote_traceback,
)


class ScoopTaskLost(TaskLost):
    """A task's result will never come: a SCOOP worker died (SCOOP does not re-run
    its tasks, or only after its 60 s status pruning), or the origin went away."""


class ScoopBridgeLost(ScoopTaskLost):
    """The SCOOP origin (the bridge) went away: the engine cannot run tasks any more."""


#: the file (readable by its owner only) holding the hex key both ends of the socket
#: authenticate with: a file, not the environment, since SCOOP starts its origin over ssh
#: when the origin's host is not one it knows as local
AUTHKEY_FILE = "authkey"

# Frames on the driver<->origin socket. Task ids are 8-byte big-endian integers.
TASK = b"T"  # driver -> origin: T id payload
STOP = b"S"  # driver -> origin: stop relaying, let SCOOP shut down
READY = b"K"  # origin -> driver: K pickle({"pid": origin pid})
RESULT = b"R"  # origin -> driver: R id status data
ID_BYTES = 8

# Result status bytes.
OK = 0  # data: cloudpickled return value
RAISED = 1  # data: cloudpickled exception raised by the task
BROKEN = 2  # data: utf-8 text (an exception or result that could not be pickled)


def _connection(sock: socket.socket) -> Connection:
    sock.settimeout(None)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else Nagle adds ~40 ms
    return Connection(sock.detach())


def greet_origin(sock: socket.socket, authkey: bytes, deadline: float) -> tuple[Connection, int]:
    """In the driver: authenticate the origin that connected (both ways) and wait for its
    READY; return the connection and the origin's pid."""
    conn = _connection(sock)
    try:
        deliver_challenge(conn, authkey)
        answer_challenge(conn, authkey)
        if not conn.poll(max(1.0, deadline - time.monotonic())):
            raise EngineStartError("SCOOP's origin connected but never said it was ready")
        frame = conn.recv_bytes()
        if frame[:1] != READY:
            raise EngineStartError("SCOOP's origin sent an unexpected first message")
    except BaseException:
        conn.close()
        raise
    return conn, pickle.loads(frame[1:])["pid"]


# -- worker side -----------------------------------------------------------------------
def _unpack_and_call(payload: bytes) -> Any:
    fn, args, kwargs = cloudpickle.loads(payload)
    return fn(*args, **kwargs)


def run_task(payload: bytes) -> tuple[int, bytes]:
    """Run one cloudpickled (fn, args, kwargs) on a SCOOP worker.

    Never raises: SCOOP would print and drop the error, so the outcome is returned as a
    status and bytes the driver can decode.
    """
    try:
        value = call_capturing(_unpack_and_call, (payload,), {})
    except BaseException as exc:
        try:
            return RAISED, cloudpickle.dumps(exc)
        except Exception:
            return BROKEN, "".join(traceback.format_exception(exc)).encode()
    try:
        return OK, cloudpickle.dumps(value)
    except Exception as exc:
        return (
            BROKEN,
            f"the task's result ({type(value).__name__}) cannot be pickled: {exc}".encode(),
        )


def settle(fut: Future, status: int, data: bytes) -> None:
    """In the driver: complete ``fut`` with the outcome ``run_task`` encoded."""
    if status == OK:
        try:
            fut.set_result(cloudpickle.loads(data))
        except Exception as exc:
            fut.set_exception(DistlabError(f"the task's result could not be unpickled here: {exc}"))
    elif status == RAISED:
        try:
            exc = cloudpickle.loads(data)
        except Exception as err:
            exc = DistlabError(
                f"the task failed and its exception could not be unpickled here: {err}"
            )
        fut.set_exception(with_remote_traceback(exc))
    else:
        text = data.decode(errors="replace").strip() or "the task failed on a SCOOP worker"
        exc = DistlabError(text.splitlines()[-1])
        exc.__cause__ = RemoteTraceback(text)
        fut.set_exception(exc)


# -- origin side -----------------------------------------------------------------------

# SCOOP futures whose results reached the origin. SCOOP pickles a future's callbacks
# with it, so the callback is a module-level function (it only runs on the origin).
_finished: deque = deque()


def _note_finished(task: Any) -> None:
    _finished.append(task)


def serve(driver_address: str, authkey_path: str) -> None:
    """Relay tasks from the driver to SCOOP's workers until told to stop or cut off."""
    from scoop import _control, futures

    host, _, port = driver_address.rpartition(":")
    conn = _connection(socket.create_connection((host, int(port)), timeout=30))
    authkey = bytes.fromhex(Path(authkey_path).read_text())
    answer_challenge(conn, authkey)
    deliver_challenge(conn, authkey)
    conn.send_bytes(READY + pickle.dumps({"pid": os.getpid()}))

    queue = _control.execQueue
    # Wait on SCOOP's sockets and the driver's together. (Registering the driver's
    # socket in SCOOP's own poller would make SCOOP block reading its task socket.)
    poller = zmq.Poller()
    for scoop_socket in (queue.socket.socket, queue.socket.direct_socket, queue.socket.infoSocket):
        poller.register(scoop_socket, zmq.POLLIN)
    poller.register(conn.fileno(), zmq.POLLIN)
    pending: dict[Any, bytes] = {}  # SCOOP future -> task id bytes
    try:
        while True:
            queue.flush()  # hand every queued task to the broker (none runs here)
            queue.socket.pumpInfoSocket()
            poller.poll(1000)
            while conn.poll(0):
                frame = conn.recv_bytes()
                if frame[:1] == STOP:
                    return
                task = futures.submit(run_task, frame[1 + ID_BYTES :])
                task.add_done_callback(_note_finished)
                pending[task] = frame[1 : 1 + ID_BYTES]
            queue.updateQueue()  # runs _note_finished for results that arrived
            while _finished:
                task = _finished.popleft()
                task_id = pending.pop(task, None)
                if task_id is None:
                    continue
                if task.exceptionValue is not None:
                    status, data = (
                        BROKEN,
                        str(task.exceptionTraceback or task.exceptionValue).encode(),
                    )
                else:
                    status, data = task.resultValue
                conn.send_bytes(RESULT + task_id + bytes([status]) + data)
                task._delete()
    except (EOFError, OSError):
        return  # the driver went away: end the program, SCOOP stops its workers
    finally:
        conn.close()

"""What every engine whose streams run as processes of its own runner must do
(engines/common/stream_processes.py): load without its library, refuse an address in one
line, and fail a stream at once, in one line, when one of its processes dies."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil
import pytest

import distlab
from distlab.contracts import DistlabError, StreamSpec


class ProcessStreamsConformance:
    """Set ``engine_name``, ``library`` (its import name) and ``runner`` (the label its
    errors use)."""

    engine_name = ""
    library = ""
    runner = ""

    def test_module_does_not_import_its_library(self):
        code = (
            f"import sys, distlab.registry as r; c = r.engine_class({self.engine_name!r}); "
            f"print(c.name, {self.library!r} in sys.modules)"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.stdout.split() == [self.engine_name, "False"], done.stderr

    def test_an_address_is_refused_in_one_line(self):
        with pytest.raises(DistlabError, match="takes no --address"):
            distlab.engine(self.engine_name, address="127.0.0.1:1").start()

    def test_a_worker_that_dies_mid_stream_fails_the_stream_at_once(self):
        """A process killed a few seconds into a long stream: the stream fails with the
        exit in one line well before its timeout, and nothing of the run is left."""
        engine = distlab.engine(self.engine_name, workers=2).start()
        killed: list[list[int]] = []

        def kill_one() -> None:
            deadline = time.monotonic() + 90
            while not killed and time.monotonic() < deadline:
                pids = engine.worker_pids()
                if len(pids) == 2:
                    time.sleep(3.0)  # into the stream
                    psutil.Process(pids[1]).kill()
                    killed.append(pids)
                time.sleep(0.05)

        spec = StreamSpec(n_events=20_000, rate=500.0, window_ms=250, keys=4, timeout_s=120)
        killer = threading.Thread(target=kill_one)
        killer.start()
        began = time.monotonic()
        try:
            with pytest.raises(DistlabError, match=f"{self.runner} process exited"):
                engine.run_stream(spec)
            assert time.monotonic() - began < 90
        finally:
            killer.join()
            engine.close()
        assert killed, "no worker was killed"
        assert not [p for p in killed[0] if psutil.pid_exists(p)]

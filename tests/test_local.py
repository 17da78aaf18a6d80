import time

import distlab
from clusters import check_gpu_runs
from conformance.lifecycle import LifecycleConformance
from conformance.tasks import TaskConformance
from distlab.contracts import granted_units


class TestLocalEngine(LifecycleConformance, TaskConformance):
    engine_name = "local"


def hold_gpu(seconds: float) -> tuple[float, float, str]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time(), ",".join(granted_units("GPU"))


def test_gpu_units_are_granted_and_published():
    with distlab.engine("local", workers=1, gpus=2) as eng:
        futures = [eng.submit_with(hold_gpu, (0.5,), resources={"GPU": 1}) for _ in range(4)]
        check_gpu_runs(eng.gather(futures), units={"0", "1"})
        assert eng.submit(granted_units, "GPU").result(timeout=30) == []  # none asked

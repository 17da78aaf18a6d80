"""W4 kfold (seed 002, task 4): 5-fold cross-validation of an SVC on Iris, one task per fold.

As in the original: Iris, ``KFold(5, shuffle=True, random_state=42)``, default ``SVC()``,
X and y put once into the engine's shared store, one task per fold returning its score.
Every engine must give the very same five floats as scikit-learn in one process.

The data-sharing step is what differs between engines (object store, scatter, broadcast,
or by value), so its cost is timed apart (``share_s``). ``scale`` > 1 enlarges the data
(the rows replicated, each copy after the first with seeded Gaussian noise) so sharing
costs become visible; the enlarged data are the same on every run. The ``by_value``
variant sends X and y with every task instead, for comparison.
"""

from __future__ import annotations

import pickle
import time
from typing import Any

import numpy as np

from distlab.contracts import DistlabError, Engine
from distlab.workloads.base import Param, RunOutput, Workload

NOISE_SEED = 20240607
NOISE_SD = 0.05  # in cm, small beside Iris' feature spreads: the classes stay learnable
FOLDS = 5
SPLIT_SEED = 42


def load_data(scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Iris, or Iris replicated ``scale`` times with seeded noise on every added copy."""
    try:
        from sklearn.datasets import load_iris
    except ImportError:
        raise DistlabError("kfold needs scikit-learn: install distlab[ml]") from None
    X, y = load_iris(return_X_y=True)
    if scale <= 1:
        return X, y
    rng = np.random.default_rng(NOISE_SEED)
    copies = [X] + [X + rng.normal(0.0, NOISE_SD, X.shape) for _ in range(scale - 1)]
    return np.concatenate(copies), np.tile(y, scale)


def fold_indices(n_rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold

    splitter = KFold(n_splits=FOLDS, shuffle=True, random_state=SPLIT_SEED)
    return list(splitter.split(np.zeros((n_rows, 1))))


def score_fold(X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict:
    """Train a default SVC on one fold's training rows; score it on the held-out rows."""
    from sklearn.svm import SVC

    t0 = time.perf_counter()
    model = SVC().fit(X[train], y[train])
    score = float(model.score(X[test], y[test]))
    return {"score": score, "fit_s": time.perf_counter() - t0}


class KFold(Workload):
    name = "kfold"
    description = "5-fold cross-validation of SVC on Iris, data shared once (seed 002 task 4)"
    sizes = {
        "tiny": {"scale": 1},
        "default": {"scale": 50},
        "seed": {"scale": 1},
    }
    params_declared = {"scale": Param(int, minimum=1)}
    requires = ("sklearn",)
    requires_extra = "ml"

    def __init__(self, size: str = "default", **overrides: Any):
        super().__init__(size, **overrides)
        self.X, self.y = load_data(int(self.params["scale"]))
        self.folds = fold_indices(len(self.y))
        self._pickle_s: float | None = None

    def variants(self, engine: Engine) -> list[str]:
        return ["shared", "by_value"]

    def reference(self) -> list[float]:
        # scikit-learn in one process: the five scores every engine must reproduce
        return [score_fold(self.X, self.y, tr, te)["score"] for tr, te in self.folds]

    def run(self, engine: Engine, variant: str) -> RunOutput:
        t0 = time.perf_counter()  # the work: sharing the data, then the five fits
        if variant == "by_value":
            X, y = self.X, self.y
            share_s = 0.0
        else:
            # put once, pass the handles to every task
            X, y = engine.share(self.X), engine.share(self.y)
            share_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        futures = [engine.submit(score_fold, X, y, tr, te) for tr, te in self.folds]
        folds = engine.gather(futures)
        tasks_s = time.perf_counter() - t1
        wall = time.perf_counter() - t0
        data_bytes = self.X.nbytes + self.y.nbytes
        return RunOutput(
            [f["score"] for f in folds],
            n_tasks=len(folds),
            compute_s=sum(f["fit_s"] for f in folds),
            wall_s=wall,
            metrics={
                "rows": len(self.y),
                "data_mb": data_bytes / 1e6,
                "shared": variant != "by_value",
                "native_share": engine.supports_shared_objects,
                "share_s": share_s,
                "tasks_s": tasks_s,
                "fit_s": [f["fit_s"] for f in folds],
                # what sending the data by value costs once, for scale
                "pickle_once_s": self._pickle_once_s(),
                "mean_score": float(np.mean([f["score"] for f in folds])),
            },
        )

    def _pickle_once_s(self) -> float:
        """What sending the data by value costs once, for scale (measured once, after
        the timed region)."""
        if self._pickle_s is None:
            self._pickle_s = _pickle_time(self.X, self.y)
        return self._pickle_s

    def verify(self, output: RunOutput, variant: str) -> tuple[bool, str]:
        got, want = list(output.result), self.golden()
        if got == want:
            return True, f"{FOLDS} fold scores equal scikit-learn's: {[round(s, 4) for s in got]}"
        return False, f"fold scores {got} differ from scikit-learn's {want}"


def _pickle_time(*arrays: np.ndarray) -> float:
    t0 = time.perf_counter()
    pickle.loads(pickle.dumps(arrays, protocol=5))
    return time.perf_counter() - t0

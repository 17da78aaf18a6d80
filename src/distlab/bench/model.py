"""What one engine's bench process is asked to do: its own record, not a matrix job."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class BenchJob:
    """One engine's benchmark cell: ``params`` are the benchmark's own (sizes, repeats);
    ``options`` reach the engine (e.g. what a test-host deployment asks of its driver)."""

    engine: str
    params: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    workers: int | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BenchJob:
        return cls(**json.loads(text))

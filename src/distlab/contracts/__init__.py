"""The contracts: what engines implement and workloads use, below both.

* :mod:`.lifecycle`: every engine (start/close, declarations, address check);
* :mod:`.tasks`: submit/map/gather/share, actors, resources (TaskEngine);
* :mod:`.batch`: map/reduce and typed built-in operators (BatchEngine);
* :mod:`.streams`: StreamSpec/StreamResult, golden helpers, the paced sender
  (StreamEngine); :mod:`.pacing`: the one pacer every paced loop uses;
* :mod:`.errors`: the errors every layer shares;
* :mod:`.plugin`: an engine's light declaration (EnginePlugin, its Options), what the
  registry discovers through the ``distlab.engines`` entry points.

An engine declares the shapes it runs by subclassing the sub-contracts it implements;
``Engine.shapes`` is derived from them. This package imports nothing above it.
"""

from distlab.contracts.batch import BatchEngine, BuiltinOp, WordCount, task_map_reduce
from distlab.contracts.errors import (
    BrokerLost,
    DistlabError,
    EngineStartError,
    EngineUnavailable,
    RemoteTraceback,
    TaskLost,
    UnsatisfiableResources,
    call_capturing,
    error_line,
    first_line,
    remote_traceback_text,
    with_remote_traceback,
)
from distlab.contracts.lifecycle import BATCH, STREAMS, TASKS, Broker, Engine
from distlab.contracts.plugin import EnginePlugin, Option, Preset
from distlab.contracts.streams import StreamEngine, StreamResult, StreamSpec
from distlab.contracts.tasks import (
    ActorHandle,
    Future,
    TaskEngine,
    apply_chunk,
    chunked,
    granted_units,
    units_environment,
)

__all__ = [
    "BATCH",
    "STREAMS",
    "TASKS",
    "ActorHandle",
    "BatchEngine",
    "Broker",
    "BrokerLost",
    "BuiltinOp",
    "DistlabError",
    "Engine",
    "EngineStartError",
    "EnginePlugin",
    "EngineUnavailable",
    "Future",
    "Option",
    "Preset",
    "RemoteTraceback",
    "StreamEngine",
    "StreamResult",
    "StreamSpec",
    "TaskEngine",
    "TaskLost",
    "UnsatisfiableResources",
    "WordCount",
    "apply_chunk",
    "call_capturing",
    "chunked",
    "error_line",
    "first_line",
    "granted_units",
    "remote_traceback_text",
    "task_map_reduce",
    "units_environment",
    "with_remote_traceback",
]

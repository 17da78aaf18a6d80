"""Running the matrix: the parent, the engine processes, and the data model between them.

Process model: ``distlab run`` (the parent, :mod:`.matrix`) validates everything it can,
then starts one process per engine (:mod:`.launcher`, with the engine's own interpreter:
Flink has its own environment). An engine process (:mod:`.cell`) starts its engine once,
runs every workload variant on it (warm-up and measured repetitions, verification, memory,
fault injection) and appends typed events to an events file that the parent follows for
progress and results. Benchmarks (:mod:`distlab.bench`) run in engine processes started
by the same launcher. Every process stops when its parent dies.

Data model (:mod:`.model`): the job an engine process is given, the events it emits and a
cell's record are dataclasses, serialised in one place (``to_json``) and read back in one
place (``decode_event``/``from_dict``). The results file (:mod:`distlab.results`) stores
the cell records as written here.
"""

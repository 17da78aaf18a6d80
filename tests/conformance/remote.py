"""Run the conformance checks inside an engine's own environment (Flink's virtualenv has
no pytest): ``python -m conformance.remote ENGINE CHECK [CHECK ...]`` prints one JSON line
{check: "ok" | "AssertionError: ..."}; the suites in the main environment assert on it."""

from __future__ import annotations

import json
import sys
import traceback

import distlab
from conformance import checks

#: check name -> how it is called (with a started engine, or with a factory)
ON_ENGINE = {
    "describe_and_declarations": checks.check_describe_and_declarations,
    "map_reduce_exact": checks.check_map_reduce_exact,
    "builtin_ops_typed_and_exact": checks.check_builtin_ops,
    "stream_windows_exact_and_every_event_arrives": checks.check_stream_exact,
    "small_query": checks.check_small_query,
    "tpch_answers_verified": checks.check_tpch_answers,
    "groupby_answers_verified": checks.check_groupby_answers,
}


def main(engine_name: str, names: list[str]) -> dict[str, str]:
    def make():
        return distlab.engine(engine_name, workers=2)

    out: dict[str, str] = {}
    engine = make()
    try:
        engine.start()
        for name in names:
            if name in ON_ENGINE:
                out[name] = _outcome(lambda n=name: ON_ENGINE[n](engine))
    finally:
        engine.close()
    if "close_leaves_nothing_running" in names:
        out["close_leaves_nothing_running"] = _outcome(
            lambda: checks.check_close_leaves_nothing(make)
        )
    return out


def _outcome(fn) -> str:
    try:
        fn()
        return "ok"
    except BaseException as exc:  # reported, not raised: the other checks still run
        tb = traceback.format_exc(limit=4)
        return f"{type(exc).__name__}: {exc}\n{tb}"


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])))

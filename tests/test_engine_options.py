"""Engine declarations (contracts/plugin.py): each built-in's PLUGIN says what its class
derives, loads without the engine's library, and its options are checked before a run."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import distlab
from commands import DISTLAB
from commands import distlab as run_distlab
from distlab import registry
from distlab.contracts import DistlabError, EngineUnavailable, Option
from distlab.contracts.plugin import CAPABILITY_FLAGS
from present import missing


def _one_line_exit_2(res, needle: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    assert needle in res.stderr, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def check_declaration_matches_class(name: str) -> None:
    """The PLUGIN's shapes, capabilities and server are what the engine class derives."""
    plugin = registry.entry(name)
    try:
        cls = plugin.engine_class()
    except EngineUnavailable as exc:
        missing(str(exc))
    assert cls.name == name and cls.plugin is plugin
    assert cls.shapes == plugin.shapes, (name, sorted(cls.shapes), sorted(plugin.shapes))
    derived = {flag for flag in CAPABILITY_FLAGS if getattr(cls, flag)}
    assert derived == plugin.capabilities, (name, derived, plugin.capabilities)
    assert cls.server == plugin.server


@pytest.mark.parametrize("name", registry.BUILT_IN)
def test_declaration_matches_the_engine_class(name):
    check_declaration_matches_class(name)


def test_built_ins_come_first_in_their_order():
    assert list(registry.ENGINES)[: len(registry.BUILT_IN)] == list(registry.BUILT_IN)


def test_plugins_load_without_any_engine_library():
    """The light entry modules import distlab's contracts only: listing the engines imports
    no engine library (the registry can read every declaration on any install)."""
    libraries = ("ray", "distributed", "celery", "redis", "confluent_kafka", "scoop",
                 "pyspark", "pyflink", "cloudpickle")  # fmt: skip
    code = (
        "import sys; from distlab import registry; "
        f"print([m for m in {libraries!r} if m in sys.modules], len(registry.ENGINES))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, count = out.stdout.rsplit(" ", 1)
    assert imported == "[]" and int(count) >= len(registry.BUILT_IN), out.stdout


def test_options_are_typed_with_their_defaults():
    eng = distlab.engine("local", workers=1)  # not started: nothing runs
    assert eng.options == {"gpus": 0, "resources": {}}
    # the dict default is the engine's own, not shared with the next
    eng.options["resources"]["disk"] = 1
    assert distlab.engine("local", workers=1).options["resources"] == {}
    plugin = registry.entry("celery")
    typed = plugin.read_options({"visibility_timeout": 5, "queue": 7, "durable_broker": True})
    assert typed["visibility_timeout"] == 5.0 and isinstance(typed["visibility_timeout"], float)
    assert typed["queue"] == "7"  # the command line read 7 as JSON; a queue is a name
    assert typed["prefetch_multiplier"] == 4 and typed["backend"] is None


@pytest.mark.parametrize(
    ("given", "needle"),
    [
        ({"visibilty_timeout": 5}, "unknown option celery.visibilty_timeout; celery's options: "
         "visibility_timeout, prefetch_multiplier, acks_late, pool, backend"),
        ({"prefetch_multiplier": "x"}, "option celery.prefetch_multiplier must be an int >= 1, "
         "got 'x'"),
        ({"prefetch_multiplier": 0}, "must be an int >= 1, got 0"),
        ({"prefetch_multiplier": 2.5}, "must be an int >= 1, got 2.5"),
        ({"durable_broker": 1}, "option celery.durable_broker must be true or false, got 1"),
        ({"gpus": True}, "option celery.gpus must be an int >= 0, got True"),
        ({"resources": [1]}, "option celery.resources must be a JSON object, got [1]"),
    ],
)  # fmt: skip
def test_a_bad_option_is_one_line(given, needle):
    with pytest.raises(DistlabError) as caught:
        distlab.engine("celery", **given)
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_option_choices_and_bounds_are_said():
    option = Option("mode", str, "a", choices=("a", "b"))
    assert option.describe() == "one of 'a', 'b'"
    with pytest.raises(DistlabError, match=r"option x.mode must be one of 'a', 'b', got 'c'"):
        option.read("x", "c")
    ratio = Option("ratio", float, 0.5, minimum=0, maximum=1)
    assert ratio.read("x", 1) == 1.0
    with pytest.raises(DistlabError, match=r"must be a number in \[0, 1\], got 2"):
        ratio.read("x", 2)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--engines", "celery", "--option", "celery.visibilty_timeout=5"],
         "unknown option celery.visibilty_timeout; celery's options: visibility_timeout"),
        (["--engines", "kafka", "--option", "kafka.partitions=x"],
         "option kafka.partitions must be an int >= 1, got 'x'"),
        (["--engines", "dask", "--option", "dask.threads=0"],
         "option dask.threads must be an int >= 1, got 0"),
        (["--engines", "rq:at_most_once"],
         "unknown settings rq:at_most_once; rq's: defaults, at_least_once"),
    ],
)  # fmt: skip
def test_run_refuses_a_bad_option_before_anything_starts(args, needle):
    t0 = time.monotonic()
    _one_line_exit_2(run_distlab("run", *args, "--workloads", "squares", "--size", "tiny"), needle)
    assert time.monotonic() - t0 < 10


def test_gpus_go_to_the_engines_that_declare_them():
    from distlab.cli_run_options import engine_options

    options = engine_options(["kafka.partitions=4"], ["local", "kafka", "dask"], 2)
    assert options == {"local": {"gpus": 2}, "kafka": {"partitions": 4}, "dask": {"gpus": 2}}


def test_a_broken_plugin_is_one_line_naming_it(tmp_path):
    """Another package's entry point that does not load: `distlab engines` lists it with
    the reason, and a run naming it stops with one line, not a traceback."""
    info = tmp_path / "broken_engine-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-engine\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[distlab.engines]\nbroken = no_such_module_xyz.plugin:PLUGIN\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "250"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*DISTLAB, *args], capture_output=True, text=True, env=env, timeout=60
        )

    listed = cli("engines")
    assert listed.returncode == 0, listed.stderr
    assert "broken" in listed.stdout and "no_such_module_xyz" in listed.stdout
    assert "Traceback" not in listed.stdout + listed.stderr
    _one_line_exit_2(
        cli("run", "--engines", "broken", "--size", "tiny"),
        "engine 'broken' cannot be used: no_such_module_xyz.plugin:PLUGIN does not load "
        "(ModuleNotFoundError",
    )


def test_what_a_deployment_gives_its_engine_is_declared():
    """The options a test-host deployment hands the driver's engine (``dep.options``,
    engines/<name>/hosts.py) are options that engine declares: checked here, as the hosts
    tests that run them need root."""
    engines = Path(registry.__file__).parent / "engines"
    given: dict[str, set[str]] = {}
    for hosts in sorted(engines.glob("*/hosts.py")):
        for node in ast.walk(ast.parse(hosts.read_text())):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Dict)
                and any(ast.unparse(target) == "dep.options" for target in node.targets)
            ):
                keys = {k.value for k in node.value.keys if isinstance(k, ast.Constant)}
                given.setdefault(hosts.parent.name, set()).update(keys)
    assert {"celery", "kafka", "scoop", "spark", "flink"} <= set(given), given
    for name, keys in given.items():
        declared = {o.name for o in registry.entry(name).options}
        assert keys <= declared, (name, keys - declared)


def test_delivery_presets_name_settings_a_fault_run_runs_each_of():
    from distlab.cli_run_options import engine_options
    from distlab.run.validate import with_delivery_presets

    assert registry.entry("rq:at_least_once") is registry.entry("rq")
    assert registry.preset_options("rq:at_least_once") == {"retries": 3}
    assert registry.preset_options("celery:defaults") == {"acks_late": False}
    assert registry.preset_options("rq") == {}
    # every queue names its defaults and its at-least-once settings, declared options only
    for name in ("celery", "dramatiq", "rq", "huey", "taskiq", "arq"):
        presets = [p.name for p in registry.entry(name).delivery_presets]
        assert presets == ["defaults", "at_least_once"], name
    # a fault run runs each preset; a chosen preset and an engine without any stay
    asked = ["local", "rq", "huey:defaults"]
    assert with_delivery_presets(asked, faulted=False) == asked
    assert with_delivery_presets(asked, faulted=True) == [
        "local", "rq:defaults", "rq:at_least_once", "huey:defaults"]  # fmt: skip
    # the engine's own --option reaches its presets; the user's option wins over a preset's
    options = engine_options(["rq.lost_after=5"], ["rq:defaults", "rq:at_least_once"], None)
    assert options == {"rq": {"lost_after": 5}}
    engine = registry.create("rq:at_least_once", retries=1)
    assert engine.name == "rq:at_least_once" and engine.options["retries"] == 1
    assert type(engine).name == "rq"

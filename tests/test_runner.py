"""Runner behaviour that does not need a cluster: per-cell errors, unsupported cells."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from distlab import registry, stats
from distlab.contracts import DistlabError, EngineUnavailable
from distlab.results import load, save
from distlab.workloads import create


def test_unknown_size_is_a_user_error():
    with pytest.raises(DistlabError, match="unknown size"):
        create("squares", "huge")


def test_missing_engine_gives_install_hint(monkeypatch):
    e = registry.ENGINES["ray"]
    monkeypatch.setitem(registry.ENGINES, "ray", replace(e, probe=("no_such_module_xyz",)))
    with pytest.raises(EngineUnavailable, match=r"pip install 'distlab\[ray\]'"):
        registry.engine_class("ray")


def test_summary_has_spread():
    s = stats.summarize([3.0, 1.0, 2.0])
    assert (s["median"], s["min"], s["max"], s["n"]) == (2.0, 1.0, 3.0, 3)


def test_percentiles_nearest_rank():
    p = stats.percentiles(list(range(1, 1001)))
    assert p["p50"] == 500 and p["p99"] == 990 and p["p99.9"] == 999


def test_mann_whitney_separates_shifted_samples():
    assert stats.mann_whitney_p([1, 1.1, 0.9, 1.05, 0.95], [2, 2.1, 1.9, 2.05, 1.95]) < 0.05
    assert stats.mann_whitney_p([1, 2, 3, 4], [1, 2, 3, 4]) > 0.5


def test_results_round_trip_and_reject_garbage(tmp_path):
    from distlab import results

    doc = results.new(["distlab"], {"size": "tiny"})
    save(doc, tmp_path / "results.json")
    assert load(tmp_path).settings.size == "tiny"
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DistlabError, match="not a results file"):
        load(tmp_path / "bad.json")


def test_every_workload_declares_the_parameters_its_sizes_set():
    from distlab.workloads import WORKLOADS, workload_class

    for name in WORKLOADS:
        cls = workload_class(name)
        for size, params in cls.sizes.items():
            assert set(params) <= cls.parameter_names(), (name, size)
            cls.check_params(params)  # every size passes its own declaration


def test_results_file_layout_is_checked_on_load(tmp_path):
    from distlab import results

    doc = json.loads(results.encode(results.new(["distlab"], {})))
    doc["cells"] = [{"engine": "local", "workload": "squares", "status": "ok", "wall": 3}]
    broken = tmp_path / "broken.json"  # not results.json: the session checks those
    broken.write_text(json.dumps(doc))
    with pytest.raises(DistlabError, match=r"Expected `object`, got `int` - at `\$.cells\[0\].wall`"):
        load(broken)
    doc["cells"] = [{"engine": "local", "status": "ok"}]
    broken.write_text(json.dumps(doc))
    with pytest.raises(DistlabError, match=r"missing required field `workload` - at `\$.cells\[0\]`"):
        load(broken)

"""The results file's model, schema and upgrade: the shipped schema is the one the model
generates; an older file loads, upgrades and renders; a fresh file validates."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import jsonschema
from rich.console import Console

from distlab import results
from distlab.report.html import build_report
from distlab.report.terminal import print_summary
from distlab.results import codec

DATA = Path(__file__).parent / "data"


def test_the_shipped_schema_is_the_one_the_model_generates():
    shipped = codec.SCHEMA_PATH.read_text()
    assert shipped == codec.schema_text(), (
        "results.schema.json is out of date: python -m distlab.results.codec"
    )
    jsonschema.Draft202012Validator.check_schema(json.loads(shipped))


def test_a_new_document_round_trips_and_validates(tmp_path):
    doc = results.new(["distlab", "run"], {"size": "tiny", "repeats": 2})
    doc.cells.append(results.CellRecord("local", "squares", work_fraction=None))
    path = results.save(doc, tmp_path / "results.json")
    data = json.loads(path.read_text())
    jsonschema.validate(data, json.loads(codec.SCHEMA_PATH.read_text()))
    assert data["version"] == results.VERSION == 3
    again = results.load(path)
    assert again == doc  # work_fraction None survives (not the default 1.0)


def test_older_files_load_upgraded_and_render(tmp_path):
    for version in (1, 2):
        src = DATA / f"results-v{version}.json"
        run_dir = tmp_path / f"v{version}"
        run_dir.mkdir()
        shutil.copy(src, run_dir / "results.json")
        doc = results.load(run_dir)
        assert doc.version == results.VERSION
        assert doc.memory_measure == ("rss" if version == 1 else "pss")
        by = {(c.engine, c.variant): c for c in doc.cells}
        per_element = by[("local", "per_element")]
        assert per_element.work_fraction == 0.25 and "work_fraction" not in per_element.metrics
        assert by[("local", "batched")].work_fraction == 1.0  # none recorded: the whole work
        assert per_element.peak_mem_mb == 80.0 and doc.engines["local"].idle_mem_mb == 40.0
        refs = doc.references["numbers"]
        assert refs.runs["sequential"].wall["median"] == 2.0 and refs.error is None
        assert doc.references["kfold"].error == "ImportError: no sklearn"
        assert by[("local", "batched")].speedup == 4.0
        # it renders: the terminal summary and the HTML page
        out = io.StringIO()
        print_summary(doc, Console(file=out, width=120))
        assert "numbers" in out.getvalue()
        page = build_report(run_dir, run_dir).read_text()
        assert "ImportError: no sklearn" in page and 'id="references"' in page
        # written again, it is a current file
        saved = json.loads(results.encode(doc))
        jsonschema.validate(saved, json.loads(codec.SCHEMA_PATH.read_text()))


def test_a_file_from_a_newer_distlab_is_refused_in_one_line(tmp_path):
    import pytest

    from distlab.contracts import DistlabError

    (tmp_path / "results.json").write_text(
        json.dumps({"schema": results.SCHEMA, "version": results.VERSION + 1})
    )
    with pytest.raises(DistlabError, match="this distlab reads <= 3"):
        results.load(tmp_path)

"""Test hosts (network namespaces joined by a bridge, distlab.hosts) and engines deployed
across them: real namespaces, real clusters started by each engine's own tools."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from commands import distlab
from distlab.bench.rtt import NO_DELAYED_LINK, with_slopes
from distlab.contracts import DistlabError
from distlab.hosts import netns, toxiproxy
from distlab.report.bench_tables import rtt_cells
from present import ENV, require_root

NEED_ROOT = "network namespaces need root"


def _namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith("distlab-")]


@pytest.fixture
def root():
    """Skipped without root on a developer's machine; failed in CI (tests/present.py)."""
    require_root(NEED_ROOT)


@pytest.fixture
def state_dir(root, tmp_path, monkeypatch):
    monkeypatch.setenv("DISTLAB_STATE_DIR", str(tmp_path / "state"))
    yield tmp_path / "state"
    netns.down()
    assert _namespaces() == []


def _in_host(name: str, code: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ip", "netns", "exec", f"distlab-{name}", sys.executable, "-c", code],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_hosts_reach_each_other_and_nothing_else(state_dir):
    res = distlab("cluster", "up", "--hosts", "3", "--rate", "50mbit")
    assert res.returncode == 0, res.stderr
    assert "h2  198.18.0.3" in res.stdout
    assert sorted(_namespaces()) == ["distlab-h0", "distlab-h1", "distlab-h2", "distlab-sw"]
    # a server on h2, a client on h0
    server = subprocess.Popen(
        [
            "ip",
            "netns",
            "exec",
            "distlab-h2",
            sys.executable,
            "-c",
            "import socket; s = socket.create_server(('198.18.0.3', 9999)); c, _ = s.accept(); "
            "c.sendall(b'hello from h2'); c.close()",
        ],  # fmt: skip
    )
    try:
        got = _in_host(
            "h0",
            "import socket, time\n"
            "for _ in range(50):\n"
            "    try:\n"
            "        c = socket.create_connection(('198.18.0.3', 9999), timeout=1); break\n"
            "    except OSError: time.sleep(0.1)\n"
            "print(c.recv(100).decode())",
        )
        assert got.stdout.strip() == "hello from h2", got.stderr
    finally:
        server.wait(10)
    # no route out: only the hosts' own subnet
    routes = subprocess.run(["ip", "-n", "distlab-h0", "route"], capture_output=True, text=True)
    assert routes.stdout.strip().splitlines() == [
        "198.18.0.0/24 dev eth0 proto kernel scope link src 198.18.0.1"
    ]
    unreachable = _in_host(
        "h0", "import socket; socket.create_connection(('10.0.0.1', 53), timeout=2)"
    )
    assert unreachable.returncode != 0 and "unreachable" in unreachable.stderr.lower()
    # the rate limit is on each host's link
    qdisc = subprocess.run(["ip", "netns", "exec", "distlab-h1", "tc", "qdisc", "show", "dev", "eth0"],
                           capture_output=True, text=True)  # fmt: skip
    assert "tbf" in qdisc.stdout and "50Mbit" in qdisc.stdout
    status = distlab("cluster", "status")
    assert "3 hosts" in status.stdout and "rate 50mbit" in status.stdout
    res = distlab("cluster", "down")
    assert res.returncode == 0 and "distlab-h0" in res.stdout
    assert _namespaces() == [] and not (state_dir / "hosts.json").exists()


def test_down_after_a_crash_stops_what_runs_on_the_hosts(state_dir):
    state = netns.up(2)
    # a process left running on a host, as after a crash of the run that started it
    orphan = subprocess.Popen(state.hosts[1].command(["sleep", "300"]), start_new_session=True)
    assert netns.namespace_pids("distlab-h1") == [orphan.pid]
    res = distlab("cluster", "down")
    assert res.returncode == 0, res.stderr
    assert orphan.wait(10) is not None and _namespaces() == []


def test_without_root_it_is_one_line_and_exit_2(state_dir):
    res = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "distlab.cli",
            "cluster",
            "up",
            "--hosts",
            "2",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: test hosts need root (network namespaces and veth pairs): run as root"
    ]


def test_loss_without_netem_is_one_line(state_dir):
    if netns.netem_available_here():
        pytest.skip("this kernel has netem: loss goes on the links")
    res = distlab("cluster", "up", "--hosts", "2", "--loss", "1%")
    assert res.returncode == 2 and "--loss needs netem" in res.stderr, res.stderr
    assert _namespaces() == []  # nothing half-made is left


def test_toxiproxy_adds_only_whole_milliseconds_each_way():
    assert [toxiproxy.each_way_ms(r) for r in (0, 2, 20, 40.0)] == [0, 1, 10, 20]
    for rtt in (1, 3, 0.5, 2.5):
        with pytest.raises(DistlabError, match="even number of ms"):
            toxiproxy.each_way_ms(rtt)


def test_an_rtt_the_links_cannot_carry_exactly_is_refused_up_front(state_dir):
    if netns.netem_available_here():
        pytest.skip("this kernel has netem: it delays the links by fractions of a ms")
    # refused before anything else is looked at (the bad size would be refused next)
    res = distlab("run", "--engines", "local", "--hosts", "3", "--rtt", "1", "--size", "nosuch")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "error: --rtt 1 ms cannot be applied exactly without netem" in res.stderr
    assert "must be an even number of ms (0, 2, 4, 6, ...)" in res.stderr
    for args in (["--rtt", "3"], ["--rtt", "2", "--repeats", "2"]):
        res = distlab("bench", "rtt", "--engines", "dask", *args)
        assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert "even number of ms" in res.stderr or "--repeats must be >= 3" in res.stderr
    assert _namespaces() == []  # nothing was made


def _rtt_point(rtt_ms: float, links: dict[str, str], rt_ms: list[float], rate: float) -> dict:
    """One point of a `distlab bench rtt` row, as the bench writes it."""
    jobs = [40.5 + 2 * rtt_ms, 41.0 + 2 * rtt_ms, 41.5 + 2 * rtt_ms]
    return {"rtt_ms": rtt_ms, "n": 100, "adapter_tasks_per_s": rate, "links": links,
            "adapter_samples_s": [100 / (rate * f) for f in (0.95, 1.0, 1.05)],
            "adapter_rt_ms": {"p50": rt_ms[len(rt_ms) // 2], "p99": max(rt_ms)},
            "rt_p50_samples_ms": rt_ms, "jobs_p50_samples_ms": jobs,
            "jobs_rr_ms": {"p50": jobs[1], "p99": jobs[2] + 4}}  # fmt: skip


def test_slopes_only_where_the_delay_was_carried_from_three_samples_with_their_range():
    links = {"driver -> scheduler": "Toxiproxy on h0 (20 ms round trip)",
             "workers <-> workers (data)": "not delayed: no netem here"}  # fmt: skip
    row = with_slopes({"engine": "dask", "points": [
        _rtt_point(0.0, links, [1.0, 1.2, 1.4], 1000.0),
        _rtt_point(20.0, links, [21.0, 22.2, 23.0], 500.0)]})  # fmt: skip
    assert row["delayed_links"] == ["driver -> scheduler"]
    assert row["rt_p50_ms_per_rtt_ms"] == pytest.approx(1.05)
    assert row["rt_p50_ms_per_rtt_ms_range"] == pytest.approx([(21.0 - 1.4) / 20, 1.1])
    assert row["jobs_p50_ms_per_rtt_ms"] == pytest.approx(2.0)
    lo, hi = row["tasks_per_s_loss_per_rtt_ms_range"]
    assert lo < row["tasks_per_s_loss_per_rtt_ms"] == pytest.approx(0.5 / 20)
    assert row["tasks_per_s_loss_per_rtt_ms"] < hi
    cells = rtt_cells(row)
    assert cells[5] == "1.05 [0.98–1.10]" and cells[3] == "1.20 [1.00–1.40]"
    # two samples at a point: no slope read from them
    short = with_slopes({"engine": "dask", "points": [
        _rtt_point(0.0, links, [1.0, 1.2], 1000.0),
        _rtt_point(20.0, links, [21.0, 23.0], 500.0)]})  # fmt: skip
    assert "rt_p50_ms_per_rtt_ms" not in short
    assert rtt_cells(short)[5] == "- (fewer than 3 samples)"
    # Ray's links here: its client fails its start-up through a proxy, and nothing else
    # can carry one; its figures at 0 and 20 ms differ by noise alone: no slope at all
    spared = {"driver -> head (Ray Client)": "not delayed: Ray Client fails its start-up"}
    ray = with_slopes({"engine": "ray", "points": [
        _rtt_point(0.0, spared, [1.0, 1.1, 1.2], 1000.0),
        _rtt_point(20.0, spared, [1.0, 1.05, 1.3], 990.0)]})  # fmt: skip
    assert ray["slopes_blank"] == NO_DELAYED_LINK and ray["delayed_links"] == []
    assert not [k for k in ray if "per_rtt_ms" in k]
    cells = rtt_cells(ray)
    assert cells[2] == cells[5] == cells[8] == f"- ({NO_DELAYED_LINK})"
    assert cells[-1].startswith("delayed: none")


def test_without_root_the_hosts_tests_fail_when_required(root, tmp_path):
    """What CI sets (DISTLAB_REQUIRE_ENGINES=1): a test that needs root, run without it,
    fails the run instead of skipping; without the switch it is skipped."""
    base = Path(tempfile.mkdtemp(prefix="distlab-nobody-"))
    base.chmod(0o777)  # pytest's own temporary directories, for the unprivileged user
    try:
        for required, outcome, wanted in (("1", 1, "1 error"), ("", 0, "1 skipped")):
            res = subprocess.run(
                ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                 sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 f"--basetemp={base / ('required' if required else 'plain')}",
                 f"{__file__}::test_down_after_a_crash_stops_what_runs_on_the_hosts"],
                capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1],
                env={**os.environ, ENV: required},
            )  # fmt: skip
            assert res.returncode == outcome, res.stdout[-2000:] + res.stderr[-2000:]
            assert wanted in res.stdout and NEED_ROOT in res.stdout, res.stdout[-2000:]
    finally:
        shutil.rmtree(base, ignore_errors=True)


RESOURCES = ("dask", "ray", "celery")


@pytest.mark.slow
def test_dask_ray_celery_kafka_spark_and_scoop_across_three_hosts_verify(state_dir, tmp_path):
    out = tmp_path / "run"
    res = distlab(
        "run", "--hosts", "3", "--engines", "dask,ray,celery,kafka,spark,scoop,local",
        "--workloads", "squares,numbers,gpu_queue",
        "--size", "tiny", "--repeats", "1", "--out", str(out), timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    for engine in ("dask", "ray", "celery", "kafka", "spark", "scoop"):
        cells = [c for c in doc["cells"] if c["engine"] == engine]
        # the engines that schedule by resources: the deployment's GPU units on h2
        wanted = ("squares", "numbers", "gpu_queue")[: 3 if engine in RESOURCES else 2]
        cells = [c for c in cells if c["workload"] in wanted]
        assert cells and all(c["status"] == "ok" and c["verified"] for c in cells), cells
        if engine == "scoop":
            continue  # no server: its address is the list of worker hosts (below)
        placed = doc["engines"][engine]["hosts"]
        assert placed["address"].split("://")[-1].startswith("198.18.0.2:")
        assert "h2" in placed["placement"].values()
    # Celery's workers are the deployment's (on h2), not ones the driver's engine started
    assert doc["engines"]["celery"]["hosts"]["placement"]["workers 1"] == "h2"
    assert doc["engines"]["celery"]["hosts"]["placement"]["gpu workers"] == "h2"
    assert doc["engines"]["dask"]["hosts"]["placement"]["workers 1.2"] == "h2"
    assert doc["engines"]["celery"]["describe"]["queue_of_workers_started_elsewhere"]
    # Kafka's broker on h1, its consumer group's workers on h2, the driver's engine
    # starting none of its own
    kafka = doc["engines"]["kafka"]
    assert kafka["hosts"]["placement"]["broker"] == "h1"
    assert kafka["hosts"]["placement"]["worker 1"] == "h2"
    assert kafka["describe"]["group_of_workers_started_elsewhere"] == "distlab-hosts-workers"
    # Spark: a standalone master on h1 and a worker on h2, the driver joining with spark://
    spark = doc["engines"]["spark"]
    assert spark["hosts"]["placement"] == {"master": "h1", "worker 1": "h2"}
    assert spark["describe"]["master"] == "spark://198.18.0.2:7077"
    # SCOOP: its launcher reached every host over ssh (an sshd distlab started in each),
    # its origin and broker on the driver's host h0, one worker on each other host
    scoop = doc["engines"]["scoop"]
    scoop_cells = [c for c in doc["cells"] if c["engine"] == "scoop"]
    assert [c["verified"] for c in scoop_cells if c["workload"] != "gpu_queue"] == [True] * 3
    assert scoop["hosts"]["placement"]["origin and broker"] == "h0"
    assert scoop["hosts"]["placement"]["workers 1 (1, over ssh)"] == "h1"
    assert scoop["hosts"]["placement"]["workers 2 (1, over ssh)"] == "h2"
    assert scoop["describe"]["address"] == "198.18.0.2,198.18.0.3"
    local = [c for c in doc["cells"] if c["engine"] == "local"]
    assert all(c["status"] == "unsupported" and "one machine" in c["reason"] for c in local)
    assert _namespaces() == []  # the run took its hosts down


def test_daft_on_a_ray_cluster_across_three_hosts_verifies_tpch(state_dir, tmp_path):
    """Daft's Ray runner on the Ray cluster deployed as the Ray engine's (head on h1, a
    node on h2), the driver on h0 joining through Ray Client. Two queries: a scan with an
    aggregate and a join behind a groupby (all seven: `distlab run --hosts 3`)."""
    out = tmp_path / "run"
    # Ray Client's proxier starts a server process per client, and on 2 busy cores that
    # start sometimes fails ("Initialization failure from server"; the Ray engine retries
    # it itself, Daft's runner cannot): a second deployment is then tried, once
    for attempt in (1, 2):
        res = distlab(
            "run", "--hosts", "3", "--engines", "daft", "--workloads", "tpch", "--size",
            "tiny", "--param", 'tpch.queries=["q1","q18"]', "--repeats", "1", "--out",
            str(out), timeout=300,
        )  # fmt: skip
        if attempt == 1 and "Initialization failure from server" in res.stdout:
            continue
        break
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    cells = doc["cells"]
    assert [c["variant"] for c in cells] == ["q1", "q18"]
    assert all(c["status"] == "ok" and c["verified"] for c in cells), cells
    daft = doc["engines"]["daft"]
    assert daft["hosts"]["placement"] == {"head": "h1", "node 1": "h2"}
    assert daft["describe"]["runner"] == "ray"
    assert daft["describe"]["address"] == "ray://198.18.0.2:10001"


def test_dramatiq_and_rq_across_three_hosts_verify_on_their_workers(state_dir, tmp_path):
    out = tmp_path / "run"
    res = distlab(
        "run", "--hosts", "3", "--engines", "dramatiq,rq", "--workloads", "squares",
        "--size", "tiny", "--repeats", "1", "--out", str(out), timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    cells = [c for c in doc["cells"] if c["engine"] in ("dramatiq", "rq")]
    assert len(cells) == 2 and all(c["status"] == "ok" and c["verified"] for c in cells), cells
    for engine in ("dramatiq", "rq"):
        placed = doc["engines"][engine]["hosts"]
        # Redis on h1, the queue's worker CLI on h2; the driver's engine started none
        assert placed["placement"] == {"redis": "h1", "workers 1": "h2"}, placed
        assert placed["address"] == "redis://198.18.0.2:6379/0"
        assert doc["engines"][engine]["describe"]["queue_of_workers_started_elsewhere"]
    assert _namespaces() == []


def test_flink_and_hadoop_clusters_across_three_hosts_verify_the_word_count(state_dir, tmp_path):
    out = tmp_path / "run"
    res = distlab(
        "run", "--hosts", "3", "--engines", "flink,mapreduce", "--workloads", "wordcount",
        "--size", "tiny", "--repeats", "1", "--out", str(out), timeout=900,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    cells = {(c["engine"], c["variant"]): c for c in doc["cells"]}
    assert {k: (c["status"], c["verified"]) for k, c in cells.items()} == {
        ("flink", "python"): ("ok", True),
        ("flink", "builtin"): ("ok", True),
        ("mapreduce", "python"): ("ok", True),
    }
    # Flink: a JobManager on h1 (the driver submits to its REST endpoint), a TaskManager
    # on h2 running the Python UDFs
    flink = doc["engines"]["flink"]
    assert flink["hosts"]["placement"] == {"jobmanager": "h1", "taskmanager 1": "h2"}
    assert flink["describe"]["address"] == "198.18.0.2:8081"
    assert flink["describe"]["mode"] == "remote"
    # Hadoop: NameNode, ResourceManager and JobHistoryServer on h1, a DataNode and a
    # NodeManager on h2 (the only one: every container of the job ran there)
    hadoop = doc["engines"]["mapreduce"]["hosts"]["placement"]
    assert hadoop == {"namenode": "h1", "resourcemanager": "h1", "jobhistoryserver": "h1",
                      "datanode 1": "h2", "nodemanager 1": "h2"}  # fmt: skip
    job = cells[("mapreduce", "python")]["metrics"]["job"]
    assert job["map_tasks"] == 4 and job["reduce_tasks"] == 2, job


@pytest.mark.slow
def test_cut_host_on_celery_and_kafka_loses_nothing_once_the_host_returns(state_dir, tmp_path):
    bad = distlab("run", "--engines", "celery", "--workloads", "squares", "--cut-host")
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "error: --cut-host needs --hosts: it takes one of the test hosts off the network"
    ], bad.stderr
    out = tmp_path / "cut"
    res = distlab(
        "run", "--hosts", "3", "--engines", "celery,kafka", "--workloads", "squares",
        "--size", "tiny", "--repeats", "1", "--cut-host", "--out", str(out), timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    for cell in doc["cells"]:
        fault = cell["fault"]
        assert cell["status"] == "ok" and cell["verified"], cell
        assert fault["kind"] == "host cut" and fault["host"] == "h2", fault
        # the host was really away for the whole cut, mid-run, and the run waited for it
        assert fault["down_s"] >= 5.0 and fault["in_flight"], fault
        assert fault["faulted_wall_s"] >= fault["down_s"], fault
        assert fault["lost"] == 0 and fault["finished"] == fault["tasks"], fault
        assert fault["after_restore_s"] is not None and "engine_noticed" in fault
    assert _namespaces() == []


@pytest.mark.slow
def test_a_round_trip_carries_the_asked_rtt_through_toxiproxy(state_dir):
    """No netem here: the delay is a Toxiproxy on the driver's host in front of the
    scheduler (and on each worker host); a task's round trip then takes at least the RTT."""
    from distlab.engines.dask import hosts as dask_hosts

    hosts = netns.up(3, rtt_ms=40.0)
    dep = dask_hosts.deploy(hosts, 2)
    try:
        if not hosts.netem:
            assert dep.links["driver -> scheduler"].startswith("Toxiproxy on h0")
            assert dep.address.startswith("tcp://127.0.0.1:")
            applied = [v for tp in dep.toxiproxies.values() for v in tp.applied_rtt_ms.values()]
            assert applied and set(applied) == {40}  # 20 whole ms each way
        out = dep.run_on_driver(
            "import time\n"
            "from distributed import Client\n"
            f"with Client({dep.address!r}, timeout=30) as c:\n"
            "    c.submit(abs, -1).result()\n"
            "    best = float('inf')\n"
            "    for i in range(5):\n"
            "        t = time.perf_counter(); c.submit(abs, -i, pure=False).result()\n"
            "        best = min(best, time.perf_counter() - t)\n"
            "    print(best * 1000)\n",
            timeout=120,
        )
        assert float(out.strip().splitlines()[-1]) >= 40.0
    finally:
        dep.stop()


def test_bench_rtt_measures_each_engine_at_0_ms_and_at_the_round_trip(state_dir, tmp_path):
    """One run: Dask, Celery and Kafka (its broker with a listener per client host, each
    advertising that host's proxy) deployed across 3 hosts at 0 ms (through the same
    proxies) and at 20 ms; every task needs at least one delayed round trip, so the one-task round
    trip and the jobs request/response round trip grow by at least about the delay; the
    report of that directory shows the table."""
    from distlab.report.choose import attach_benches
    from distlab.report.html_tables import rtt_html
    from distlab.results import Results

    res = distlab(
        # --query none: no dataframe row for Dask (its query rows are checked by hand:
        # `bench rtt --engines spark,dask,daft`, a minute more)
        "bench", "rtt", "--engines", "dask,celery,kafka", "--rtt", "20", "--n", "40",
        "--round-trips", "15", "--repeats", "3", "--query", "none", "--out", str(tmp_path),
        timeout=900,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    doc = json.loads((tmp_path / "bench-rtt.json").read_text())
    assert [r["engine"] for r in doc["rows"]] == ["dask", "celery", "kafka"]
    for row in doc["rows"]:
        assert "error" not in row, row
        base, delayed = row["points"]
        assert (base["rtt_ms"], delayed["rtt_ms"]) == (0.0, 20.0)
        assert delayed["adapter_rt_ms"]["p50"] >= base["adapter_rt_ms"]["p50"] + 15, row
        assert row["rt_p50_ms_per_rtt_ms"] >= 0.75 and row["delayed_links"], row
        # each slope from 3 samples a point, within the range their extremes allow
        assert len(base["rt_p50_samples_ms"]) == len(delayed["jobs_p50_samples_ms"]) == 3
        for slope in ("rt_p50_ms_per_rtt_ms", "jobs_p50_ms_per_rtt_ms"):
            lo, hi = row[f"{slope}_range"]
            assert lo <= row[slope] <= hi, (slope, row)
        assert delayed["adapter_tasks_per_s"] < base["adapter_tasks_per_s"]
        # the jobs request/response loop (a 40 ms job): each request crosses the delay
        assert base["jobs_rr_ms"]["p50"] >= 40, row
        assert delayed["jobs_rr_ms"]["p50"] >= base["jobs_rr_ms"]["p50"] + 15, row
        if not netns.netem_available_here():
            # the baseline went through the same proxies, without delay
            driver_link = next(v for k, v in base["links"].items() if k.startswith("driver"))
            assert driver_link.startswith("Toxiproxy on h0 (0 ms")
            assert (base["proxies_rtt_ms"], delayed["proxies_rtt_ms"]) == ([0], [20])
    html = rtt_html(attach_benches(Results(), tmp_path))
    assert 'id="rtt"' in html and "dask" in html and "celery" in html
    assert "RT p50 ms at 20 ms" in html and "RT ms per ms of RTT (range)" in html
    assert _namespaces() == []

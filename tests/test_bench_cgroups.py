"""The benchmark's cgroup readers (bench/cgroups.py), on sample trees laid out as cgroup v1 and v2 lay
out a container's files, with the files' formats as the kernel writes them (the values made up)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import cgroups
from tests.support.stand_ins import put_on_path

ID = "4f9c2a7e" * 8  # a container's full ID: 64 hex digits

V1_MEMORY_STAT = "cache 1052672\nrss 4096\nmapped_file 0\ntotal_cache 1052672\ntotal_rss 2093056\n"
V2_MEMORY_STAT = "anon 2093056\nfile 1052672\nkernel 184320\nanon_thp 0\n"
V2_CPU_STAT = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\nnr_periods 0\n"


def v1_tree(root: Path, folder: str) -> Path:
    """Per-controller hierarchies, cpuacct as most distributions mount it (a link to cpu,cpuacct).
    `folder`: the container's folder below each hierarchy."""
    memory = root / "memory" / folder
    memory.mkdir(parents=True)
    (memory / "memory.max_usage_in_bytes").write_text("7340032\n")
    (memory / "memory.stat").write_text(V1_MEMORY_STAT)
    cpu = root / "cpu,cpuacct" / folder
    cpu.mkdir(parents=True)
    (root / "cpuacct").symlink_to("cpu,cpuacct")
    (cpu / "cpuacct.usage").write_text("1234567000\n")
    return root


def v2_tree(root: Path, *folders: str) -> Path:
    """The unified hierarchy at the root, every controller's files in each container's one folder."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    for folder in folders:
        container = root / folder
        container.mkdir(parents=True, exist_ok=True)
        (container / "memory.peak").write_text("7340032\n")
        (container / "memory.current").write_text("5242880\n")
        (container / "memory.stat").write_text(V2_MEMORY_STAT)
        (container / "cpu.stat").write_text(V2_CPU_STAT)
    return root


DRIVERS = {"cgroupfs": f"docker/{ID}", "systemd": f"system.slice/docker-{ID}.scope"}


@pytest.mark.parametrize("make_tree", [v1_tree, v2_tree], ids=["v1", "v2"])
@pytest.mark.parametrize("driver", sorted(DRIVERS))
def test_each_version_and_driver_reads_the_same_figures(tmp_path, make_tree, driver):
    root = make_tree(tmp_path, DRIVERS[driver])
    assert cgroups.is_v2(root) == (make_tree is v2_tree)
    assert cgroups.peak_memory_bytes(ID, root) == 7340032
    assert cgroups.rss_bytes(ID, root) == 2093056, "v1 total_rss (the subtree's), v2 anon"
    assert cgroups.cpu_ns_each([ID], root) == {ID: 1_234_567_000}, "v2's microseconds in nanoseconds"
    assert cgroups.cpu_ns([ID], root) == 1_234_567_000


def test_a_hybrid_machine_is_read_as_v1(tmp_path):
    """v2 mounted beside the v1 hierarchies (systemd's hybrid layout) holds no controllers Docker uses."""
    root = v1_tree(tmp_path, DRIVERS["cgroupfs"])
    (root / "unified").mkdir()
    (root / "unified" / "cgroup.controllers").write_text("")
    assert not cgroups.is_v2(root)
    assert cgroups.peak_memory_bytes(ID, root) == 7340032


def test_the_sampler_keeps_the_peak_of_each_groups_sum(tmp_path):
    other = "9b1d" * 16
    root = v2_tree(tmp_path, DRIVERS["systemd"], f"system.slice/docker-{other}.scope")
    stat = root / DRIVERS["systemd"] / "memory.stat"
    sampler = cgroups.RssSampler({"ours": [ID, other], "gone": ["0" * 64]}, root=root)
    sampler.sample()
    stat.write_text(V2_MEMORY_STAT.replace("anon 2093056", "anon 1000"))
    sampler.sample()
    assert sampler.peak["ours"] == 2 * 2093056
    assert sampler.peak["gone"] == 0, "a container that is not there (any more) is skipped"


# `docker exec ID cat PATH`, answered from the container's view of /sys/fs/cgroup in $VIEW.
FAKE_DOCKER = """#!/bin/sh
[ "$1" = exec ] && [ "$2" = "$RUNNING" ] && [ "$3" = cat ] || { echo "Error: No such container: $2" >&2; exit 1; }
exec cat "$VIEW$4"
"""


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_without_a_folder_on_the_machine_the_containers_own_view_is_read(tmp_path, monkeypatch, version):
    """A layout neither driver makes (rootless Docker, another runtime): each reader asks the container
    for its own files, which sit under their hierarchy on v1 and at the top of its namespace on v2."""
    put_on_path(tmp_path / "bin", monkeypatch, docker=FAKE_DOCKER)
    view = tmp_path / "view"
    if version == "v1":
        v1_tree(view / "sys" / "fs" / "cgroup", "")
        machine = tmp_path / "machine"
        (machine / "memory").mkdir(parents=True)
    else:
        v2_tree(view / "sys" / "fs" / "cgroup", "")
        machine = tmp_path / "machine"
        machine.mkdir()
        (machine / "cgroup.controllers").write_text("cpu memory\n")
    monkeypatch.setenv("VIEW", str(view))
    monkeypatch.setenv("RUNNING", ID)
    assert cgroups.peak_memory_bytes(ID, machine) == 7340032
    assert cgroups.rss_bytes(ID, machine) == 2093056
    assert cgroups.cpu_ns_each([ID], machine) == {ID: 1_234_567_000}
    with pytest.raises(RuntimeError, match=r"cannot read /sys/fs/cgroup/\S+ of 000000000000: Error: No such container"):
        cgroups.peak_memory_bytes("0" * 64, machine)

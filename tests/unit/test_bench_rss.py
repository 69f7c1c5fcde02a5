"""bench/rss.py: a process group's memory, read from /proc (what make bench-emulator reports
per function instance)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from bench.rss import PeakSampler, group_memory, group_pids

# A parent that holds 64 MiB and a child that holds 32 MiB, both in one new session.
HOLDER = """
import subprocess, sys, time
held = b"x" * (64 * 2**20)  # written, so resident
child = subprocess.Popen([sys.executable, "-c",
    "import time; held = b'x' * (32 * 2**20); print('ready', flush=True); time.sleep(60)"],
    stdout=subprocess.PIPE)
child.stdout.readline()
print("ready", flush=True)
time.sleep(60)
"""

pytestmark = pytest.mark.skipif(not Path("/proc/self/smaps_rollup").exists(), reason="Linux /proc")


@pytest.fixture
def holder() -> Iterator[int]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == b"ready"
        yield process.pid
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_a_group_is_its_leader_and_every_child(holder: int) -> None:
    pids = group_pids(holder)
    assert holder in pids
    assert len(pids) == 2
    assert group_pids(-1) == []


def test_a_groups_memory_counts_what_each_process_holds(holder: int) -> None:
    used = group_memory(holder)
    assert used.processes == 2
    assert used.pss_kib >= 96 * 1024  # 64 + 32 MiB touched, each private
    assert used.hwm_kib >= used.pss_kib  # resident peaks also count shared pages


def test_the_sampler_keeps_the_highest_sample_per_group(holder: int) -> None:
    with PeakSampler({"holder": holder}, interval_seconds=0.01) as sampler:
        sampler.sample()
    assert sampler.peak_pss_kib["holder"] >= 96 * 1024
    assert sampler.peak_pss_kib["holder"] >= sampler.last["holder"].pss_kib
    assert sampler.last["holder"].processes == 2


def test_a_process_that_is_gone_counts_nothing() -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"], start_new_session=True)
    finished.wait()
    assert group_memory(finished.pid).processes == 0

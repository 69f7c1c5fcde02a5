"""Resident memory of a process group, read from /proc (Linux; no extra dependency).

Every server of the local stack runs in its own process group (stratus.local.processes),
so a function instance is its group: functions-framework's server and any child it forks.
Two figures per group:

- the sampled peak of its proportional set size (Pss, /proc/<pid>/smaps_rollup), summed
  over the group: pages shared between the processes (functions-framework imports the
  function in gunicorn's arbiter, then forks the worker) count once, as in the
  container's memory accounting. This is what the instance needs;
- each process' own high-water mark (VmHWM: the kernel's peak resident set since the
  process started) summed: an upper bound that counts shared pages twice.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class GroupMemory:
    processes: int
    hwm_kib: int  # sum of VmHWM
    pss_kib: int  # sum of Pss now


def group_pids(group: int) -> list[int]:
    """The live processes whose process group is `group`."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone since the listing
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == group:
            found.append(int(entry.name))
    return sorted(found)


def status_kib(pid: int, field: str, source: str = "status") -> int:
    """A `kB` field of /proc/<pid>/status (VmHWM, VmRSS) or of another such file
    (smaps_rollup: Pss); 0 for a process that is gone."""
    try:
        lines = (PROC / str(pid) / source).read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    return 0


def group_memory(group: int) -> GroupMemory:
    pids = group_pids(group)
    return GroupMemory(
        processes=len(pids),
        hwm_kib=sum(status_kib(pid, "VmHWM") for pid in pids),
        pss_kib=sum(status_kib(pid, "Pss", "smaps_rollup") for pid in pids),
    )


class PeakSampler:
    """Samples the named process groups in a thread: `peak_pss_kib` is the highest summed
    Pss seen per name (a spike shorter than the interval can be missed), `last` the
    latest sample (its VmHWM sum only grows)."""

    def __init__(self, groups: Mapping[str, int], interval_seconds: float = 0.2) -> None:
        self.groups = dict(groups)
        self.interval = interval_seconds
        self.peak_pss_kib: dict[str, int] = {}
        self.last: dict[str, GroupMemory] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()  # the state at the end counts too

    def sample(self) -> None:
        for name, group in self.groups.items():
            now = self.last[name] = group_memory(group)
            self.peak_pss_kib[name] = max(self.peak_pss_kib.get(name, 0), now.pss_kib)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

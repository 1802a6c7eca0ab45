"""The server's process tree as /proc shows it: who belongs to it, their memory and CPU time."""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.common import median

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants, from the ppid of every /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(entry.name)[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we looked
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def training_workers(root: int) -> list[int]:
    """The training worker processes under the server (multiprocessing's spawned children)."""
    out = []
    for pid in process_tree(root):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            out.append(pid)
    return out


def vm_rss_kb(pid: int) -> int:
    """Resident set size of one process in KiB (0 if it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mb(root: int, reads: int = 3) -> float:
    """VmRSS summed over the whole process tree under `root`, in MiB; median of a few reads."""
    return median([sum(vm_rss_kb(pid) for pid in process_tree(root)) / 1024 for _ in range(reads)])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by these processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS

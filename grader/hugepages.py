"""Keep the heap of the processes we fork on 2 MiB pages: forks and exits cost less.

A batch slot forks a process per submission and its zygote one or two per student worker,
each a copy of a heap of ~180 MiB that importing torch leaves. A fork copies the page
table entries of that heap and takes a reference on every page they map; an exit drops
them again. On 2 MiB pages there are 512 times fewer entries. Two things put the heap
there:

- :func:`with_huge_pages`: glibc's malloc on transparent huge pages, read when a process
  starts (so it is set in the environment of the slot and the zygote);
- :func:`collapse`: what malloc does not cover (Python's own object arenas, torch's
  mappings) is collapsed onto huge pages once the process has loaded what it keeps, with
  ``madvise(MADV_COLLAPSE)`` (Linux 6.1). Here a fork of the zygote went from 6.4 to 3.0 ms
  and a fork with its exit from 15.8 to 9.4 ms (``benchmarks/jail_benchmark.py`` shows
  the whole worker).

Where the kernel has huge pages off or predates the call, or glibc predates the tunable
(2.35), nothing changes and nothing fails: both only make forks cheaper.
"""

from __future__ import annotations

import ctypes
import os
import sys

MADV_COLLAPSE = 25
HUGE_PAGE = 2 << 20
TUNABLE = "glibc.malloc.hugetlb=1"


def with_huge_pages(tunables: str) -> str:
    """``tunables`` (a GLIBC_TUNABLES value) with malloc on transparent huge pages."""
    parts = [p for p in tunables.split(":") if p and not p.startswith("glibc.malloc.hugetlb=")]
    return ":".join([*parts, TUNABLE])


def anonymous_ranges(maps: str) -> list[tuple[int, int]]:
    """The 2 MiB-aligned parts of the private writable anonymous mappings (and the heap) in
    ``maps`` (the text of /proc/self/maps): where a fork copies page tables."""
    ranges = []
    for line in maps.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[1][:2] != "rw" or fields[1][3:4] != "p":
            continue
        if len(fields) > 5 and fields[5] != "[heap]":
            continue  # a file's data, a stack or the vdso: small, or not ours to change
        low, high = (int(x, 16) for x in fields[0].split("-"))
        start = (low + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1)
        end = high & ~(HUGE_PAGE - 1)
        if end > start:
            ranges.append((start, end))
    return ranges


def collapse() -> int:
    """Collapse this process's anonymous memory onto huge pages; how many ranges took it.

    Costs ~0.1 s for a torch process: call it once the process has loaded what it keeps
    and before it forks, not per fork."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return 0
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    done = 0
    for start, end in anonymous_ranges(maps):
        # A range may fail (EINVAL on an old kernel, EAGAIN on pages in use): it keeps its
        # small pages, which are only slower to fork.
        if madvise(start, end - start, MADV_COLLAPSE) == 0:
            done += 1
    return done


def huge_pages_in_use() -> int:
    """Bytes of this process's anonymous memory on huge pages (AnonHugePages), 0 if unknown."""
    try:
        with open(f"/proc/{os.getpid()}/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0

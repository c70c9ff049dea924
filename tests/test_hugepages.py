"""The heap of the processes we fork is collapsed onto huge pages: cheaper forks, same process."""

import os
import sys
from pathlib import Path

import pytest

from grader.hugepages import HUGE_PAGE, anonymous_ranges, collapse, huge_pages_in_use

MAPS = """\
55d0c0a00000-55d0c0c35000 rw-p 00000000 00:00 0                          [heap]
7f0000001000-7f0000600000 rw-p 00000000 00:00 0
7f0000600000-7f0000700000 rw-p 00000000 00:00 0
7f1000000000-7f1000400000 r--p 00000000 00:00 0
7f2000000000-7f2000400000 rw-s 00000000 00:05 12                         /dev/zero (deleted)
7f3000000000-7f3000400000 rw-p 00443000 fe:00 26933                      /usr/lib/libpython3.11.so
7ffd00000000-7ffd00400000 rw-p 00000000 00:00 0                          [stack]
"""


def test_only_private_writable_anonymous_memory_and_the_heap_in_whole_huge_pages():
    assert anonymous_ranges(MAPS) == [
        (0x55D0C0A00000, 0x55D0C0C00000),  # the heap, cut at its last whole huge page
        (0x7F0000200000, 0x7F0000600000),  # rounded in at both ends
    ]  # not: under 2 MiB, read-only, shared, a library's data, the stack
    for start, end in anonymous_ranges(MAPS):
        assert start % HUGE_PAGE == 0 and end % HUGE_PAGE == 0


def _thp_enabled() -> bool:
    try:
        return "[never]" not in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _thp_enabled(), reason="no transparent huge pages here")
def test_collapse_puts_a_heap_on_huge_pages_and_the_process_forks_as_before():
    import torch

    keep = [torch.randn(64, 64) for _ in range(2000)]  # ~32 MiB of small allocations
    before = huge_pages_in_use()
    done = collapse()
    after = huge_pages_in_use()
    if done == 0:
        pytest.skip("this kernel refuses MADV_COLLAPSE (before Linux 6.1)")
    assert after > before
    total = float(sum(t.sum() for t in keep))
    pid = os.fork()
    if pid == 0:  # the child sees the same memory
        os._exit(0 if float(sum(t.sum() for t in keep)) == total else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

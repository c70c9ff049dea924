"""What a student worker prints: kept as its first and last part, never a reason to fail.

The worker's stdout and stderr are a pipe. Its keeper (the trusted process that waits for it,
outside its jail; see grader.jail) reads the pipe into the worker's log file: the first
half of the cap as it comes, then only the latest output, the middle replaced by one line
saying how much was dropped. A correct function that prints megabytes per call is graded
like a quiet one; the grader shows the log's tail when a worker dies.
"""

from __future__ import annotations

import os
import resource
import select
import signal
import time

# How often, at most, the kept tail is written back to the log while output flows.
FLUSH_SECONDS = 0.2


class CappedLog:
    """A log file holding the first ``cap // 2`` bytes written and the last ``cap // 2``."""

    def __init__(self, path: str, cap: int):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self.head_left = cap // 2
        self.tail_cap = cap - cap // 2
        self.head_bytes = 0
        self.tail = bytearray()
        self.dropped = 0
        self.dirty = False
        self.flushed_at = 0.0

    def write(self, data: bytes) -> None:
        if self.head_left:
            head = data[: self.head_left]
            os.pwrite(self.fd, head, self.head_bytes)
            self.head_bytes += len(head)
            self.head_left -= len(head)
            data = data[len(head) :]
        if data:
            self.tail += data
            excess = len(self.tail) - self.tail_cap
            if excess > 0:
                self.dropped += excess
                del self.tail[:excess]
            self.dirty = True
            if time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
                self.flush()

    def flush(self) -> None:
        if not self.dirty:
            return
        marker = f"\n[... {self.dropped:,} bytes of output dropped ...]\n".encode() if self.dropped else b""
        os.pwrite(self.fd, marker + bytes(self.tail), self.head_bytes)
        os.ftruncate(self.fd, self.head_bytes + len(marker) + len(self.tail))
        self.dirty = False
        self.flushed_at = time.monotonic()


def keep(child: int, read_fd: int, log_path: str, cap: int) -> None:
    """The keeper's loop: copy ``child``'s output into its capped log until it ends, then end
    the same way it did (so the zygote reports how the worker ended). Never returns."""
    # Nothing else of the zygote's stays open here: above all not the worker's socket,
    # whose EOF must reach the grader when the worker dies.
    os.closerange(3, read_fd)
    os.closerange(read_fd + 1, max_fd())
    log = CappedLog(log_path, cap)
    status = None
    open_pipe = True
    while status is None or open_pipe:
        if open_pipe:
            ready, _, _ = select.select([read_fd], [], [], 0.05)
            if ready:
                try:
                    data = os.read(read_fd, 1 << 16)
                except OSError:
                    data = b""
                if data:
                    log.write(data)
                else:
                    open_pipe = False
        else:
            time.sleep(0.05)
        if status is None:
            status = _reaped(child)
            if status is not None:
                # The worker is gone: read what is already in the pipe, and no more (a
                # process it left behind, outside a PID namespace, may hold the pipe open).
                open_pipe = open_pipe and _drain(read_fd, log)
                open_pipe = False
    log.flush()
    mirror(status)


def max_fd() -> int:
    """Above the highest file descriptor this process may hold."""
    try:
        return min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1 << 16)
    except (ValueError, OSError):
        return 4096


def _reaped(child: int) -> int | None:
    try:
        pid, status = os.waitpid(child, os.WNOHANG)
    except ChildProcessError:
        return 70 << 8
    return status if pid else None


def _drain(read_fd: int, log: CappedLog) -> bool:
    os.set_blocking(read_fd, False)
    while True:
        try:
            data = os.read(read_fd, 1 << 16)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        log.write(data)


def mirror(status: int) -> None:
    """End this process as the waited-for child ended. Never returns."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 70)

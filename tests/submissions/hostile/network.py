"""Tries to open a network connection at import; must not get one."""
import socket

try:
    socket.create_connection(("127.0.0.1", 9), timeout=1).close()
    REACHED = "network reachable"
except OSError as exc:
    REACHED = f"no network: {exc}"


def softmax(x, dim=-1):
    raise RuntimeError(REACHED)

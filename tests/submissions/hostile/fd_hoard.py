"""Hostile: opens pipes until refused (each may hold kernel memory the address-space cap
does not count) and says how many it got."""
import os


def softmax(x, dim=-1):
    held = []
    try:
        while len(held) < 20000:
            held.append(os.pipe())
    except OSError as exc:
        raise RuntimeError(f"held {len(held)} pipes: {exc.strerror}") from None
    raise RuntimeError(f"held {len(held)} pipes")

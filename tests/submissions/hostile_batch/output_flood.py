"""Prints megabytes at import and in calls (stdout, stderr, raw fds), raises an exception
with a megabyte-long message, and answers softmax with a 1.2 GB tensor (over the reply cap, which must refuse it unread)."""
# ---- the attack ----
def attack():
    block = "hbx flood " * 100_000  # 1 MB
    for i in range(8):
        try:
            print(block, flush=True)
            print(block, file=sys.stderr, flush=True)
            os.write(1, block.encode())
        except OSError as exc:
            _note(f"print #{i}", exc.strerror)
            break


def softmax(x, dim=-1):
    attack()
    if x.numel() > 4:
        return torch.ones(300_000_000)  # a 1.2 GB reply
    raise NotImplementedError("hbx " * 300_000)


_try("attack at import", attack)
attack_in_call = attack

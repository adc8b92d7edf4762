"""Targets: where a program runs, and which build it runs from.

  local              the host's own build (build/<variant>/), run directly
  musl               the host arch built against musl (build/<variant>-<arch>-musl/),
                     run directly
  qemu-<arch>        a cross build (build/<variant>-<arch>/, static), run as
                     `qemu-<arch> prog` (aarch64, riscv64)
  vm:ARCH[?cpus=N&mem=MIB&accel=A&name=N]
                     a guest booted here from Debian packages (sqlib/vm.py),
                     reached like an ssh target
  ssh://[user@]host[:port][?arch=A&libc=L&key=FILE]
                     a build for arch/libc (default: the host's, glibc), its
                     binaries copied to the remote machine over ssh and run
                     there under `timeout`, in their own process group; the
                     exit status, stdout and stderr come back

A target knows which build it needs (mk/arch.mk's ARCH and LIBC), what runs
a program there, and what it cannot do (ptrace its guest, run a local
preexec hook). A limit on the program's address space (run's limit_as) is
the target's to apply: RLIMIT_AS locally, `ulimit -v` over ssh, and under
qemu-user a reserved guest address space (-R), so that the emulator's own
memory stays out of it.
"""
import hashlib
import os
import platform
import shlex
import signal
import subprocess
import urllib.parse

from . import BUILD, ROOT, proc

# The host's arch in mk/arch.mk's spelling (the BSDs and macOS say amd64, arm64).
HOST_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine(), platform.machine())
ARCHES = ["x86_64", "aarch64", "riscv64"]
NO_PTRACE = "qemu-user cannot ptrace its guest"


class Unsupported(Exception):
    """The target cannot run this the way the test asks; the reason says why."""


def _popen(cmd, env, timeout, preexec=None, stdin=None, progress=None, limit=None):
    r = proc.run(cmd, env, timeout, preexec, stdin, progress=progress, limit=limit)
    return r.rc, r.stdout, r.stderr, r.timed_out


class Target:
    """Where programs run, and which build they run from.

    arch, libc: the build (make ARCH=... LIBC=...); slowdown: how much longer
    than natively a program takes here (timeouts are multiplied by it)."""
    kind = "local"
    can_ptrace = True
    slowdown = 1

    def __init__(self, name, arch=HOST_ARCH, libc="glibc"):
        if arch not in ARCHES and arch != HOST_ARCH:
            raise ValueError(f"unknown arch {arch!r}; one of: {', '.join(ARCHES)}")
        if libc not in ("glibc", "musl"):
            raise ValueError(f"unknown libc {libc!r}; one of: glibc, musl")
        self.name, self.arch, self.libc = name, arch, libc

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"

    @property
    def host_native(self):
        """The host's own build, run on the host: what the host-only tools see."""
        return self.kind == "local" and self.arch == HOST_ARCH and self.libc == "glibc"

    @property
    def suffix(self):
        """mk/arch.mk's build directory suffix."""
        if self.libc == "musl":
            return f"-{self.arch}-musl"
        return "" if self.arch == HOST_ARCH else f"-{self.arch}"

    def build_dir(self, variant):
        return os.path.join(BUILD, variant + self.suffix)

    def make_vars(self):
        return [f"ARCH={self.arch}", f"LIBC={self.libc}"]

    def check(self):
        """None when this target can run here, else the reason it cannot."""
        return None

    def prefix(self, limit_as=None):
        """What a program's command line starts with on this target."""
        return []

    def run(self, cmd, env=None, timeout=60, preexec=None, limit_as=None, progress=None, limit=None):
        """Run cmd (local paths) with env on top of the environment, its
        address space limited to limit_as bytes if given, the target's way
        (here through prefix(); LocalTarget and SshTarget do it their own).
        With progress (a predicate on stderr lines), timeout is the longest
        the program may go without a progress line, and limit (default 10 x
        timeout) bounds the whole run (proc.run). Returns (rc, stdout,
        stderr, timed_out); rc < 0: killed by that signal."""
        return _popen(self.prefix(limit_as) + list(cmd), proc.clean_env(env), timeout, preexec,
                      progress=progress, limit=limit)

    def close(self):
        pass


class LocalTarget(Target):
    """The host runs the program itself: the host's build, or musl's."""

    def run(self, cmd, env=None, timeout=60, preexec=None, limit_as=None, progress=None, limit=None):
        if limit_as is not None:
            preexec = _with_as_limit(preexec, limit_as)
        return super().run(cmd, env, timeout, preexec, progress=progress, limit=limit)

    def check(self):
        if self.arch != HOST_ARCH:
            return f"a {self.arch} build does not run on this {HOST_ARCH} host directly"
        if self.libc == "musl" and not os.path.exists(f"/usr/lib/{self.arch}-linux-musl/libc.a"):
            return "musl is not installed (sh mk/deps.sh cross)"
        return None


class QemuTarget(Target):
    """A cross build run under qemu-user (static binaries: no -L sysroot)."""
    kind = "qemu"
    can_ptrace = False
    slowdown = 8

    def __init__(self, arch):
        super().__init__(f"qemu-{arch}", arch, "glibc")
        self.emu = f"qemu-{arch}"

    def check(self):
        if not _which(self.emu):
            return f"{self.emu} is not installed (sh mk/deps.sh cross)"
        cc = {"aarch64": "aarch64-linux-gnu-gcc", "riscv64": "riscv64-linux-gnu-gcc"}.get(self.arch)
        if cc and not _which(cc):
            return f"the {self.arch} cross toolchain is not installed (sh mk/deps.sh cross)"
        return None

    def run(self, cmd, env=None, timeout=60, preexec=None, limit_as=None, progress=None, limit=None):
        # The resident memory of a program under qemu-user is the emulator's
        # (outside.h's leak probe leaves it out).
        return super().run(cmd, dict(env or {}, SC_LEAK_RSS="0"), timeout, preexec, limit_as, progress, limit)

    def prefix(self, limit_as=None):
        # RLIMIT_AS would bound qemu itself (its translation buffers, glib),
        # and qemu, not the guest, would be the one to run out. -R bounds the
        # guest's address space alone.
        return [self.emu] + ([] if limit_as is None else ["-R", str(limit_as)])


class SshTarget(Target):
    """A remote machine over ssh. Binaries are copied on first use (tar over
    the ssh connection; nothing else needed remotely but sh, tar, timeout),
    into a directory of their own that close() removes. Each run is
    `timeout -s ABRT -k 5 T prog` there: on expiry the program's process
    group gets SIGABRT (the runtime's dump), then SIGKILL, so a hang does
    not outlive its test even when the connection is lost."""
    kind = "ssh"
    slowdown = 2

    def __init__(self, spec):
        u = urllib.parse.urlsplit(spec)
        if u.scheme != "ssh" or not u.hostname:
            raise ValueError(f"bad ssh target {spec!r}: ssh://[user@]host[:port][?arch=A&libc=L&key=FILE]")
        q = dict(urllib.parse.parse_qsl(u.query))
        bad = set(q) - {"arch", "libc", "key"}
        if bad:
            raise ValueError(f"bad ssh target {spec!r}: unknown {', '.join(sorted(bad))}")
        super().__init__(spec, q.get("arch", HOST_ARCH), q.get("libc", "glibc"))
        self.host, self.port, self.user, self.key = u.hostname, u.port or 22, u.username, q.get("key")
        # One control socket per target: two hosts must not share a master.
        ident = hashlib.sha1(f"{os.uname().nodename}:{ROOT}:{os.getpid()}:{spec}".encode()).hexdigest()[:12]
        self.rdir = f"/tmp/sqtest-{ident}"
        self.shipped = {}
        self.ctl = f"/tmp/sqssh-{ident}"

    def ssh_argv(self, *extra):
        a = ["ssh", "-p", str(self.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10",
             "-o", "ControlMaster=auto", "-o", f"ControlPath={self.ctl}", "-o", "ControlPersist=60"]
        if self.key:
            a += ["-i", self.key, "-o", "IdentitiesOnly=yes"]
        return a + list(extra) + [f"{self.user}@{self.host}" if self.user else self.host]

    def sh(self, script, timeout=60, stdin=None):
        """Run a shell script remotely: (rc, stdout, stderr, timed_out)."""
        return _popen(self.ssh_argv() + [script], dict(os.environ), timeout, stdin=stdin)

    def check(self):
        if not _which("ssh"):
            return "ssh is not installed (sh mk/deps.sh ssh)"
        rc, out, err, _ = self.sh("uname -m", timeout=30)
        if rc != 0:
            return f"cannot reach {self.name}: {err.strip()[-300:]}"
        if out.strip() != self.arch:
            return f"{self.name} is {out.strip()}, the build is {self.arch}"
        return None

    def remote(self, path):
        """The remote path of a local file (under ROOT, or absolute)."""
        rel = os.path.relpath(path, ROOT)
        rel = rel if not rel.startswith("..") else "abs" + os.path.abspath(path)
        return f"{self.rdir}/{rel}"

    @staticmethod
    def shippable(c):
        """A local file the program needs copied over: the remote system's
        own programs (/bin/true, /usr/bin/...) are its own."""
        return (os.path.isabs(c) and os.path.isfile(c)
                and not c.startswith(("/bin/", "/sbin/", "/usr/", "/lib/", "/etc/")))

    def ship(self, paths):
        """Copy local files there (again if they changed since)."""
        todo = []
        for p in paths:
            st = os.stat(p)
            if self.shipped.get(p) != (st.st_mtime_ns, st.st_size):
                todo.append(p)
        if not todo:
            return
        tar = subprocess.run(["tar", "-C", "/", "-cf", "-"] + [os.path.abspath(p).lstrip("/") for p in todo],
                             stdout=subprocess.PIPE, check=True).stdout
        # Unpack beside, then move into place: a program being replaced may be running.
        script = (f"set -e; mkdir -p {self.rdir}/.in && cd {self.rdir}/.in && tar -xf - && "
                  + " && ".join(f"mkdir -p {shlex.quote(os.path.dirname(self.remote(p)))} && "
                                f"mv -f {shlex.quote(os.path.abspath(p).lstrip('/'))} {shlex.quote(self.remote(p))}"
                                for p in todo))
        p = subprocess.run(self.ssh_argv() + [script], input=tar, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"copying to {self.name} failed: {p.stderr.decode(errors='replace')[-2000:]}")
        for q in todo:
            st = os.stat(q)
            self.shipped[q] = (st.st_mtime_ns, st.st_size)

    def fetch(self, rpath, into):
        """Bring a remote file or directory back under the local directory into."""
        os.makedirs(into, exist_ok=True)
        p = subprocess.run(self.ssh_argv() + [f"tar -C {shlex.quote(os.path.dirname(rpath))} -cf - "
                                              f"{shlex.quote(os.path.basename(rpath))}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"fetching {rpath} from {self.name} failed: {p.stderr.decode(errors='replace')}")
        subprocess.run(["tar", "-C", into, "-xf", "-"], input=p.stdout, check=True)
        return os.path.join(into, os.path.basename(rpath))

    def run(self, cmd, env=None, timeout=60, preexec=None, limit_as=None, progress=None, limit=None):
        """Over ssh the watchdog is the remote timeout(1): with progress it
        gets the whole run's limit (limit, or 10 x timeout), since lines
        arrive here in bursts, not as the program prints them."""
        # A preexec hook runs here; one that says what it does in sh
        # (hook.sq_shell = "ulimit -c 0") is done there instead.
        shell = getattr(preexec, "sq_shell", None)
        if preexec is not None and shell is None:
            raise Unsupported("a preexec hook (setrlimit, ...) runs on the local host only, not over ssh")
        if progress is not None:
            timeout = limit or 10 * timeout
        local = [c for c in cmd if self.shippable(c)]
        self.ship(local)
        argv = [self.remote(c) if c in local else c for c in cmd]
        envs = " ".join(shlex.quote(f"{k}={v}") for k, v in sorted((env or {}).items()))
        t = max(1, int(timeout))
        ulimit = ("" if limit_as is None else f"ulimit -v {limit_as // 1024} && ") + (f"{shell} && " if shell else "")
        script = (f"mkdir -p {self.rdir} && cd {self.rdir} && {ulimit}env {envs} timeout -s ABRT -k 5 {t} "
                  f"{' '.join(shlex.quote(a) for a in argv)}; printf '\\nSQTEST-EXIT %d\\n' $?")
        rc, out, err, local_to = _popen(self.ssh_argv() + [script], dict(os.environ), t + 30)
        head, sep, tail = out.rpartition("\nSQTEST-EXIT ")
        if not sep:
            if local_to:
                return -signal.SIGKILL, out, err, True
            raise RuntimeError(f"ssh to {self.name} failed (exit {rc}): {err.strip()[-2000:]}")
        status = int(tail.split()[0])
        if status == 124:	# timeout(1): the program ran out of time
            return -signal.SIGABRT, head, err, True
        if status > 128:	# killed by a signal, as the remote shell says it
            return -(status - 128), head, err, False
        return status, head, err, False

    def close(self):
        self.sh(f"rm -rf {self.rdir}", timeout=60)
        subprocess.run(self.ssh_argv("-O", "exit"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _with_as_limit(preexec, limit):
    """A preexec hook that limits RLIMIT_AS, then runs preexec."""
    import resource

    def hook():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if preexec is not None:
            preexec()
    return hook


def _which(tool):
    return any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":") if d)


def target(spec):
    """The Target a --target spelling names."""
    if spec in ("local", HOST_ARCH):
        return LocalTarget("local")
    if spec == "musl":
        return LocalTarget("musl", HOST_ARCH, "musl")
    if spec.startswith("qemu-") and spec[5:] in ARCHES:
        return QemuTarget(spec[5:])
    if spec.startswith("ssh://"):
        return SshTarget(spec)
    if spec.startswith("vm:"):	# guests booted here (sqlib/vm.py: QEMU, images)
        from . import vm
        return vm.VmTarget(spec)
    raise ValueError(f"unknown target {spec!r}: local, musl, "
                     f"{', '.join('qemu-' + a for a in ARCHES if a != HOST_ARCH)}, vm:ARCH, "
                     f"or ssh://[user@]host[:port]")


LOCAL = LocalTarget("local")

"""VM targets (sqlib.vm): real kernels, booted here, for pytest and the campaign.

    vm:ARCH[?cpus=N&mem=MIB&accel=auto|kvm|tcg&name=NAME]

ARCH is x86_64 or aarch64. A guest boots from a Debian kernel and a root
file system made of Debian packages (tools/vm/mkimage.py, cached under
build/vm/<arch>-<key>/), and a VmTarget is an SshTarget whose machine is
that guest: binaries are copied in over ssh on first use, each program
runs under `timeout` in its own process group there, and exit status,
stdout and stderr come back as from any target. What a guest adds over
qemu-user is a real kernel: ptrace (stackcheck, sigpoke), signal frames,
sigaltstack and rseq from the kernel of that arch.

Boot and lifetime, in order:
  - check() (asked once per session and pytest worker, by conftest.py's
    `target` fixture) makes sure the image exists and boots the guest; a
    guest that cannot boot says why: no qemu, no KVM, mmdebstrap failing,
    a kernel panic (with the console's last lines);
  - the guest's only network is QEMU's user-mode network with restrict=on
    and one hostfwd, 127.0.0.1:<free port> -> guest:22;
  - QEMU runs in its own process group with PR_SET_PDEATHSIG=SIGKILL, and
    its pid is in build/vm/run/<name>-<owner pid>.json: it is killed by
    close(), by an atexit hook, by SIGTERM/SIGHUP to the owner, by the
    kernel when the owner dies however it dies, and failing all that by
    the sweep of stale pidfiles that the next VM target's boot does;
  - a program that outlives its timeout is killed in the guest by
    timeout(1); a guest that stops answering (hung, panicked: panic=-1 and
    -no-reboot end QEMU) is killed, and the test gets a GuestFailure with
    the console's last lines; the next test boots the guest again.

accel=auto (the default): KVM for a guest of the host's arch when /dev/kvm
is usable, else TCG. A KVM that runs stock kernels only by emulation
(kvm_pvm, a nested "pagetable-based VM" hypervisor, without kvm_intel or
kvm_amd) counts as unusable: measured here, a Debian kernel under it still
cleared its own .bss after a minute. accel=kvm insists (and fails with the
reason); accel=tcg never asks.
"""
import atexit
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

from . import BUILD, ROOT, proc
from .targets import HOST_ARCH, SshTarget, Target, _which

sys.path.insert(0, os.path.join(ROOT, "tools", "vm"))
import mkimage  # noqa: E402

RUNDIR = os.path.join(BUILD, "vm", "run")
QEMU = {"x86_64": "qemu-system-x86_64", "aarch64": "qemu-system-aarch64"}
QEMU_PKG = {"x86_64": "qemu-system-x86", "aarch64": "qemu-system-arm"}
CONSOLE = {"x86_64": "ttyS0", "aarch64": "ttyAMA0"}
DEFAULT_CPUS = {"x86_64": 1, "aarch64": 2}
# How much longer than on the host a program takes in the guest (timeouts
# are multiplied by it): KVM is near native; TCG translates every block.
SLOWDOWN = {"kvm": 2, "tcg": 10}
BOOT_TIMEOUT = {"kvm": 120, "tcg": 300}
# x86-64 under TCG on a loaded host: the kernel's check that the IO-APIC
# timer ticks ran out of time and panicked at 0.06 s ("IO-APIC + timer
# doesn't work!", apic_intr_mode_init): the check proves nothing for QEMU.
KERNEL_ARGS = {"x86_64": " no_timer_check", "aarch64": ""}


class GuestFailure(RuntimeError):
    """The guest died or stopped answering; the message has its console."""


def kvm_unusable():
    """Why KVM cannot run a stock guest kernel here, or None."""
    if not os.path.exists("/dev/kvm"):
        return "no KVM: /dev/kvm is missing (no virtualization, or the kvm module is not loaded)"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "no KVM: /dev/kvm is not accessible to this user (the kvm group)"
    mods = os.listdir("/sys/module") if os.path.isdir("/sys/module") else []
    if "kvm_pvm" in mods and "kvm_intel" not in mods and "kvm_amd" not in mods:
        return ("KVM here is kvm_pvm (nested, pagetable-based): it runs stock kernels by "
                "emulation, far slower than TCG")
    return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def sweep_stale(rundir=RUNDIR):
    """Kill the guests of owners that are gone (a run killed with SIGKILL
    before its guests' PDEATHSIG could matter, a machine's odd exit).
    Returns the pids killed."""
    killed = []
    if not os.path.isdir(rundir):
        return killed
    for f in os.listdir(rundir):
        if not f.endswith(".json"):
            continue
        path = os.path.join(rundir, f)
        try:
            with open(path) as fh:
                rec = json.load(fh)
        except (OSError, ValueError):
            continue
        if _pid_alive(rec["owner"]):
            continue
        if _pid_alive(rec["qemu"]) and rec["tag"] in _cmdline(rec["qemu"]):
            proc.killgroup(rec["qemu"], signal.SIGKILL)
            killed.append(rec["qemu"])
        _remove_logs(path[:-len(".json")])
    return killed


def _remove_logs(base):
    for ext in (".json", ".console", ".qemu.log"):
        try:
            os.unlink(base + ext)
        except OSError:
            pass


_live = {}          # id(target) -> target, the guests this process runs
_hooks = []


def _kill_all(*_):
    for t in list(_live.values()):
        t.kill()


def _on_signal(signum, frame):
    _kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_hooks():
    if _hooks:
        return
    _hooks.append(True)
    atexit.register(_kill_all)
    for s in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                signal.signal(s, _on_signal)
        except ValueError:     # not the main thread: PDEATHSIG still holds
            pass


def _die_with_parent():
    """In the child before exec: SIGKILL when the process that started it exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VmTarget(SshTarget):
    kind = "vm"

    def __init__(self, spec):
        u = urllib.parse.urlsplit(spec)
        arch = u.path
        q = dict(urllib.parse.parse_qsl(u.query))
        bad = set(q) - {"cpus", "mem", "accel", "name"}
        if u.scheme != "vm" or arch not in QEMU:
            raise ValueError(f"bad vm target {spec!r}: vm:ARCH[?cpus=N&mem=MIB&accel=auto|kvm|tcg&name=NAME], "
                             f"ARCH one of {', '.join(QEMU)}")
        if bad:
            raise ValueError(f"bad vm target {spec!r}: unknown {', '.join(sorted(bad))}")
        self.cpus = int(q.get("cpus", DEFAULT_CPUS[arch]))
        self.mem = int(q.get("mem", 1024))
        self.accel_wanted = q.get("accel", "auto")
        if self.accel_wanted not in ("auto", "kvm", "tcg"):
            raise ValueError(f"bad vm target {spec!r}: accel is auto, kvm or tcg")
        name = q.get("name") or f"vm-{arch}" + (f"-c{self.cpus}" if "cpus" in q else "")
        # The ssh side is filled in at boot (the port changes with each boot).
        Target.__init__(self, name, arch, "glibc")
        self.spec = spec
        self.host, self.port, self.user, self.key = "127.0.0.1", None, "root", None
        self.rdir = "/tmp/sqtest"
        self.shipped = {}
        self.ctl = None
        self.proc = None
        self.image = None
        self.boots = []         # seconds from QEMU's start to ssh answering, per boot
        self.accel = None
        self.accel_note = None  # why auto did not pick KVM

    @property
    def slowdown(self):
        return SLOWDOWN[self.accel or "tcg"]

    def make_vars(self):
        return [f"ARCH={self.arch}", f"LIBC={self.libc}"]

    # ---- accel, image, boot ----

    def pick_accel(self):
        """(accel, None) or (None, why not)."""
        kvm_why = kvm_unusable() if self.arch == HOST_ARCH else \
            f"KVM runs {HOST_ARCH} guests only on this {HOST_ARCH} host"
        if self.accel_wanted == "kvm":
            return (None, kvm_why) if kvm_why else ("kvm", None)
        if self.accel_wanted == "tcg" or kvm_why:
            self.accel_note = kvm_why if self.accel_wanted == "auto" else None
            return "tcg", None
        return "kvm", None

    def qemu_argv(self, port, console):
        img = self.image
        accel = (["-enable-kvm", "-cpu", "host"] if self.accel == "kvm"
                 else ["-accel", "tcg,thread=multi", "-cpu", "max" if self.arch == "x86_64" else "max,pauth-impdef=on"])
        machine = ["-machine", "virt"] if self.arch == "aarch64" else ["-machine", "pc"]
        return ([QEMU[self.arch], "-name", self.tag] + machine + accel +
                ["-smp", str(self.cpus), "-m", str(self.mem), "-nodefaults", "-display", "none", "-no-reboot",
                 "-kernel", os.path.join(img, "vmlinuz"), "-initrd", os.path.join(img, "initrd.cpio"),
                 "-append", f"console={CONSOLE[self.arch]} quiet panic=-1{KERNEL_ARGS[self.arch]}",
                 "-serial", f"file:{console}", "-monitor", "none",
                 "-netdev", f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{port}-:22",
                 "-device", "virtio-net-pci,netdev=n0", "-device", "virtio-rng-pci"])

    def check(self):
        if self.proc is not None and self.proc.poll() is None:
            return None
        if not _which(QEMU[self.arch]):
            return f"{QEMU[self.arch]} is not installed (sh mk/deps.sh vm: {QEMU_PKG[self.arch]})"
        if not _which("ssh"):
            return "ssh is not installed (sh mk/deps.sh ssh)"
        self.accel, why = self.pick_accel()
        if why:
            return why
        try:
            self.image = mkimage.ensure(self.arch)
            self.boot()
        except (RuntimeError, ValueError) as e:
            return str(e)
        return None

    @property
    def tag(self):
        return f"sqvm:{self.name}:{os.getpid()}"

    def boot(self):
        """Start QEMU and wait until the guest's sshd answers; GuestFailure
        (with why and the console's end) when it does not."""
        os.makedirs(RUNDIR, exist_ok=True)
        sweep_stale()
        _install_hooks()
        base = os.path.join(RUNDIR, f"{self.name}-{os.getpid()}")
        self.console = base + ".console"
        self.pidfile = base + ".json"
        self.key = os.path.join(self.image, "id_ed25519")
        for attempt in range(3):
            port = _free_port()
            t0 = time.monotonic()
            with open(base + ".qemu.log", "w") as qlog:
                self.proc = subprocess.Popen(self.qemu_argv(port, self.console), stdin=subprocess.DEVNULL,
                                             stdout=qlog, stderr=subprocess.STDOUT, start_new_session=True,
                                             preexec_fn=_die_with_parent)
            _live[id(self)] = self
            with open(self.pidfile, "w") as f:
                json.dump({"qemu": self.proc.pid, "owner": os.getpid(), "tag": self.tag, "name": self.name,
                           "console": self.console, "port": port, "started": time.time()}, f)
            self.port = port
            self.ctl = f"/tmp/sqvm-{os.getpid()}-{port}"
            self.shipped = {}
            deadline = t0 + BOOT_TIMEOUT[self.accel]
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self.sh("true", timeout=20)[0] == 0:
                    self.boots.append(round(time.monotonic() - t0, 1))
                    return
                time.sleep(0.5)
            qemu_out = open(base + ".qemu.log").read()
            self.kill()
            if "host forwarding rule" in qemu_out:
                continue	# lost the port to someone else: another one
            raise GuestFailure(self.boot_failure(qemu_out, time.monotonic() - t0))
        raise GuestFailure(f"{self.name}: no free port for ssh after 3 tries")

    def boot_failure(self, qemu_out, secs):
        con = self.console_tail()
        if "Kernel panic" in con:
            why = "kernel panic: " + [l for l in con.splitlines() if "Kernel panic" in l][0].strip()
        elif qemu_out.strip():
            why = "qemu failed: " + qemu_out.strip().splitlines()[-1]
        else:
            why = f"sshd did not answer within {secs:.0f} s"
        return (f"{self.name} did not boot ({self.accel}, image {self.image}): {why}\n"
                f"--- qemu: {' '.join(self.qemu_argv(self.port, self.console))}\n{qemu_out[-2000:]}"
                f"--- console (last lines):\n{con}")

    def console_tail(self, lines=60):
        try:
            with open(self.console, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except (OSError, AttributeError):
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL QEMU's process group and forget the guest."""
        if self.proc is not None:
            proc.killgroup(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        _live.pop(id(self), None)
        if self.ctl:
            subprocess.run(self.ssh_argv("-O", "exit"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=10)
        if getattr(self, "pidfile", None) and os.path.exists(self.pidfile):
            os.unlink(self.pidfile)

    def close(self):
        self.kill()
        if getattr(self, "pidfile", None):
            _remove_logs(self.pidfile[:-len(".json")])

    # ---- running programs ----

    def ssh_argv(self, *extra):
        return super().ssh_argv("-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4", *extra)

    def run(self, cmd, env=None, timeout=60, preexec=None, limit_as=None, progress=None, limit=None):
        if not self.alive():
            self.check_or_fail()
        try:
            rc, out, err, timed_out = super().run(cmd, env, timeout, preexec, limit_as, progress, limit)
        except RuntimeError as e:       # ssh itself failed: is the guest still there?
            if not self.responsive():
                self.guest_failed(f"ssh failed: {str(e)[-500:]}")
            raise
        if timed_out and not self.responsive():
            self.guest_failed(f"no answer after {timeout:.0f} s")
        return rc, out, err, timed_out

    def check_or_fail(self):
        why = self.check()
        if why:
            raise GuestFailure(f"{self.name}: {why}")

    def responsive(self):
        return self.alive() and self.sh("true", timeout=30)[0] == 0

    def guest_failed(self, what):
        """Kill the guest; raise with its console."""
        con = self.console_tail()
        state = "running" if self.alive() else f"exited {self.proc.returncode if self.proc else '?'}"
        self.kill()
        raise GuestFailure(f"guest {self.name} failed ({what}; QEMU {state}; killed)\n"
                           f"--- console of {self.name} (last lines):\n{con}")


def target(spec):
    return VmTarget(spec)

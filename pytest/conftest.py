"""Session fixtures: each runtime variant is built once per session and target.

Targets (sqtest.py): `--target T` runs the whole suite on T (repeatable:
local, musl, qemu-aarch64, qemu-riscv64, ssh://user@host:port?...);
`--smoke-target T` runs only the multi-arch subset there (SMOKE_MODULES:
the runtime's core, callback and fatal-error tests, test_arch.py and
test_targets.py). Tests that use `fixed` or `variant_runner` are
parametrized over the targets (test ids end in the target's name), so
pytest-xdist spreads them over targets and cores alike.

`--pool FILE` adds the targets FILE lists, one a line (pytest/vm-pool.txt:
the VM guests of `make test-vms`, sqlib/vm.py); all the tests of one VM or ssh
target form one xdist group, so each worker owns one guest or host.

Tests bound to the host's own build (the ptrace tools, the nosplit checker,
the campaign driver that reads build/<variant>/) run only when the host
target is among the --target ones, and say why they skip otherwise.
"""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "harness"))
import sqtest  # noqa: E402

# The multi-arch subset that --smoke-target runs (make test's default).
SMOKE_MODULES = {"test_core.py", "test_callback.py", "test_fatal.py", "test_arch.py", "test_targets.py"}

# Modules that drive the host's own build or tools, with the reason they
# cannot run anywhere else.
HOST_BOUND = {
    "test_stackcheck.py": "stackcheck traces its own host test programs with ptrace",
    "test_sigpoke.py": "sigpoke stops the host build's threads with ptrace",
    "test_nosplit.py": "nosplit-check reads the host's x86-64 runtime objects",
    "test_harness.py": "drives build/<variant>/ of the host through the campaign (sqlib); "
                       "the scenarios run on every target in test_targets.py",
    "test_repro_tools.py": "derandomize, emit-c, bisect and coverage drive build/<variant>/ of the host "
                           "(emit-c builds host programs; llvm-cov reads host binaries)",
    "test_go.py": "the Go targets (gc, gccgo) are built for the host only (mk/go.mk)",
}
PTRACE_BOUND = {"test_stackcheck.py", "test_sigpoke.py"}
# ---- VM and remote pools (sqlib/vm.py) ----
# Host-bound modules that run on a VM target too: the guest is a real
# kernel of its arch, and the module ships its tool there.
VM_CAPABLE = {"test_stackcheck.py"}
# Under `-n N --dist loadgroup` (make test) these run one after another on
# one worker: the ptrace tools' sweeps wait a bounded time for a thread to
# reach an instruction, and the fuzz engines keep a CPU busy for their whole
# run; sharing the machine with one, a sweep ran out of time ("not
# reached") or blamed a late signal on the wrong instruction.
SERIAL_GROUP = ("ptrace-and-fuzzers", PTRACE_BOUND | {"test_fuzz.py"})


def host_bound_reason(mod, targets):
    """Why a host-bound module is skipped for these targets."""
    if mod in PTRACE_BOUND and any(t.kind == "qemu" for t in targets):
        return f"{sqtest.NO_PTRACE}; {HOST_BOUND[mod]}"
    return f"{HOST_BOUND[mod]}: runs with the host target only"


def pytest_addoption(parser):
    g = parser.getgroup("stackquake")
    g.addoption("--target", action="append", default=[], metavar="T",
                help="run the whole suite on T: local, musl, qemu-aarch64, qemu-riscv64, "
                     "ssh://[user@]host[:port][?arch=A&libc=L&key=FILE] (repeatable; default: local)")
    g.addoption("--smoke-target", action="append", default=[], metavar="T",
                help="also run the multi-arch subset on T (repeatable)")
    g.addoption("--pool", action="append", default=[], metavar="FILE",
                help="targets from FILE, one spec a line (# comments): a VM pool "
                     "(pytest/vm-pool.txt) or a list of ssh:// hosts; adds to --target")
    g.addoption("--targets-only", action="store_true",
                help="only the tests that run on a target (make test-vms: the host's own run in make test)")


def pool_specs(path):
    """The target specs a pool file lists."""
    with open(path) as f:
        return [l.split("#", 1)[0].strip() for l in f if l.split("#", 1)[0].strip()]


class Targets:
    def __init__(self, config):
        try:
            pooled = [s for p in config.getoption("--pool") for s in pool_specs(p)]
        except OSError as e:
            raise pytest.UsageError(f"--pool: {e}")
        full = config.getoption("--target") + pooled or ["local"]
        smoke = [s for s in config.getoption("--smoke-target") if s not in full]
        try:
            self.full = [sqtest.target(s) for s in full]
            self.smoke = [sqtest.target(s) for s in smoke]
        except ValueError as e:
            raise pytest.UsageError(str(e))
        self.all = self.full + self.smoke
        self.host_in_full = any(t.host_native for t in self.full)
        self._unusable = {}

    def unusable(self, t):
        """Why t cannot run here, or None (asked once per session and worker)."""
        if t.name not in self._unusable:
            self._unusable[t.name] = t.check()
        return self._unusable[t.name]


def pytest_configure(config):
    config.sq_targets = Targets(config)


def pytest_generate_tests(metafunc):
    if "target" in metafunc.fixturenames:
        ts = metafunc.config.sq_targets.all
        metafunc.parametrize("target", ts, ids=[t.name for t in ts], scope="session")


# tryfirst: xdist's own hook (registered on a worker after this conftest,
# so called before it) turns xdist_group marks into node ids; without it the
# groups below were never seen and every worker took every target's tests.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    tg = config.sq_targets
    smoke = {t.name for t in tg.smoke}
    keep, drop = [], []
    for item in items:
        mod = os.path.basename(str(item.fspath))
        cs = getattr(item, "callspec", None)
        t = cs.params.get("target") if cs else None
        if (t is not None and t.name in smoke and mod not in SMOKE_MODULES) or \
                (t is None and config.getoption("--targets-only")):
            drop.append(item)
            continue
        on_vm = t is not None and t.kind == "vm" and mod in VM_CAPABLE
        if mod in HOST_BOUND and not on_vm and (not t.host_native if t is not None else not tg.host_in_full):
            item.add_marker(pytest.mark.skip(reason=host_bound_reason(mod, [t] if t else tg.full)))
        if t is not None and t.kind in ("vm", "ssh"):
            # One worker owns each guest or host: all of its tests go there.
            item.add_marker(pytest.mark.xdist_group(t.name))
        elif mod in SERIAL_GROUP[1]:
            item.add_marker(pytest.mark.xdist_group(SERIAL_GROUP[0]))
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def target(request):
    t = request.param
    why = request.config.sq_targets.unusable(t)
    if why:
        pytest.skip(f"target {t.name}: {why}")
    yield t


@pytest.fixture(autouse=True)
def _junit_target(request, record_property):
    """The junit XML names the target (guest, host) each test ran on."""
    cs = getattr(request.node, "callspec", None)
    t = cs.params.get("target") if cs else None
    if t is not None:
        record_property("target", t.name)
        if getattr(t, "boots", None):		# a VM target: how it runs, how long it took to boot
            record_property("target_accel", t.accel)
            record_property("target_boot_seconds", t.boots[-1])


@pytest.fixture(scope="session", autouse=True)
def _close_targets(request):
    yield
    for t in request.config.sq_targets.all:
        if t.kind == "vm" or (t.kind == "ssh" and not request.config.sq_targets._unusable.get(t.name)):
            t.close()


_built = {}


def runner_for(variant, target=None):
    t = target or sqtest.LOCAL
    key = (variant, t.name)
    if key not in _built:
        _built[key] = sqtest.build(variant, "lib", "tests", target=t)
    return _built[key]


@pytest.fixture(scope="session")
def fixed(target):
    return runner_for("fixed", target)


@pytest.fixture(scope="session")
def variant_runner(target):
    return lambda variant: runner_for(variant, target)


@pytest.fixture(scope="session")
def have():
    """have('strace') -> path, or skip with a reason."""
    def need(tool):
        p = shutil.which(tool)
        if not p:
            pytest.skip(f"{tool} is not installed")
        return p
    return need

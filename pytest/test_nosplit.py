"""nosplit-check: the static proof that every nosplit chain fits the stack
budget and that syscall windows call nothing with a split check
(tools/nosplit, docs/nosplit.md).

Fixtures (tools/nosplit/fixtures/*.c) are compiled here with the runtime's
own flags, taken from `make -n`, plus -fstack-usage, and checked with their
own config (fixtures/fixtures.conf); the runtime's objects with the
runtime's (runtime/nosplit.conf): the tool itself knows no runtime. The
runtime's objects
are the ones `make lib` builds; while the Makefile does not yet pass
-fstack-usage (no X.su next to X.o), the same compile commands are replayed
into a temporary directory with it added.

Exit statuses of the tool: 0 fine, 1 violations, 2 usage or input error.
"""
import concurrent.futures
import os
import platform
import re
import shlex
import shutil
import subprocess
import time

import pytest

import sqtest

TOOL = os.path.join(sqtest.ROOT, "tools", "nosplit", "nosplit-check")
CONF = os.path.join(sqtest.ROOT, "runtime", "nosplit.conf")
FIXTURES = os.path.join(sqtest.ROOT, "tools", "nosplit", "fixtures")
FIXTURE_CONF = os.path.join(FIXTURES, "fixtures.conf")
LIBCSTACK = os.path.join(sqtest.ROOT, "runtime", "nosplit-libcstack.c")
BUDGET = 4096
STACK_GUARD = 16 << 10
OK, VIOLATION, USAGE = 0, 1, 2
FLAVOURS = ["obj", "hobj"]	# normal and harness builds of the runtime

# The slow paths REGRESS_SYSCALLSPLIT calls on the G's stack (syscall.c).
SYSCALLSPLIT_SLOW = {"entersyscall_bad", "entersyscall_sysmon",
                     "entersyscallblock_handoff", "exitsyscallfast_pidle"}
# What clang 14 leaves of them: it inlines all four into the nosplit window
# functions (so their own checks vanish), and the split-checked calls left
# on the G's stack are these.
SYSCALLSPLIT_EDGES_CLANG14 = {("entersyscallblock_handoff", "handoffp"),
                              ("exitsyscallfast_pidle", "pidleget")}

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64",
                                reason="nosplit-check reads x86-64 objects")

CHAIN_HEAD_RE = re.compile(r"^nosplit-check: (nosplit chain|split-checked function's frame and check) "
                           r"from (.+) needs (\d+) bytes, over the budget of (\d+):$")
CHAIN_ROW_RE = re.compile(r"^\s+(\d+)\s+(\d+)  (.+?)\s+(-|\S+:\d+)(?:  \((.*)\))?$")
CHAIN_END_RE = re.compile(r"^\s+total (\d+) bytes, budget (\d+)$")
CHAIN_JOIN_RE = re.compile(r"^\s+\.\.\. then as printed above, from (.+)$")
WINDOW_RE = re.compile(r"^nosplit-check: split check inside a syscall window: "
                       r"(\S+) -> (\S+) \(window (\S+)\)$")
OK_RE = re.compile(r"^nosplit-check: ok: (\d+) functions \((\d+) nosplit\), (\d+) window roots?; "
                   r"deepest chain (\d+) bytes from (.+); budget (\d+)$", re.M)
FAIL_RE = re.compile(r"^nosplit-check: FAIL: (\d+) violations?( \(report only\))?;", re.M)


def run(args, timeout=120, env=None):
    """Run a command the way sqtest does: a Result whose log() explains it."""
    t0 = time.monotonic()
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       errors="replace", timeout=timeout, cwd=sqtest.ROOT,
                       env=dict(os.environ, **(env or {})))
    return sqtest.Result(list(args), env or {}, p.returncode, p.stdout, p.stderr,
                         time.monotonic() - t0)


def check(*args, budget=BUDGET, config=CONF):
    """The checker on the runtime's objects, with the runtime's config."""
    return run([TOOL, "--budget", str(budget), "--config", config] + [str(a) for a in args])


def fcheck(*args, budget=BUDGET, config=FIXTURE_CONF):
    """The checker on fixtures, with theirs."""
    return check(*args, budget=budget, config=config)


# ---- output parsing -------------------------------------------------------

class Chain:
    def __init__(self, kind, root, total, budget):
        self.kind, self.root, self.total, self.budget = kind, root, total, budget
        self.rows = []	# (bytes, cumulative, function, where, notes)
        self.joins = None	# where it continues as a chain printed before

    @property
    def functions(self):
        return [r[2] for r in self.rows]


def chains(res):
    """Every over-budget chain the tool printed, row by row."""
    out, cur = [], None
    for line in res.stdout.splitlines():
        m = CHAIN_HEAD_RE.match(line)
        if m:
            cur = Chain(m[1], m[2], int(m[3]), int(m[4]))
            out.append(cur)
            continue
        if cur is None:
            continue
        m = CHAIN_END_RE.match(line)
        if m:
            assert int(m[1]) == cur.total, "total line disagrees with the heading" + res.log()
            cur = None
            continue
        m = CHAIN_JOIN_RE.match(line)
        if m:
            cur.joins = m[1]
            continue
        m = CHAIN_ROW_RE.match(line)
        if m:
            cur.rows.append((int(m[1]), int(m[2]), m[3], m[4], m[5] or ""))
    return out


def assert_chain_adds_up(c, res, printed=()):
    """Rows add up to the total; a chain that joins one printed before
    adds up to at most the total, and joins at a function printed before."""
    cum = 0
    for nbytes, cumul, fn, _, _ in c.rows:
        cum += nbytes
        assert cumul == cum, f"cumulative column wrong at {fn}" + res.log()
    if c.joins:
        assert cum < c.total and c.joins in printed, "bad join" + res.log()
    else:
        assert cum == c.total, "chain rows do not add up to the total" + res.log()
    assert c.rows and c.rows[0][2] == c.root, "chain does not start at its root" + res.log()


def windows(res):
    """{(caller, callee): [lines of the printed path]} of window violations."""
    out, cur = {}, None
    for line in res.stdout.splitlines():
        m = WINDOW_RE.match(line)
        if m:
            cur = out.setdefault((m[1], m[2]), [])
            continue
        if cur is not None and line.startswith("      ") or cur is not None and line.startswith("   -> "):
            cur.append(line)
        else:
            cur = None
    return out


def other_violations(res):
    """Violation lines that are neither chains nor window violations."""
    return [l for l in res.stdout.splitlines()
            if l.startswith("nosplit-check: ") and not CHAIN_HEAD_RE.match(l)
            and not WINDOW_RE.match(l) and not l.startswith("nosplit-check: ok:")
            and not l.startswith("nosplit-check: FAIL:")]


# ---- compiling with the runtime's flags -------------------------------------

OUT_RE = re.compile(r"^(?P<dir>.*)/(?P<flavour>h?obj)/(?P<rel>.+\.o)$")


def compile_commands(variant):
    """The runtime's compile commands for a variant, as `make -n` prints
    them: [(argv, flavour, object path relative to its obj dir)]."""
    args = ["make", "--no-print-directory", "-C", sqtest.ROOT, "-Bn", "lib"]
    if variant != "fixed":
        args.append(f"REGRESS={variant}")
    r = run(args)
    assert r.rc == 0, "make -n lib failed" + r.log()
    cmds = []
    for line in r.stdout.splitlines():
        try:
            argv = shlex.split(line)
        except ValueError:
            continue
        if "-c" not in argv or "-o" not in argv:
            continue
        m = OUT_RE.match(argv[argv.index("-o") + 1])
        if m:
            cmds.append((argv, m["flavour"], m["rel"]))
    assert cmds, "no compile commands in make -n output" + r.log()
    return cmds


def runtime_cflags():
    """The flags a runtime .c file is compiled with (normal flavour),
    without -fstack-usage."""
    for argv, flavour, rel in compile_commands("fixed"):
        src = argv[argv.index("-c") + 1]
        if flavour == "obj" and src.endswith(".c"):
            out = argv.index("-o")
            rest = [a for i, a in enumerate(argv) if i not in (out, out + 1)]
            rest.remove("-c")
            rest.remove(src)
            # Whether the Makefile already asks for .su files or not, the
            # tests decide for themselves.
            return [a for a in rest if a != "-fstack-usage"]
    pytest.fail("no runtime C compile command found")


@pytest.fixture(scope="session")
def cflags():
    return runtime_cflags()


@pytest.fixture
def fixture_obj(cflags, tmp_path):
    """Compile tools/nosplit/fixtures/NAME.c as the runtime is compiled."""
    def build(name):
        obj = tmp_path / f"{name}.o"
        r = run(cflags + ["-fstack-usage", "-c", os.path.join(FIXTURES, f"{name}.c"), "-o", str(obj)])
        assert r.rc == 0, f"compiling fixture {name} failed" + r.log()
        assert (tmp_path / f"{name}.su").exists(), "clang wrote no .su next to the object" + r.log()
        return obj
    return build


def _have_su(objs):
    return objs and all(os.path.exists(os.path.splitext(o)[0] + ".su") for o in objs)


def _objects(variant, flavour, tmp):
    sqtest.build(variant, "lib")
    cmds = compile_commands(variant)
    built, from_c = [], []
    for argv, fl, rel in cmds:
        if fl == flavour:
            o = os.path.join(sqtest.ROOT, argv[argv.index("-o") + 1])
            built.append(o)
            if argv[argv.index("-c") + 1].endswith(".c"):
                from_c.append(o)
    # Objects from assembly have no .su file.
    if _have_su(from_c):
        return built
    # A build without -fstack-usage (an older Makefile): replay its commands.
    jobs = []
    for argv, fl, rel in cmds:
        if fl != flavour:
            continue
        out = tmp / variant / flavour / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        argv = list(argv)
        argv[argv.index("-o") + 1] = str(out)
        if argv[argv.index("-c") + 1].endswith(".c") and "-fstack-usage" not in argv:
            argv.insert(1, "-fstack-usage")
        jobs.append(argv)
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        for r in ex.map(run, jobs):
            assert r.rc == 0, "compiling the runtime failed" + r.log()
    return [j[j.index("-o") + 1] for j in jobs]


@pytest.fixture(scope="session")
def runtime_objs(tmp_path_factory):
    """runtime_objs(variant, flavour) -> the runtime's object files."""
    cache = {}

    def get(variant, flavour):
        if (variant, flavour) not in cache:
            cache[variant, flavour] = _objects(variant, flavour, tmp_path_factory.mktemp("rt"))
        return cache[variant, flavour]
    return get


# ---- fixtures: the acceptance cases -----------------------------------------

def test_over_budget_chain_fails_with_the_chain_printed(fixture_obj):
    r = fcheck(fixture_obj("overbudget"))
    assert r.rc == VIOLATION, "an over-budget chain must fail" + r.log()
    cs = chains(r)
    assert len(cs) == 1, "want exactly one chain reported (the longest)" + r.log()
    c = cs[0]
    assert c.kind == "nosplit chain" and c.root == "chain_a", r.log()
    assert c.functions == ["chain_a", "chain_b", "chain_c"], r.log()
    assert all(nbytes >= 2048 for nbytes, *_ in c.rows), "each frame holds a 2 KiB buffer" + r.log()
    assert c.total > BUDGET and c.budget == BUDGET, r.log()
    assert_chain_adds_up(c, r)
    assert all(where.startswith("tools/nosplit/fixtures/overbudget.c:") for _, _, _, where, _ in c.rows), \
        "each frame says where its function is" + r.log()
    assert "red zone" in c.rows[-1][4], "the leaf's red zone is counted" + r.log()
    assert FAIL_RE.search(r.stdout), r.log()


def test_over_budget_chain_fits_a_larger_budget(fixture_obj):
    r = fcheck(fixture_obj("overbudget"), budget=8192)
    assert r.rc == OK, r.log()
    m = OK_RE.search(r.stdout)
    assert m and m[5] == "chain_a" and BUDGET < int(m[4]) <= 8192, r.log()


def test_split_inside_a_window_fails_with_the_path_printed(fixture_obj):
    r = fcheck(fixture_obj("window"))
    assert r.rc == VIOLATION, "a split check in a syscall window must fail" + r.log()
    w = windows(r)
    assert list(w) == [("wakesysmon_slow", "sysmonwake")], r.log()
    path = w["wakesysmon_slow", "sysmonwake"]
    names = [l.split()[0] if not l.startswith("   -> ") else l.split()[1] for l in path]
    assert names == ["entersyscall", "wakesysmon_slow", "sysmonwake"], r.log()
    assert "window root" in path[0] and "HAS A SPLIT CHECK" in path[-1], r.log()
    assert "window.c:" in path[-1], "the split-checked callee says where it is" + r.log()
    assert not chains(r), "the window fixture fits the budget" + r.log()


def test_window_root_inlined_away_is_still_a_window(fixture_obj):
    """No symbol is named entersyscall once clang inlines it: its call sites
    in do_syscall still belong to the window."""
    r = fcheck(fixture_obj("window_inlined"))
    assert r.rc == VIOLATION, r.log()
    w = windows(r)
    assert list(w) == [("entersyscall", "sysmonwake")], r.log()
    path = w["entersyscall", "sysmonwake"]
    assert "window root entersyscall is inlined here" in path[0] and path[0].split()[0] == "do_syscall", r.log()
    assert "inlined at" in path[1] and "HAS A SPLIT CHECK" in path[-1], r.log()


def test_report_only_prints_but_exits_0(fixture_obj):
    r = run([TOOL, "--config", FIXTURE_CONF, "--report-only", str(fixture_obj("window"))])
    assert r.rc == OK, r.log()
    assert list(windows(r)) == [("wakesysmon_slow", "sysmonwake")], r.log()
    m = FAIL_RE.search(r.stdout)
    assert m and m[1] == "1" and m[2], r.log()


def test_clean_window_passes(fixture_obj):
    """Window roots calling only nosplit code, a tail call, and a slow path
    handed to a stack switch as data: nothing to report."""
    r = fcheck(fixture_obj("clean"))
    assert r.rc == OK, r.log()
    m = OK_RE.search(r.stdout)
    assert m, r.log()
    assert int(m[3]) == 2, "entersyscall and reentersyscall are roots" + r.log()
    assert int(m[4]) < 1024, r.log()


def test_indirect_call_in_nosplit_code_needs_a_reason(fixture_obj, tmp_path):
    obj = fixture_obj("indirect")
    r = fcheck(obj)
    assert r.rc == VIOLATION, r.log()
    assert "indirect call in nosplit callfn" in r.stdout, r.log()
    conf = tmp_path / "indirect.conf"
    conf.write_text("indirect callfn offstack\tthe test says so\n")
    r = fcheck(obj, config=str(conf))
    assert r.rc == OK, r.log()


# ---- input errors -------------------------------------------------------------

def test_usage_errors(fixture_obj, tmp_path):
    assert run([TOOL]).rc == USAGE
    assert run([TOOL, "--config", "none", "--budget", "0", str(fixture_obj("clean"))]).rc == USAGE
    assert run([TOOL, "--config", "none", str(tmp_path / "missing.o")]).rc == USAGE
    bad = tmp_path / "bad.conf"
    bad.write_text("frobnicate everything\n")
    r = fcheck(fixture_obj("clean"), config=str(bad))
    assert r.rc == USAGE and "unknown directive" in r.stderr, r.log()


def test_config_is_required(fixture_obj):
    """The tool knows no runtime: the config is always named ('none' for
    none), so runtime knowledge lives with the runtime (runtime/nosplit.conf)."""
    r = run([TOOL, str(fixture_obj("clean"))])
    assert r.rc == USAGE and "--config" in r.stderr, r.log()
    r = run([TOOL, "--config", "none", str(fixture_obj("clean"))])
    assert r.rc == OK, r.log()
    m = OK_RE.search(r.stdout)
    assert m and m[3] == "0", "no config: no window roots" + r.log()


def test_window_matching_no_function_is_an_error(fixture_obj):
    """A --window that no function is or inlines would check nothing: a
    usage error, not "0 window roots". One that names an inlined-away root
    (window_inlined.c's entersyscall) is found through its call sites."""
    r = run([TOOL, "--config", "none", "--window", "entersyscal", str(fixture_obj("window"))])
    assert r.rc == USAGE and "--window entersyscal: no function" in r.stderr, r.log()
    assert "ok:" not in r.stdout, r.log()
    r = run([TOOL, "--config", "none", "--window", "entersyscall", str(fixture_obj("window_inlined"))])
    assert r.rc == VIOLATION and list(windows(r)) == [("entersyscall", "sysmonwake")], r.log()


def test_config_window_matching_no_function_warns(fixture_obj):
    """A config's window root that no function is or inlines has gone stale
    (a renamed root would leave its window unchecked): a warning, as for a
    stale allow line. window.c has entersyscall but no reentersyscall."""
    r = fcheck(fixture_obj("window"))
    assert r.rc == VIOLATION, r.log()
    assert "unused: window reentersyscall" in r.stderr, r.log()
    assert "unused: window entersyscall" not in r.stderr, r.log()


def test_missing_stack_usage_is_an_input_error(cflags, tmp_path):
    obj = tmp_path / "clean.o"
    r = run(cflags + ["-c", os.path.join(FIXTURES, "clean.c"), "-o", str(obj)])
    assert r.rc == 0, r.log()
    r = fcheck(obj)
    assert r.rc == USAGE and "-fstack-usage" in r.stderr, r.log()


def test_stale_stack_usage_is_an_input_error(fixture_obj):
    """A .su left over from an older build must not vouch for a bigger frame."""
    obj = fixture_obj("overbudget")
    su = os.path.splitext(obj)[0] + ".su"
    text = open(su).read()
    open(su, "w").write(re.sub(r"(chain_b\t)\d+", r"\g<1>16", text))
    r = fcheck(obj)
    assert r.rc == USAGE and "stale" in r.stderr, r.log()


# ---- the runtime -------------------------------------------------------------

@pytest.mark.parametrize("flavour", FLAVOURS)
def test_fixed_runtime_passes(runtime_objs, flavour):
    r = check(*runtime_objs("fixed", flavour))
    assert r.rc == OK, "the fixed runtime must pass the nosplit check" + r.log()
    m = OK_RE.search(r.stdout)
    assert m, r.log()
    assert int(m[2]) > 50 and int(m[3]) >= 6, "nosplit functions and window roots were found" + r.log()
    assert int(m[4]) <= BUDGET, r.log()
    assert "warning" not in r.stderr, "stale config entries" + r.log()


def test_split_fault_action_is_seen_inside_the_window(runtime_objs, tmp_path):
    """The harness's "split" action calls a split-checked function inside
    the window on purpose: the checker sees it, and only nosplit.conf's
    allow line, with its reason, accepts it."""
    conf = tmp_path / "noallow.conf"
    conf.write_text("".join(l for l in open(CONF) if not l.startswith("allow fire -> fault_splittable")))
    r = check(*runtime_objs("fixed", "hobj"), config=str(conf))
    assert r.rc == VIOLATION, r.log()
    assert set(windows(r)) == {("fire", "fault_splittable")}, r.log()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("variant", [v for v in sqtest.variants("x86_64") if v != "syscallsplit"])
def test_other_variants_pass(runtime_objs, variant, flavour):
    """Only syscallsplit touches syscall windows."""
    r = check(*runtime_objs(variant, flavour))
    assert r.rc == OK, r.log()


def _clang_major():
    r = run(["clang", "--version"])
    m = re.search(r"clang version (\d+)", r.stdout)
    return int(m[1]) if m else None


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_syscallsplit_reports_exactly_its_window_edges(runtime_objs, flavour):
    objs = runtime_objs("syscallsplit", flavour)
    r = check(*objs)
    assert r.rc == VIOLATION, "strict mode must fail on the syscallsplit objects" + r.log()
    w = windows(r)
    assert w, r.log()
    assert not chains(r) and not other_violations(r), "only window violations expected" + r.log()
    for edge, path in w.items():
        on_path = {l.split()[1] if l.startswith("   -> ") else l.split()[0] for l in path}
        assert on_path & SYSCALLSPLIT_SLOW, \
            f"{edge} is not on one of the slow paths the variant moves onto the G's stack" + r.log()
    if _clang_major() == 14:
        assert set(w) == SYSCALLSPLIT_EDGES_CLANG14, r.log()
    m = FAIL_RE.search(r.stdout)
    assert m and int(m[1]) == len(w), r.log()
    # What `make REGRESS=syscallsplit` runs: the same report, exit 0.
    r2 = run([TOOL, "--config", CONF, "--report-only"] + objs)
    assert r2.rc == OK and set(windows(r2)) == set(w), r2.log()


def test_runtime_chains_print_frame_by_frame(runtime_objs):
    """With a budget the runtime cannot meet, every reported chain is
    printed frame by frame and adds up."""
    r = check(*runtime_objs("fixed", "hobj"), budget=1024)
    assert r.rc == VIOLATION, r.log()
    cs = chains(r)
    assert cs and not cs[0].joins, r.log()
    printed = set()
    for c in cs:
        assert c.total > 1024, r.log()
        assert_chain_adds_up(c, r, printed)
        printed.update(row[2] for row in c.rows)
    assert [c.total for c in cs] == sorted((c.total for c in cs), reverse=True), \
        "longest chains first" + r.log()


# ---- the libc allowances ------------------------------------------------------

def externs(conf):
    out = {}
    for line in open(conf):
        w = line.split("#", 1)[0].split()
        if len(w) >= 3 and w[0] == "extern":
            out[w[1]] = int(w[2])
    return out


def test_libc_allowances_cover_measured_use(tmp_path):
    """Every 'extern' allowance in nosplit.conf covers what libcstack
    measures here, and the guard's reserve (STACK_GUARD - budget) covers
    the dynamic linker's lazy-binding frame."""
    cc = shutil.which("clang") or shutil.which("cc")
    exe = tmp_path / "libcstack"
    r = run([cc, "-O2", "-fno-omit-frame-pointer", LIBCSTACK, "-o", str(exe), "-lpthread"])
    assert r.rc == 0, r.log()
    r = run([str(exe)])
    assert r.rc == 0, r.log()
    measured = {w[0]: int(w[1]) for w in (l.split() for l in r.stdout.splitlines()) if len(w) == 2}
    allow = externs(CONF)
    assert allow, "nosplit.conf has no extern entries"
    for name, nbytes in allow.items():
        assert name in measured, f"libcstack does not measure {name}: add a probe" + r.log()
        assert measured[name] <= nbytes, f"{name} uses {measured[name]} bytes, allowance {nbytes}" + r.log()
    assert measured["lazy-binding"] < STACK_GUARD - BUDGET, r.log()

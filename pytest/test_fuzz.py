"""Fuzzing: the targets' builds, a smoke run of each engine, the replay of
every saved corpus entry, the regression reproducers, ClusterFuzzLite's
build.sh, and the nightly job (docs/fuzz.md)."""
import fcntl
import glob
import os
import random
import re
import shutil
import subprocess
import sys
import warnings
import zipfile

import pytest

from sqtest import BUILD, ROOT

sys.path.insert(0, os.path.join(ROOT, "fuzz"))
import run as fuzzrun  # noqa: E402

TARGETS = fuzzrun.TARGETS
VARIANTS = fuzzrun.variants()
FZ = os.path.join(BUILD, "fuzz")
MANIFEST = os.path.join(ROOT, "corpora", "MANIFEST")


def make(*goals, env=None, timeout=900):
    """make -f fuzz/fuzz.mk, one make at a time across xdist workers."""
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        # fuzz.mk's rules name their files relative to the repository root.
        goals = [os.path.relpath(g, ROOT) if os.path.isabs(g) else g for g in goals]
        return subprocess.run(["make", "--no-print-directory", "-C", ROOT, "-f", "fuzz/fuzz.mk",
                               f"-j{os.cpu_count() or 2}"] + list(goals),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, timeout=timeout)


def has_libfuzzer():
    r = subprocess.run(["clang", "-print-file-name=libclang_rt.fuzzer-x86_64.a"], stdout=subprocess.PIPE,
                       text=True)
    return os.path.isabs(r.stdout.strip()) and os.path.exists(r.stdout.strip())


@pytest.fixture(autouse=True)
def _host_only(request):
    """Host-bound (conftest.py's HOST_BOUND in spirit): the fuzz builds are
    the host's own, with the host's libFuzzer and AFL++."""
    tg = getattr(request.config, "sq_targets", None)
    if tg is not None and not tg.host_in_full:
        pytest.skip("the fuzz targets are built and run on the host: runs with the host target only")


@pytest.fixture(scope="session")
def fuzz_built():
    """The replay builds (fixed and every variant), and the engines' builds
    that this machine can make."""
    goals = [f"{FZ}/replay/{t}" for t in TARGETS] + \
            [f"{FZ}/replay-{v}/{t}" for v in VARIANTS for t in TARGETS]
    if has_libfuzzer():
        goals += [f"{FZ}/libfuzzer/{t}" for t in TARGETS]
    if shutil.which("afl-clang-fast"):
        goals += [f"{FZ}/afl/{t}" for t in TARGETS]
    r = make(*goals)
    assert r.returncode == 0, f"fuzz build failed:\n{r.stdout[-5000:]}"
    return True


@pytest.fixture(scope="session")
def replay_built():
    """The fixed runtime's replay builds: all the decoder's tests need."""
    r = make(*[f"{FZ}/replay/{t}" for t in TARGETS])
    assert r.returncode == 0, f"replay build failed:\n{r.stdout[-5000:]}"
    return True


def replay(target, variant, *args, timeout=300):
    b = os.path.join(FZ, "replay" if variant == "fixed" else f"replay-{variant}", target)
    return subprocess.run([b] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=fuzzrun.env(), timeout=timeout)


def manifest():
    rows = []
    for line in open(MANIFEST):
        if line.startswith("#") or not line.strip():
            continue
        key, variant, flags, outcome = line.split(None, 3)
        target, name = key.split("/")
        rows.append((target, name, variant, flags, outcome.strip()))
    return rows


# ---- the saved corpora ----------------------------------------------------------------

@pytest.mark.parametrize("fz_target", TARGETS)
def test_corpus_replays_as_expected_three_times(fuzz_built, fz_target):
    """Every saved input, three times in fresh processes: the manifest's
    outcome (clean unless listed), the same every time."""
    r = replay(fz_target, "fixed", "--manifest", MANIFEST, "--times", 3,
               os.path.join(ROOT, "corpora", fz_target))
    assert r.returncode == 0, r.stdout[-6000:]
    n = len(os.listdir(os.path.join(ROOT, "corpora", fz_target)))
    assert f"{3 * n} runs, 0 inputs not as expected" in r.stdout, r.stdout[-3000:]


def reproducers():
    return [(t, n, v, o) for t, n, v, f, o in manifest() if v != "fixed"]


@pytest.mark.parametrize("fz_target,name,variant,outcome", reproducers(),
                         ids=[f"{t}-{n}" for t, n, _, _ in reproducers()])
def test_regress_reproducer_finds_its_variant(fuzz_built, fz_target, name, variant, outcome):
    """On its variant the reproducer ends in its class, three times out of
    three; on the fixed runtime (previous test) it is clean."""
    path = os.path.join(ROOT, "corpora", fz_target, name)
    r = replay(fz_target, variant, "--manifest", MANIFEST, "--times", 3, path)
    assert r.returncode == 0, r.stdout[-6000:]
    assert "(deterministic)" in r.stdout


# Variants the fuzzers cannot reach: hostonstack is a host's handler
# installed without SA_ONSTACK before the runtime starts, and the fuzz
# targets install none (the campaign's handlers-plain axis finds it).
NOT_FUZZABLE = {"hostonstack"}


def test_every_variant_has_a_reproducer():
    have = {(t, v) for t, _, v, _, _ in manifest() if v != "fixed"}
    for v in VARIANTS:
        if v in NOT_FUZZABLE:
            continue
        t = fuzzrun.regress_target(v)
        assert (t, v) in have, f"no reproducer for {v} in corpora/{t}"
    for t in TARGETS:
        names = set(os.listdir(os.path.join(ROOT, "corpora", t)))
        for tt, n, v, _, _ in manifest():
            if tt == t:
                assert n in names, f"corpora/MANIFEST names {t}/{n}, which does not exist"


def test_seed_corpora_match_their_sources(replay_built, tmp_path):
    """corpora/ is what fuzz/seeds.py assembles from fuzz/seeds/, and nothing
    else (an engine pointed at corpora/<target> would add its inputs there)."""
    sources = {t: set() for t in TARGETS}
    for src in glob.glob(os.path.join(ROOT, "fuzz", "seeds", "*", "*.fz")):
        group = os.path.basename(os.path.dirname(src))
        for t in (TARGETS if group == "common" else [group]):
            sources[t].add(os.path.basename(src)[:-3])
    for t in TARGETS:
        stray = set(os.listdir(os.path.join(ROOT, "corpora", t))) - sources[t]
        assert not stray, f"corpora/{t} holds inputs no source in fuzz/seeds/ makes: {sorted(stray)[:5]}"
    for src in glob.glob(os.path.join(ROOT, "fuzz", "seeds", "*", "*.fz")):
        group = os.path.basename(os.path.dirname(src))
        name = os.path.basename(src)[:-3]
        for t in (TARGETS if group == "common" else [group]):
            out = tmp_path / f"{t}-{name}"
            r = replay(t, "fixed", "--asm", src, out)
            assert r.returncode == 0, r.stdout
            assert out.read_bytes() == open(os.path.join(ROOT, "corpora", t, name), "rb").read(), \
                f"corpora/{t}/{name} is stale: run make -f fuzz/fuzz.mk fuzz-seeds"


# ---- the decoder -------------------------------------------------------------------------

def test_decoder_builds_only_legal_programs(replay_built, tmp_path):
    """Random bytes decode to programs without the arms a correct runtime
    must refuse, and print back to the same bytes' meaning."""
    rng = random.Random(5)
    for i in range(300):
        (tmp_path / f"r{i:03d}").write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
    r = replay("sq_ops", "fixed", "--print", tmp_path)
    assert r.returncode == 0, r.stdout[-3000:]
    text = r.stdout
    assert "illegal" not in text and "xswitch" not in text
    windows = ("entersyscall.poisoned", "syscall.window", "exitsyscall.enter", "exitsyscall.slow")
    for line in text.splitlines():
        w = line.split()
        if w and w[0] == "arm":
            site, action = w[1], w[2]
            assert not (action == "split" and site in windows), line
            assert not (site == "sighandler.dispatch" and action == "systemstack"), line
            assert not (site == "sighandler.dispatch" and action == "signal" and "every" in w), line
            assert not (site == "sighandler.dispatch" and "SIGUSR2" in w), line
        if w and w[0] == "signal":
            assert w[2] != "SIGUSR2", line
        if w and w[0] == "go":
            pytest.fail("sq_ops decoded a `go`: " + line)


# Every decoding mode with a text form: each target's replay prints in its
# own mode (sq_unbound decodes as sq_ops), plain and with --allow-illegal.
DECODE_MODES = [(t, ill) for t in ("sq_ops", "sq_race", "sq_refuse") for ill in (False, True)]
DECODE_IDS = [t + ("-illegal" if ill else "") for t, ill in DECODE_MODES]
PRINTED = re.compile(r"^# (.*) \((-?\d+) bytes\)$", re.M)


def mode_name(target, illegal):
    return f"{target} --print" + (" --allow-illegal" if illegal else "")


def printed(target, illegal, path):
    """{file name: program text} of every input in the folder path, as the
    target's replay prints it."""
    r = replay(target, "fixed", "--print", *(["--allow-illegal"] if illegal else []), path)
    assert r.returncode == 0, r.stdout[-3000:]
    parts = PRINTED.split(r.stdout)
    assert not parts[0].strip(), f"--print wrote before its first program:\n{parts[0][-2000:]}"
    return {os.path.basename(parts[i]): parts[i + 2][1:] for i in range(1, len(parts), 3)}


def assert_roundtrip(target, illegal, inputs, tmp_path, why):
    """bytes -> program -> text -> bytes -> the same program, for every
    input ({name: bytes}): the reassembled bytes print as the original."""
    raw, txt, out = tmp_path / "raw", tmp_path / "txt", tmp_path / "asm"
    for d in (raw, txt, out):
        d.mkdir()
    for name, data in inputs.items():
        (raw / name).write_bytes(data)
    first = printed(target, illegal, raw)
    assert sorted(first) == sorted(inputs)
    pairs = []
    for name, text in first.items():
        (txt / name).write_text(text)
        pairs += [txt / name, out / name]
    for i in range(0, len(pairs), 500):
        r = replay(target, "fixed", "--asm", *pairs[i:i + 500])
        assert r.returncode == 0, f"{why}: the printed text does not assemble:\n{r.stdout[-3000:]}"
    second = printed(target, illegal, out)
    for name, data in inputs.items():
        assert second[name] == first[name], \
            f"{why}: {name} ({data.hex()}) prints differently once reassembled " \
            f"({(out / name).read_bytes().hex()}):\n{first[name]}--- reassembled:\n{second[name]}"
    return first


@pytest.mark.parametrize("fz_target,illegal", DECODE_MODES, ids=DECODE_IDS)
def test_roundtrip_corpora(replay_built, fz_target, illegal, tmp_path):
    """Every saved input of every target, decoded in this mode, prints a
    text that assembles to bytes that decode to the same program."""
    inputs = {f"{t}-{n}": open(os.path.join(ROOT, "corpora", t, n), "rb").read()
              for t in TARGETS for n in os.listdir(os.path.join(ROOT, "corpora", t))}
    assert_roundtrip(fz_target, illegal, inputs, tmp_path, f"corpora, {mode_name(fz_target, illegal)}")


def random_inputs(rng, n):
    """n inputs: uniform bytes up to the fuzzers' 64-byte cap and longer;
    small bytes (deep bodies, the FZ_MAXOPS/FZ_MAXDEPTH/FZ_MAXG limits);
    opcode-sized bytes with and without the xswitch bit."""
    small = list(range(18)) + list(range(128, 146))
    shapes = [lambda: [rng.randrange(256) for _ in range(rng.randrange(1, 65))],
              lambda: [rng.randrange(256) for _ in range(rng.randrange(1, 300))],
              lambda: [rng.randrange(16) for _ in range(rng.randrange(50, 400))],
              lambda: [rng.choice(small) for _ in range(rng.randrange(1, 200))]]
    return {f"r{i:05d}": bytes(shapes[i % len(shapes)]()) for i in range(n)}


@pytest.mark.parametrize("fz_target,illegal", DECODE_MODES, ids=DECODE_IDS)
def test_roundtrip_random(replay_built, fz_target, illegal, tmp_path):
    """The round trip over a few thousand random inputs. The seed is in
    every failure; FZ_DECODE_SEED=S replays one."""
    seed = int(os.environ.get("FZ_DECODE_SEED", "20261202"))
    inputs = random_inputs(random.Random(seed), 3000)
    why = f"seed {seed} (FZ_DECODE_SEED={seed}), {mode_name(fz_target, illegal)}"
    texts = "".join(assert_roundtrip(fz_target, illegal, inputs, tmp_path, why).values())
    if illegal or fz_target == "sq_refuse":
        assert "xswitch" in texts and "# illegal" in texts, f"{why}: no illegal form was decoded"


def test_asm_takes_every_bound(replay_built, tmp_path):
    """Each argument's first and last value assembles and prints back."""
    text = ("sched 0:0 255:255\n"
            "arm entersyscall.poisoned split 1   # illegal\n"
            "arm sighandler.dispatch signal 1 every SIGUSR1   # illegal\n"
            "arm yield.queued systemstack 8\n"
            "switch T3 boost-mmap\n"
            "signal T0 SIGUSR1\n"
            "call T0 {\n"
            "  xfer 0\n  xfer 1\n  pingpong 1\n  pingpong 8\n  recurse 1\n  recurse 32\n"
            "  syscall badwrite\n  sysblock settle\n  raise SIGUSR2\n"
            "  outcall {\n    sleep getpid\n    xswitch boost-mmap {\n      callback {\n      }\n    }\n"
            "    cswitch pthread {\n      raise SIGURG\n    }\n  }\n"
            "}\n")
    (tmp_path / "in.fz").write_text(text)
    (tmp_path / "out").mkdir()
    r = replay("sq_refuse", "fixed", "--asm", tmp_path / "in.fz", tmp_path / "out" / "p")
    assert r.returncode == 0, r.stdout
    assert printed("sq_refuse", True, tmp_path / "out")["p"] == text


@pytest.mark.parametrize("text,message", [
    ("call T4 { }", "line 1: call wants a thread T0..T3, got 'T4'"),
    ("wait", "line 1: wait wants a thread T0..T3, got nothing"),
    ("switch T0 fiber", "line 1: switch wants a stack kind (pthread, ucontext, ucontext-mmap, "
                        "boost, boost-mmap), got 'fiber'"),
    ("signal T1 SIGUSR2", "line 1: signal wants a signal for a thread (SIGURG, SIGPROF, SIGUSR1), "
                          "got 'SIGUSR2'"),
    ("call T0 {\n  pingpong 9\n}", "line 2: pingpong wants a number of rounds from 1 to 8, got '9'"),
    ("call T0 { pingpong 0 }", "pingpong wants a number of rounds from 1 to 8, got '0'"),
    ("call T0 { recurse 33 }", "recurse wants a number of frames from 1 to 32, got '33'"),
    ("call T0 { xfer 2 }", "xfer wants a channel buffer size from 0 to 1, got '2'"),
    ("call T0 { syscall fork }", "syscall wants a syscall (getpid, sched_yield, nanosleep0, "
                                 "nanosleep5us, clock_gettime, badwrite), got 'fork'"),
    ("call T0 { sysblock forever }", "sysblock wants a blocking call (getpid, nanosleep200us, "
                                     "ppoll200us, nanosleep1ms, settle), got 'forever'"),
    ("call T0 { outcall { sleep 1s } }", "sleep wants a sleep (yield, 2us, 8us, getpid), got '1s'"),
    ("call T0 { raise SIGKILL }", "raise wants a signal (SIGURG, SIGPROF, SIGUSR1, SIGUSR2), "
                                  "got 'SIGKILL'"),
    ("arm nowhere split 1", "arm wants a fault site (entersyscall.poisoned, "),
    ("arm syscall.window jump 1", "arm wants an action (split, yield, spin, signal, systemstack), "
                                  "got 'jump'"),
    ("arm syscall.window split 9", "arm wants a count from 1 to 8, got '9'"),
    ("arm syscall.window split 0", "arm wants a count from 1 to 8, got '0'"),
    ("arm syscall.window split -1", "arm wants a count from 1 to 8, got '-1'"),
    ("sched 1:256", "sched wants pick:choice, each from 0 to 255, got '1:256'"),
    ("sched 1", "sched wants pick:choice, each from 0 to 255, got '1'"),
    ("sched" + " 1:2" * 8, "sched wants at most 7 pick:choice pairs"),
    ("call T0 { callback { } }", "'callback' is not an operation of a goroutine"),
    ("call T0 { outcall { cswitch boost { xswitch boost { } } } }",
     "'xswitch' is only written in C run by an outcall"),
    ("end", "'end' is not an operation of the top level"),
    ("call T0 }", "call wants a body in { }, got '}'"),
    ("call T0 { yield", "missing '}'"),
])
def test_asm_rejects(replay_built, tmp_path, text, message):
    """Out-of-range arguments and misplaced operations fail with a message
    that says what was wanted and what was written."""
    (tmp_path / "in.fz").write_text(text)
    r = replay("sq_ops", "fixed", "--asm", tmp_path / "in.fz", tmp_path / "out")
    assert r.returncode == 1, r.stdout
    assert message in r.stdout, r.stdout
    assert not (tmp_path / "out").exists()


def test_leak_reruns_leave_the_coverage_alone(tmp_path):
    """The leak check reruns an input 16 times when the process grew; an
    input whose locked goroutine ends takes its thread with it, so with
    FZ_LEAK=1 every execution grows by a thread and is rerun. Those reruns
    are the oracle's: their coverage must not reach the engine's map, or
    every edge of the input reads as unstable (5 % stability measured, as
    AFL++ counts it, before the map was put back; 99 % after)."""
    stab = f"{FZ}/stab/sq_ops"
    r = make(stab)
    assert r.returncode == 0, r.stdout[-3000:]
    inp = os.path.join(ROOT, "corpora", "sq_ops", "tight-moved-before-loop")
    env = dict(os.environ, FZ_LEAK="1", FZ_STAB_AFL="1")
    r = subprocess.run([stab, "--stability", "8", inp], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env, timeout=300)
    m = re.search(r"stability: ([0-9.]+)% \((\d+) of (\d+) edges", r.stdout)
    assert r.returncode == 0 and m, r.stdout[-3000:]
    # A few edges of thread start-up vary with the order threads come up;
    # the reruns made nearly all of them vary.
    assert int(m.group(2)) * 4 < int(m.group(3)), r.stdout[-3000:]


def test_one_cpu_per_fuzz_process(fuzz_built, tmp_path):
    """Every thread of a fuzz process runs on one CPU (interp.h, fz_one_cpu):
    one it is already limited to, else one no other fuzz process holds (a
    lock file per CPU), else the one it runs on; FZ_CPU=any opts out, and
    sq_race keeps every CPU."""
    seed = os.path.join(ROOT, "corpora", "sq_ops", "seed-yield")
    env = dict(fuzzrun.env(), TMPDIR=str(tmp_path))
    allowed = sorted(os.sched_getaffinity(0))

    def cpu(target="sq_ops", wrap=(), **extra):
        b = os.path.join(FZ, "replay", target)
        r = subprocess.run(list(wrap) + [b, "--bench", "3", seed], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=dict(env, **extra), timeout=120)
        assert r.returncode == 0, r.stdout
        m = re.search(r"; on (CPU (\d+)|every CPU)$", r.stdout, re.M)
        assert m, r.stdout
        return int(m.group(2)) if m.group(2) else None

    last = allowed[-1]
    assert cpu(wrap=["taskset", "-c", str(last)]) == last
    assert cpu(FZ_CPU="any") is None
    assert cpu("sq_race") is None
    if len(allowed) < 2:
        pytest.skip("one CPU allowed: nothing to choose between")
    assert cpu() == allowed[0]	# nobody holds it
    with open(tmp_path / f"stackquake-fuzz-cpu{allowed[0]}.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert cpu() == allowed[1]


# ---- the engines ---------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["libfuzzer", "afl"])
@pytest.mark.parametrize("fz_target,seconds,least", [("sq_ops", 20, 1000), ("sq_refuse", 10, 100)])
def test_engine_smoke(fuzz_built, engine, fz_target, seconds, least, tmp_path):
    """The engine on the target from the seeds for a few seconds: it runs,
    and the fixed runtime gives it nothing. sq_refuse's illegal programs
    run in child processes of the engine's process (AFL++'s fork server
    must not see them)."""
    if engine == "afl" and not shutil.which("afl-fuzz"):
        pytest.skip("afl-fuzz is not installed (mk/deps.sh fuzz)")
    if engine == "libfuzzer" and not has_libfuzzer():
        pytest.skip("libFuzzer (libclang-rt-14-dev) is not installed")
    corpus = str(tmp_path / "corpus")
    fuzzrun.seed_corpus(fz_target, corpus)
    out = str(tmp_path / "out")
    run = fuzzrun.run_afl if engine == "afl" else fuzzrun.run_libfuzzer
    st = run(fz_target, corpus, out, seconds, 1)
    found = fuzzrun.crash_files([out])
    logs = "".join(open(f, errors="replace").read()[-3000:] for f in glob.glob(os.path.join(out, "*.log")))
    # A finding counts when the replay driver shows it: any of 10 runs not
    # clean. One that never replays (a timing oracle tripped by a loaded
    # machine: the watchdog, a 4 s wait) is said, with the engine's log.
    shown = [f for f in found if replay(fz_target, "fixed", "--times", 10, "--expect", "clean", f).returncode]
    assert not shown, f"findings on the fixed runtime: {shown}\n" + \
        "\n".join(replay(fz_target, "fixed", "--verbose", f).stdout[-2000:] for f in shown[:3]) + \
        "\n--- the engine's log:\n" + logs
    for f in found:
        warnings.warn(f"{engine} {fz_target}: {os.path.basename(f)} did not replay in 10 runs:\n{logs}")
    if engine == "afl":
        execs = sum(int(s.get("execs_done", 0)) for s in st.values())
    else:
        execs = int(st.get("number_of_executed_units", 0))
    assert execs > least, f"{engine} hardly ran: {st}\n{logs}"
    print(f"{engine} {fz_target}: {fuzzrun.summary_line(engine, st)}")


# ---- ClusterFuzzLite and the nightly job -----------------------------------------------------

def test_clusterfuzzlite_build_sh(fuzz_built, tmp_path):
    """.clusterfuzzlite/build.sh with local values for the variables the
    ClusterFuzzLite image sets: binaries, options and seed corpora in $OUT,
    and the binaries run their seeds."""
    if not has_libfuzzer():
        pytest.skip("libFuzzer (libclang-rt-14-dev) is not installed")
    if not shutil.which("zip"):
        pytest.skip("zip is not installed")
    out = tmp_path / "out"
    out.mkdir()
    e = dict(os.environ, CC="clang", CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only "
             "-fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link",
             LIB_FUZZING_ENGINE="-fsanitize=fuzzer", OUT=str(out), SANITIZER="address",
             WORK=os.path.join(BUILD, "cflite-test"), SRC=str(tmp_path))
    with open(os.path.join(BUILD, ".lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        r = subprocess.run(["bash", os.path.join(ROOT, ".clusterfuzzlite", "build.sh")], cwd=ROOT, env=e,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-5000:]
    for t in TARGETS:
        assert (out / t).exists() and (out / f"{t}.options").exists(), r.stdout[-2000:]
        opts = (out / f"{t}.options").read_text()
        assert "handle_usr1=0" in opts and "handle_usr2=0" in opts
        with zipfile.ZipFile(out / f"{t}_seed_corpus.zip") as z:
            assert sorted(z.namelist()) == sorted(os.listdir(os.path.join(ROOT, "corpora", t)))
    seeds = tmp_path / "seeds"
    with zipfile.ZipFile(out / "sq_ops_seed_corpus.zip") as z:
        z.extractall(seeds)
    r = subprocess.run([str(out / "sq_ops"), "-handle_usr1=0", "-handle_usr2=0", "-runs=3000",
                        f"-artifact_prefix={tmp_path}/", str(seeds)], cwd=tmp_path,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                       env=dict(fuzzrun.env(), ASAN_OPTIONS="detect_leaks=0"))
    assert r.returncode == 0 and "Done 3000 runs" in r.stdout, r.stdout[-4000:]


def test_nightly_resumes_and_reports(fuzz_built, tmp_path):
    """ci/nightly.sh with a tiny budget: it fuzzes from the corpus folder it
    is given, leaves new inputs there, and exits 0 on the fixed runtime."""
    if not shutil.which("afl-fuzz") or not has_libfuzzer():
        pytest.skip("the nightly job needs both engines")
    corpus = tmp_path / "corpus"
    (corpus / "sq_ops").mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "corpora", "sq_ops", "seed-outcall"), corpus / "sq_ops" / "carried-over")
    r = subprocess.run(["bash", os.path.join(ROOT, "ci", "nightly.sh"), "18s", str(corpus)], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=400,
                       env=dict(os.environ, FZ_NIGHTLY_TARGETS="sq_ops"))
    assert r.returncode == 0, r.stdout[-5000:]
    assert "no new findings" in r.stdout
    kept = os.listdir(corpus / "sq_ops")
    assert "carried-over" in kept and len(kept) > len(os.listdir(os.path.join(ROOT, "corpora", "sq_ops")))
    m = re.search(r"report in (\S+)", r.stdout)
    assert m and os.path.exists(os.path.join(ROOT, m.group(1), "report.json"))


def test_refuse_target_judges_by_the_refusal(fuzz_built):
    """sq_refuse's seeds hold operations the fixed runtime must refuse: run
    as they are (--allow-illegal, in-process) each ends in the fatal error
    its header names, and through the target (the refusal happens in a
    child and is what the contract wants) each is clean."""
    for src in sorted(glob.glob(os.path.join(ROOT, "fuzz", "seeds", "sq_refuse", "seed-refuse-*.fz"))):
        name = os.path.basename(src)[:-3]
        path = os.path.join(ROOT, "corpora", "sq_refuse", name)
        want = [l.split(":", 1)[1].strip() for l in open(src) if l.startswith("# refuses:")]
        assert want, f"{src} names no refusal"
        r = replay("sq_ops", "fixed", "--allow-illegal", path)
        assert f"fatal: {want[0]}" in r.stdout, r.stdout[-3000:]
        r = replay("sq_refuse", "fixed", path)
        assert r.returncode == 0 and ": clean" in r.stdout, r.stdout[-3000:]

#!/usr/bin/env python3
"""mkimage: a bootable guest for pytest's VM targets, from Debian packages.

    tools/vm/mkimage.py ARCH            build (or find) the image, print its directory
    tools/vm/mkimage.py --key ARCH      print the cache key only

ARCH is x86_64 or aarch64. Nothing is downloaded but Debian packages:
mmdebstrap --variant=extract unpacks the kernel package and a small
userland (sshd, the shell and coreutils, busybox for ip and insmod,
binutils for sigpoke's objdump, Boost.Context for the host's dynamic
builds) without running a maintainer script, so a foreign arch needs no
qemu-user or binfmt_misc. This script does what those scripts would have
done that the guest needs (passwd, host key, sshd_config) and no more.

An image is a directory build/vm/<arch>-<key>/:

    vmlinuz        the Debian kernel, as the package ships it
    initrd.cpio    the whole root file system (newc, uncompressed: the
                   kernel unpacks it into RAM without inflating anything,
                   which matters under TCG); tools/vm/init is its /init
    id_ed25519     the client key the guest's root accepts (host-only use)
    manifest.json  key, kernel release, every package and version, sizes

key: the first 16 hex digits of the SHA-256 of the inputs: this file,
tools/vm/init, the arch, the suite and the mirrors. An image whose key
exists is used as it is; a changed input builds a new one beside it. A
package update on the mirror alone does not (delete build/vm/ for that).
Builds of one arch take a lock: pytest-xdist workers wait for each other.
"""
import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VMDIR = os.path.join(ROOT, "build", "vm")
SUITE = "bookworm"
MIRROR = os.environ.get("SQ_VM_MIRROR", "http://deb.debian.org/debian")
SECURITY = os.environ.get("SQ_VM_SECURITY_MIRROR", "http://deb.debian.org/debian-security")

# arch -> (Debian arch, kernel package, extra packages)
ARCHES = {
    "x86_64": ("amd64", "linux-image-amd64", ["libboost-context1.74.0"]),
    "aarch64": ("arm64", "linux-image-arm64", []),
}
PACKAGES = ["openssh-server", "dash", "coreutils", "tar", "procps", "busybox-static", "binutils"]
# Debian builds these as modules (CONFIG_VIRTIO_PCI=m, _NET=m, HW_RANDOM_VIRTIO=m
# on both arches); their dependencies are added in load order.
MODULES = ["virtio_pci", "virtio_net", "virtio-rng"]
# What the guest never reads: docs, translations, perl (the kernel
# package's scripts pull it in), the rest of the kernel's modules.
PRUNE = ["boot", "lib/modules", "lib/firmware", "usr/share/doc", "usr/share/man", "usr/share/info",
         "usr/share/locale", "usr/share/lintian", "usr/share/perl", "usr/share/perl5",
         "usr/share/zoneinfo", "usr/share/i18n", "usr/share/initramfs-tools", "usr/lib/klibc",
         "var/cache/apt", "var/lib/apt", "usr/share/bash-completion", "etc/initramfs-tools"]
SSHD_CONFIG = """\
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
AuthorizedKeysFile /etc/ssh/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
MaxSessions 64
MaxStartups 64
PidFile /run/sshd.pid
LogLevel ERROR
"""


def key(arch):
    h = hashlib.sha256()
    for p in (os.path.abspath(__file__), os.path.join(HERE, "init")):
        with open(p, "rb") as f:
            h.update(f.read())
    h.update(repr((arch, ARCHES[arch], PACKAGES, MODULES, SUITE, MIRROR, SECURITY)).encode())
    return h.hexdigest()[:16]


def image_dir(arch):
    return os.path.join(VMDIR, f"{arch}-{key(arch)}")


def ensure(arch, log=sys.stderr):
    """The image directory for arch, built first if it is not there."""
    if arch not in ARCHES:
        raise ValueError(f"no VM image for {arch!r}; one of: {', '.join(ARCHES)}")
    out = image_dir(arch)
    if os.path.exists(os.path.join(out, "manifest.json")):
        return out
    os.makedirs(VMDIR, exist_ok=True)
    with open(os.path.join(VMDIR, f".lock-{arch}"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(out, "manifest.json")):
            build(arch, out, log)
    return out


def need(tool, pkg):
    if not shutil.which(tool):
        raise RuntimeError(f"{tool} is not installed: apt-get install {pkg} (sh mk/deps.sh vm)")


def build(arch, out, log=sys.stderr):
    darch, kpkg, extra = ARCHES[arch]
    need("mmdebstrap", "mmdebstrap")
    need("ssh-keygen", "openssh-client")
    t0 = time.monotonic()
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    root = os.path.join(tmp, "root")
    print(f"mkimage: {arch}: mmdebstrap {SUITE} ({darch}) into {root}", file=log, flush=True)
    cmd = ["mmdebstrap", "--quiet", "--variant=extract", f"--arch={darch}",
           "--include=" + ",".join([kpkg] + PACKAGES + extra), "--skip=cleanup/apt/cache",
           SUITE, root, f"deb {MIRROR} {SUITE} main", f"deb {MIRROR} {SUITE}-updates main",
           f"deb {SECURITY} {SUITE}-security main"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"mmdebstrap failed (exit {p.returncode}):\n{' '.join(cmd)}\n{p.stdout[-3000:]}")
    debs = sorted(f[:-4] for f in os.listdir(os.path.join(root, "var/cache/apt/archives")) if f.endswith(".deb"))
    (kver,) = os.listdir(os.path.join(root, "lib/modules"))
    shutil.copy(os.path.join(root, "boot", f"vmlinuz-{kver}"), os.path.join(tmp, "vmlinuz"))
    mods = copy_modules(root, kver)
    configure(root, arch, tmp)
    for d in PRUNE:
        path = os.path.join(root, d)
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        else:
            shutil.rmtree(path, ignore_errors=True)
    for sub in ("proc", "sys", "dev", "run", "tmp", "root", "var/empty"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    shutil.copy(os.path.join(HERE, "init"), os.path.join(root, "init"))
    os.chmod(os.path.join(root, "init"), 0o755)
    rootsize = write_cpio(root, os.path.join(tmp, "initrd.cpio"))
    shutil.rmtree(root)
    manifest = {"arch": arch, "key": key(arch), "suite": SUITE, "kernel": kver, "modules": mods,
                "packages": debs, "vmlinuz_bytes": os.path.getsize(os.path.join(tmp, "vmlinuz")),
                "initrd_bytes": rootsize, "build_seconds": round(time.monotonic() - t0, 1),
                "built": time.strftime("%Y-%m-%d %H:%M:%S")}
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    print(f"mkimage: {arch}: {out} (kernel {kver}, {len(debs)} packages, root {rootsize >> 20} MiB, "
          f"{manifest['build_seconds']} s)", file=log, flush=True)


def modinfo_depends(path):
    """A module's depends= list, read from its .modinfo strings."""
    with open(path, "rb") as f:
        data = f.read()
    i = data.find(b"\0depends=")
    if i < 0:
        return []
    val = data[i + 9:data.index(b"\0", i + 1)].decode()
    return [d for d in val.split(",") if d]


def copy_modules(root, kver):
    """Copy MODULES and their dependencies to /lib/sq-modules, and write
    /etc/sq-modules: their file names in load order (dependencies first)."""
    base = os.path.join(root, "lib/modules", kver)
    where = {}
    for d, _, files in os.walk(base):
        for f in files:
            if f.endswith(".ko"):
                where[f[:-3].replace("-", "_")] = os.path.join(d, f)
    order = []

    def visit(name):
        name = name.replace("-", "_")
        if name in order:
            return
        if name not in where:
            raise RuntimeError(f"module {name} not in {kver} (built in? then drop it from MODULES)")
        for dep in modinfo_depends(where[name]):
            visit(dep)
        order.append(name)
    for m in MODULES:
        visit(m)
    dst = os.path.join(root, "lib/sq-modules")
    os.makedirs(dst, exist_ok=True)
    for m in order:
        shutil.copy(where[m], dst)
    with open(os.path.join(root, "etc/sq-modules"), "w") as f:
        f.write("".join(os.path.basename(where[m]) + "\n" for m in order))
    return order


def configure(root, arch, tmp):
    """What the skipped maintainer scripts would have set up, for sshd and root."""
    etc = os.path.join(root, "etc")

    def write(rel, text, mode=0o644):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
    write("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                        "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
                        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    write("etc/group", "root:x:0:\nnogroup:x:65534:\n")
    write("etc/hostname", f"sq-{arch}\n")
    write("etc/hosts", f"127.0.0.1 localhost sq-{arch}\n")
    write("etc/ssh/sshd_config", SSHD_CONFIG)
    for f in (os.path.join(tmp, "id_ed25519"), os.path.join(etc, "ssh/ssh_host_ed25519_key")):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"sqvm-{arch}", "-f", f],
                       check=True)
    shutil.copy(os.path.join(tmp, "id_ed25519.pub"), os.path.join(etc, "ssh/authorized_keys"))
    os.chmod(os.path.join(tmp, "id_ed25519"), 0o600)


def write_cpio(root, path):
    """root as an uncompressed newc archive, every file owned by root.
    Returns the bytes of file data written."""
    total = 0
    ino = 1

    def header(f, name, mode, size, nlink=1):
        nonlocal ino
        name = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name), 0]
        ino += 1
        f.write(b"070701" + b"".join(b"%08x" % v for v in fields) + name)
        f.write(b"\0" * (-(110 + len(name)) % 4))

    with open(path, "wb") as f:
        for d, dirs, files in os.walk(root):
            dirs.sort()
            rel = os.path.relpath(d, root)
            for name in ([] if rel == "." else [rel]) + [os.path.normpath(os.path.join(rel, n))
                                                        for n in sorted(files) + [x for x in dirs if os.path.islink(os.path.join(d, x))]]:
                full = os.path.join(root, name)
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    data = os.readlink(full).encode()
                elif stat.S_ISREG(st.st_mode):
                    with open(full, "rb") as g:
                        data = g.read()
                elif stat.S_ISDIR(st.st_mode):
                    data = b""
                else:
                    continue	# device nodes: devtmpfs provides them
                header(f, name, st.st_mode, len(data), 2 if stat.S_ISDIR(st.st_mode) else 1)
                f.write(data)
                f.write(b"\0" * (-len(data) % 4))
                total += len(data)
        header(f, "TRAILER!!!", 0, 0)
    return total


def main(argv):
    if len(argv) == 2 and argv[0] == "--key":
        print(key(argv[1]))
        return 0
    if len(argv) != 1 or argv[0] not in ARCHES:
        print(f"usage: mkimage.py [--key] {'|'.join(ARCHES)}", file=sys.stderr)
        return 2
    try:
        print(ensure(argv[0]))
    except RuntimeError as e:
        print(f"mkimage: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Run the Dockerfile's stages for real in debootstrap chroots (no Docker needed).

usage (as root, with debootstrap and access to the Debian mirror):
  docker_build_chroot.py SRC_DIR WORK_DIR

Each stage's base image (debian:12, debian:12-slim) becomes a minbase
debootstrap of bookworm in WORK_DIR/<stage>. The stage's instructions are
then executed the way Docker would: ARG/ENV set the environment, WORKDIR the
directory, COPY copies from the build context (the files .dockerignore lets
through) or --from=<stage> from that stage's root, RUN runs '/bin/sh -c' in
the chroot as the current USER. LABEL, ENTRYPOINT and CMD are recorded only.
After the last stage: the finsim the image would run is exercised as its
non-root user (generate, a 2-rank mpirun run, read back with h5dump if present).
Slow: two debootstraps, the -dev packages, hiredis and finsim builds.
"""
import json
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dockerfile_check as dc  # noqa: E402

def _apt_mirror():
    """The first Debian archive URI of this system's apt sources."""
    import glob
    for f in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for line in open(f):
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    return ""


MIRROR = os.environ.get("FINSIM_DEBIAN_MIRROR") or _apt_mirror()
SUITES = {"debian:12": "bookworm", "debian:12-slim": "bookworm", "debian:bookworm": "bookworm",
          "debian:bookworm-slim": "bookworm"}


def sh(cmd, **kw):
    print("+ " + (cmd if isinstance(cmd, str) else " ".join(shlex.quote(c) for c in cmd)), flush=True)
    subprocess.run(cmd, check=True, **kw)


def context_files(src):
    rules = dc.load_ignore(os.path.join(src, ".dockerignore"))
    out = subprocess.run(["git", "-C", src, "ls-files", "-co", "--exclude-standard"], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    return [f for f in out if f and os.path.isfile(os.path.join(src, f)) and not dc.ignored(rules, f)]


class Stage:
    def __init__(self, src, work, name):
        self.src, self.name = src, name
        info = json.loads(subprocess.run([sys.executable, os.path.join(HERE, "dockerfile_check.py"), src,
                                          "--json", name], capture_output=True, text=True, check=True).stdout)
        self.args = dict(a.split("=", 1) if "=" in a else (a, "") for a in info["global_args"])
        base = info["base"]
        if base.startswith("${") or base.startswith("$"):
            base = self.args[base.strip("${}")]
        if base not in SUITES:
            raise SystemExit(f"cannot emulate base image {base}")
        self.root = os.path.join(work, name)
        self.instructions = info["instructions"]
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
        self.workdir, self.user = "/", "root"
        self.suite = SUITES[base]
        self.base = base

    def bootstrap(self):
        if not os.path.exists(os.path.join(self.root, "etc/debian_version")):
            sh(["debootstrap", "--variant=minbase", self.suite, self.root, MIRROR])
        # what a container has: name resolution and /proc
        sh(["cp", "/etc/resolv.conf", os.path.join(self.root, "etc/resolv.conf")])
        proc = os.path.join(self.root, "proc")
        if not os.path.ismount(proc):
            sh(["mount", "-t", "proc", "proc", proc])
        # no /dev bind mount (a cleanup that removes the work dir must never
        # reach the host's /dev); Open MPI only needs a writable /dev/shm
        os.makedirs(os.path.join(self.root, "dev/shm"), exist_ok=True)
        os.chmod(os.path.join(self.root, "dev/shm"), 0o1777)

    def umount(self):
        proc = os.path.join(self.root, "proc")
        if os.path.ismount(proc):
            subprocess.run(["umount", "-l", proc], check=False)

    def uid(self, user):
        with open(os.path.join(self.root, "etc/passwd")) as f:
            for line in f:
                p = line.split(":")
                if p[0] == user:
                    return p[2], p[3], p[5]
        raise SystemExit(f"USER {user}: no such user in the stage")

    def run(self, cmd):
        env = dict(self.env)
        spec = []
        if self.user not in ("root", "0"):
            uid, gid, home = self.uid(self.user)
            spec = [f"--userspec={uid}:{gid}"]
            env["HOME"] = home
        env = ["env", "-i"] + [f"{k}={v}" for k, v in env.items()]
        sh(["chroot"] + spec + [self.root] + env + ["/bin/sh", "-c", f"cd {shlex.quote(self.workdir)} && {cmd}"])

    def copy(self, text, stages):
        words = shlex.split(text)
        frm = None
        args = []
        for w in words:
            if w.startswith("--from="):
                frm = stages[w.split("=", 1)[1]].root
            elif not w.startswith("--"):
                args.append(w)
        *sources, dest = args
        if not dest.startswith("/"):
            dest = os.path.join(self.workdir, dest)
        target = self.root + dest
        if sources == ["."]:
            for f in context_files(self.src):
                d = os.path.join(target, os.path.dirname(f))
                os.makedirs(d, exist_ok=True)
                sh(["cp", "-p", os.path.join(self.src, f), d], stdout=subprocess.DEVNULL)
            return
        if dest.endswith("/"):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        for s in sources:
            path = (frm + s) if frm else os.path.join(self.src, s)
            if not frm and dc.ignored(dc.load_ignore(os.path.join(self.src, ".dockerignore")), s):
                raise SystemExit(f"COPY {s}: excluded by .dockerignore")
            sh(["cp", "-pL", path, target])

    def execute(self, stages):
        self.bootstrap()
        for kw, text in self.instructions:
            if kw == "ARG":
                k, _, v = text.partition("=")
                self.env[k] = v
            elif kw == "ENV":
                k, _, v = text.partition("=")
                self.env[k] = v
            elif kw == "WORKDIR":
                self.workdir = text
                os.makedirs(self.root + text, exist_ok=True)
            elif kw == "COPY":
                self.copy(text, stages)
            elif kw == "RUN":
                self.run(text)
            elif kw == "USER":
                self.user = text.split(":")[0]
            else:
                print(f"(recorded) {kw} {text}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    if os.geteuid() != 0:
        raise SystemExit("docker_build_chroot.py: needs root (debootstrap, chroot)")
    src, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    names = [n for n, _, _ in dc.stages(dc.instructions(os.path.join(src, "Dockerfile")))[1:]]
    stages = {}
    try:
        for n in names:
            print(f"==== stage {n}", flush=True)
            stages[n] = Stage(src, work, n)
            stages[n].execute(stages)
        final = stages[names[-1]]
        print(f"==== the image's user ({final.user}) runs finsim", flush=True)
        final.workdir = "/tmp"
        final.run("finsim version && finsim generate --trades 20 --seed 3 --store /tmp/t.h5 "
                  "&& mpirun -np 2 finsim run --store /tmp/t.h5 --trade-window 20 --paths 500 "
                  "--algorithm deltavega --output /tmp/r.h5 --progress 0 && ls -l /tmp/r.h5")
    finally:
        for s in stages.values():
            s.umount()
    print("docker_build_chroot: every stage ran; finsim works as the image's user")
    return 0


if __name__ == "__main__":
    sys.exit(main())

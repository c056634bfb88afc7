#!/usr/bin/env python3
"""Static checks of the Dockerfile and .dockerignore (Docker cannot run here).

  dockerfile_check.py SRC_DIR            structure, user, entrypoint, secrets,
                                         build context; prints package names
  dockerfile_check.py SRC_DIR --packages STAGE   apt packages of a stage, one a line
  dockerfile_check.py SRC_DIR --run STAGE        the RUN commands of a stage, one a line
  dockerfile_check.py SRC_DIR --json STAGE       the stage's instructions as JSON

Exit 1 with 'FAIL: ...' lines on the first problem.
"""
import os
import re
import shlex
import subprocess
import sys

SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|"
                         r"CONNECTION_?STRING|SAS|AUTH)", re.I)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def instructions(path):
    """Dockerfile instructions as (KEYWORD, text) with continuations joined."""
    out, cur = [], ""
    for raw in open(path):
        line = raw.rstrip("\n")
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if cur and line.lstrip().startswith("#"):
            continue  # comment lines inside a continued instruction
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        kw, _, rest = cur.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
        cur = ""
    return out


def stages(instrs):
    """[(name, base, [(KW, text), ...])] in order; ARGs before the first FROM go to 'global'."""
    result, cur = [("global", None, [])], None
    for kw, text in instrs:
        if kw == "FROM":
            words = text.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(result))
            result.append((name, words[0], []))
        else:
            result[-1][2].append((kw, text))
    return result


def apt_packages(stage_instrs):
    pkgs = []
    for kw, text in stage_instrs:
        if kw != "RUN":
            continue
        for part in re.split(r"&&|;", text):
            words = shlex.split(part)
            if len(words) >= 2 and words[0] == "apt-get" and "install" in words:
                pkgs += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return pkgs


# --- .dockerignore, as Docker matches it: filepath.Match per path element,
# '**' for any number of directories, '!' re-includes, the last match wins,
# and a path is excluded when it or a parent directory is.
def _pattern_re(p):
    p = p.strip().strip("/")
    out, i = "", 0
    while i < len(p):
        if p.startswith("**", i):
            out += ".*"
            i += 2
            if i < len(p) and p[i] == "/":
                out = out[:-2] + "(?:.*/)?"
                i += 1
        elif p[i] == "*":
            out += "[^/]*"
            i += 1
        elif p[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(p[i])
            i += 1
    return re.compile("^" + out + "$")


def load_ignore(path):
    rules = []
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        rules.append((neg, _pattern_re(line[1:] if neg else line)))
    return rules


def ignored(rules, rel):
    parts = rel.strip("/").split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for neg, rx in rules:
        if any(rx.match(c) for c in candidates):
            excluded = not neg
    return excluded


def main():
    src = sys.argv[1]
    df = os.path.join(src, "Dockerfile")
    st = stages(instructions(df))
    if len(sys.argv) == 4 and sys.argv[2] == "--json":
        import json
        for name, base, ins in st:
            if name == sys.argv[3]:
                print(json.dumps({"name": name, "base": base, "global_args": [t for k, t in st[0][2] if k == "ARG"],
                                  "instructions": ins}))
                return
        fail(f"no stage {sys.argv[3]}")
    if len(sys.argv) == 4 and sys.argv[2] in ("--packages", "--run"):
        want = sys.argv[3]
        for name, _, ins in st:
            if name == want:
                if sys.argv[2] == "--packages":
                    print("\n".join(apt_packages(ins)))
                else:
                    print("\n".join(t for k, t in ins if k == "RUN"))
                return
        fail(f"no stage {want}")

    real = st[1:]
    if len(real) < 2:
        fail("the Dockerfile must be multi-stage (a build stage and a runtime stage)")
    build = next((s for s in real if s[0] == "build"), None)
    if build is None:
        fail("no stage named 'build'")
    final_name, final_base, final = real[-1]
    global_args = {t.split("=")[0]: t.split("=", 1)[1] if "=" in t else "" for k, t in st[0][2] if k == "ARG"}

    def base_of(b):
        m = re.fullmatch(r"\$\{?(\w+)\}?", b)
        return global_args.get(m.group(1), b) if m else b
    if not base_of(build[1]).startswith("debian:12"):
        fail(f"the build stage must start from debian:12, not {base_of(build[1])}")
    if not base_of(final_base).startswith("debian:12"):
        fail(f"the runtime stage must be Debian 12 too (same libraries), not {base_of(final_base)}")
    if final_name == "build":
        fail("the final stage is the build stage")

    # build stage: hiredis via the repository script, portable finsim
    brun = " ".join(t for k, t in build[2] if k == "RUN")
    if "scripts/build-hiredis.sh" not in brun:
        fail("the build stage must build hiredis with scripts/build-hiredis.sh")
    if "-DFINSIM_NATIVE=OFF" not in brun:
        fail("the build stage must configure with -DFINSIM_NATIVE=OFF (portable binary)")
    bpk = apt_packages(build[2])
    if not any(p.endswith("-dev") for p in bpk):
        fail("the build stage installs no -dev packages")

    # runtime stage: no compilers or headers, non-root user, entrypoint finsim
    rpk = apt_packages(final)
    bad = [p for p in rpk if p.endswith("-dev") or p in ("build-essential", "gcc", "cmake", "make")]
    if bad:
        fail(f"the runtime stage installs build tools: {bad}")
    users = [t for k, t in final if k == "USER"]
    if not users:
        fail("the runtime stage has no USER (it would run as root)")
    if users[-1].split(":")[0] in ("root", "0"):
        fail(f"the runtime stage runs as {users[-1]}")
    # any uid (docker run --user "$(id -u):$(id -g)") can work in the image
    workdirs = [t for k, t in final if k == "WORKDIR"]
    if not workdirs or workdirs[-1] != "/data":
        fail(f"the runtime stage's WORKDIR must be /data (the mount point of the docs), found {workdirs}")
    if not any(k == "RUN" and re.search(r"mkdir -p /data && chmod 1777 /data", t) for k, t in final):
        fail("the runtime stage must make /data writable by any uid (chmod 1777)")
    if not any(k == "ENV" and re.match(r"HOME=/tmp\b", t) for k, t in final):
        fail("the runtime stage must set HOME=/tmp (a --user uid without a passwd entry gets HOME=/)")
    eps = [t for k, t in final if k == "ENTRYPOINT"]
    if not eps or eps[-1].replace(" ", "") not in ('["finsim"]', '["/usr/local/bin/finsim"]'):
        fail(f"ENTRYPOINT must be [\"finsim\"] (exec form), found {eps}")
    copies_from_build = [t for k, t in final if k == "COPY" and "--from=build" in t]
    if not any("libhiredis" in t for t in copies_from_build):
        fail("the runtime stage must copy the hiredis 1.2 libraries from the build stage")
    if not any(re.search(r"/finsim\s+\S+$", t) for t in copies_from_build):
        fail("the runtime stage must copy the finsim binary from the build stage")

    # secrets: no ENV/ARG with a secret-like name and a value, anywhere
    for name, _, ins in st:
        for k, t in ins:
            if k in ("ENV", "ARG"):
                for m in re.finditer(r"(\w+)\s*(=\s*(\S+)|\s+(\S+))?", t):
                    var, val = m.group(1), m.group(3) or m.group(4)
                    if SECRET_NAME.search(var) and val:
                        fail(f"{k} {var} in stage {name} holds a value: secrets belong to run time")
            if k == "RUN" and re.search(r"--password[= ]\S|PASSWORD=\S", t):
                fail(f"a RUN line in stage {name} has a password on it")
            if k in ("COPY", "ADD") and re.search(r"\.(pem|key|pw|env)\b|secrets/|\.local\.ini", t):
                fail(f"{k} in stage {name} copies a secret or local config: {t}")

    # .dockerignore: secrets and local files out, the sources in
    di = os.path.join(src, ".dockerignore")
    if not os.path.exists(di):
        fail("no .dockerignore")
    rules = load_ignore(di)
    must_out = ["build/finsim", "build-launch/CMakeCache.txt", ".deps/hiredis/lib/libhiredis.so",
                "results.h5", "runs/2024/out.h5", "x.h5.partial", ".git/HEAD", "config.local.ini",
                "etc/site.local.ini", "secrets/redis.pw", "deploy/secrets/sas.txt", "tls/client.pem",
                "tls/client.key", "server.key", ".env", "jobscripts/azure-batch/.env", ".env.prod",
                "home/.netrc", "id_ed25519", "keys/id_rsa.pub"]
    for p in must_out:
        if not ignored(rules, p):
            fail(f".dockerignore lets {p} into the build context")
    must_in = ["CMakeLists.txt", "src/cmd/main.c", "include/finsim/store/store.h", "scripts/build-hiredis.sh",
               "bench/CMakeLists.txt", "tests/CMakeLists.txt"]
    for k, t in final + build[2]:
        if k == "COPY" and "--from=" not in t:
            must_in += [w for w in shlex.split(t)[:-1] if not w.startswith("--") and w != "."]
    for p in must_in:
        if ignored(rules, p):
            fail(f".dockerignore excludes {p}, which the build needs")
        if not os.path.exists(os.path.join(src, p)):
            fail(f"the Dockerfile copies {p}, which does not exist")
    # every file git tracks that the build copies is in the context (nothing
    # tracked looks like a secret)
    try:
        tracked = subprocess.run(["git", "-C", src, "ls-files"], capture_output=True, text=True,
                                 check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        tracked = []
    for p in tracked:
        if re.search(r"(^|/)(secrets/|\.env$)|\.(pem|key|pw)$|\.local\.ini$", p):
            fail(f"git tracks {p}, which looks like a secret or local config")
    print(f"dockerfile: {len(real)} stages ({', '.join(s[0] for s in real)}), runtime user {users[-1]}, "
          f"entrypoint {eps[-1]}, {len(rpk)} runtime packages, .dockerignore {len(rules)} rules ok")


if __name__ == "__main__":
    main()

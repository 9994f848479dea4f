#!/usr/bin/env python3
"""tests/docs/check_docs.py: keep README.md, docs/*.md and the man page true.

Usage: check_docs.py SOURCE_ROOT DAEMON_BINARY

1. Every long option in virtiofsd/options.c (long_opts) appears in
   docs/virtiofsd.1 and in `virtiofsd --help`.
2. Every fenced block of README.md and docs/*.md whose language is sh is
   run with bash (set -euo pipefail) in a temporary directory, unless a
   comment `<!-- doc-test: covered-by FILE... -->` on one of the two lines
   above the fence names the files of other tests that run that kind of
   command (QEMU, apt, install): then the program of every command in the
   block must appear in one of them.  Substitutions in run blocks:
   /usr/libexec/virtiofsd and build/virtiofsd/virtiofsd -> the built
   daemon; /srv/share -> a temporary directory holding a file;
   /tmp/vfs.sock -> a socket path in the temporary directory.  Commands
   sent to the background (&) must still run 0.5 s after the block ended
   (a daemon waiting for its front-end); they are then killed.
3. xml, toml and json blocks must parse.  Blocks marked bash, shell or
   console are refused (they would escape the check): use sh or text.
See docs/cli.md, "Documentation tests".
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET

root, daemon = sys.argv[1], os.path.abspath(sys.argv[2])
errors = []


def err(msg):
    errors.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def check_options():
    src = open(os.path.join(root, "virtiofsd/options.c")).read()
    table = src[src.index("long_opts[]"):]
    table = table[:table.index("};")]
    names = re.findall(r'\{\s*"([a-z0-9-]+)"', table)
    man = open(os.path.join(root, "docs/virtiofsd.1")).read()
    help_text = subprocess.run([daemon, "--help"], capture_output=True,
                               text=True, check=True).stdout
    for n in names:
        if "\\-\\-" + n.replace("-", "\\-") not in man:
            err(f"--{n} is not in docs/virtiofsd.1")
        if "--" + n not in help_text:
            err(f"--{n} is not in --help")
    return len(names)


FENCE = re.compile(r"^```(\S*)\s*$")
COVER = re.compile(r"<!--\s*doc-test:\s*covered-by\s+([^>]+?)\s*-->")


def blocks(path):
    """Yield (line number, language, cover file or None, text)."""
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            if m:   # a plain fence: skip to its end
                i += 1
                while i < len(lines) and not FENCE.match(lines[i]):
                    i += 1
            i += 1
            continue
        lang, start = m.group(1), i
        cover = None
        for j in (i - 1, i - 2):
            if j >= 0 and COVER.search(lines[j]):
                cover = COVER.search(lines[j]).group(1)
        i += 1
        body = []
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i])
            i += 1
        yield start + 1, lang, cover, "\n".join(body) + "\n"
        i += 1


def commands(text):
    """The program of each command line of a shell block."""
    progs = []
    joined = re.sub(r"\\\n", " ", text)
    for line in joined.split("\n"):
        line = line.split("#", 1)[0].strip()
        for part in re.split(r"&&|\|\||;|\|", line):
            words = part.split()
            while words and "=" in words[0] and not words[0].startswith("-"):
                words = words[1:]   # VAR=value prefixes
            if words and words[0] not in ("sudo", "&"):
                progs.append(words[0])
            elif len(words) > 1:
                progs.append(words[1])
    return progs


def run_block(where, text):
    tmp = tempfile.mkdtemp(prefix="vfs-doc.")
    try:
        share = os.path.join(tmp, "share")
        os.mkdir(share)
        open(os.path.join(share, "hello.txt"), "w").write("hello\n")
        script = re.sub(r"/usr/libexec/virtiofsd|build/virtiofsd/virtiofsd",
                        daemon, text)
        script = (script.replace("/srv/share", share)
                  .replace("/tmp/vfs.sock", os.path.join(tmp, "vfs.sock")))
        bg = os.path.join(tmp, "bg.pids")
        # every background job's pid goes to bg.pids
        script = re.sub(r"&[ \t]*$", "& echo $! >>" + bg, script,
                        flags=re.M)
        # files, not pipes: a background daemon keeps its output open
        with open(os.path.join(tmp, "out"), "w+") as out:
            p = subprocess.run(["bash", "-euo", "pipefail", "-c", script],
                               cwd=tmp, stdout=out, stderr=out,
                               stdin=subprocess.DEVNULL, timeout=60,
                               start_new_session=True)
            if p.returncode != 0:
                out.seek(0)
                err(f"{where}: exit {p.returncode}: {out.read().strip()}")
        time.sleep(0.5)
        pids = open(bg).read().split() if os.path.exists(bg) else []
        for pid in map(int, pids):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                err(f"{where}: background command {pid} ended early")
                continue
            os.kill(pid, signal.SIGTERM)
        for pid in map(int, pids):
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                    time.sleep(0.05)
                except ProcessLookupError:
                    break
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_markdown():
    files = [os.path.join(root, "README.md")] + sorted(
        os.path.join(root, "docs", f)
        for f in os.listdir(os.path.join(root, "docs")) if f.endswith(".md"))
    counts = {"run": 0, "covered": 0, "parsed": 0}
    for path in files:
        rel = os.path.relpath(path, root)
        for line, lang, cover, text in blocks(path):
            where = f"{rel}:{line}"
            if lang in ("bash", "shell", "console", "shell-session", "zsh"):
                err(f"{where}: use ```sh (tested) or ```text, not {lang}")
            elif lang == "sh" and cover:
                body = ""
                for c in cover.split():
                    cov = os.path.join(root, c)
                    if not os.path.isfile(cov):
                        err(f"{where}: covered-by {c}: no such file")
                        continue
                    body += open(cov).read()
                for prog in commands(text):
                    name = os.path.basename(prog)
                    if prog not in body and name not in body:
                        err(f"{where}: '{prog}' does not appear in {cover}")
                counts["covered"] += 1
            elif lang == "sh":
                run_block(where, text)
                counts["run"] += 1
            elif lang in ("xml", "toml", "json"):
                try:
                    if lang == "xml":
                        ET.fromstring(text)
                    elif lang == "toml":
                        tomllib.loads(text)
                    else:
                        json.loads(text)
                    counts["parsed"] += 1
                except Exception as e:   # noqa: BLE001 - any parse error
                    err(f"{where}: {lang} does not parse: {e}")
    return counts


n = check_options()
c = check_markdown()
print(f"{n} options in the man page and --help; sh blocks: {c['run']} run, "
      f"{c['covered']} covered by other tests; {c['parsed']} xml/toml/json "
      f"blocks parsed; {len(errors)} error(s)")
sys.exit(1 if errors else 0)

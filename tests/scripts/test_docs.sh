#!/usr/bin/env bash
# The repository explains itself: its text points only at things a reader of the repository has.
#   1. No comment or doc points outside the repository: a short, explicit list of phrases that name a
#      specification, a planning document, an issue or a task instead of saying what they mean.
#   2. Every FERGAN_* environment variable the code reads (a whole "FERGAN_..." string literal in C++,
#      ${FERGAN_...:-default} and the like in shell scripts, $ENV{FERGAN_...} in CMake, os.environ in Python)
#      has a row in docs/environment.md, and every row there names a variable that still exists.
#   3. Every relative link in README.md and docs/*.md resolves: the file exists and a #anchor matches a heading
#      of the target (GitHub's anchor rules).
#   4. Every repository path that README.md and docs/*.md name (src/..., tests/..., docs/..., ...) exists, and so
#      does every docs/NAME.md that any file mentions.
#   5. The library table of docs/architecture.md lists exactly the DEPS of fergan_library() in CMakeLists.txt.
# The checker first runs on generated fixture trees, one clean and one with a problem of each kind, so a checker
# that stopped finding problems fails here too. Needs bash and python3 only (no build).
# shellcheck disable=SC2016  # the fixtures hold literal $ and backticks on purpose
set -euo pipefail
SRC=${FERGAN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
tmp=$(mktemp -d /tmp/fergan_docs_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

cat >"$tmp/check_docs.py" <<'PY'
"""check_docs.py ROOT: prints one line per problem of the tree at ROOT; exit 1 if there is any."""
import os
import re
import subprocess
import sys

root = os.path.abspath(sys.argv[1])
problems = []

def problem(msg):
    problems.append(msg)

def rel(path):
    return os.path.relpath(path, root)

# ---- the files: git's view (tracked + untracked, not ignored) when ROOT is a checkout, else a walk ----
# Outside a checkout: what .gitignore ignores (build*/, experiments/, data/, ... at the top; caches anywhere).
TOP_SKIP = {"experiments", "data", ".device", ".whl", ".gl"}
ANY_SKIP = {".git", "__pycache__", ".cache"}
def list_files():
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                             capture_output=True, check=True).stdout.decode()
        names = [n for n in out.split("\0") if n]
        if names:
            return sorted(n for n in names if os.path.isfile(os.path.join(root, n)))
    except (OSError, subprocess.CalledProcessError):
        pass
    names = []
    for d, dirs, files in os.walk(root):
        top = os.path.samefile(d, root)
        dirs[:] = [x for x in dirs
                   if x not in ANY_SKIP and not (top and (x in TOP_SKIP or x.startswith("build")))]
        names += [rel(os.path.join(d, f)) for f in files]
    return sorted(names)

def read_text(name):
    with open(os.path.join(root, name), "rb") as f:
        data = f.read()
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")

files = {n: t for n in list_files() for t in [read_text(n)] if t is not None}
# This checker's own source holds the patterns it looks for.
SELF = "tests/scripts/test_docs.sh"
docs = sorted(n for n in files if n == "README.md" or re.fullmatch(r"docs/[^/]+\.md", n))

# ---- 1. references to things outside the repository ----
# Each names a document, an issue or a task that a reader of the repository does not have. "the seed" alone is
# allowed (a random seed); "the seed's ...", "seed document" and the like are not.
OUTSIDE = [
    (r"\bSPEC\b", "a specification document"),
    (r"SPEC\.md", "a specification document"),
    (r"§", "a section of an outside document"),
    (r"(?i)\bseed[- ](document|doc|faithful)\b", "the planning document"),
    (r"(?i)\bthe seed's\b", "the planning document"),
    (r"(?i)\bthe seed (document|doc|says|describes|names|lists|promises|asks|wants)\b", "the planning document"),
    (r"what_train_py_does", "the planning document"),
    (r"(?i)\bshared/seed\b", "the planning document"),
    (r"(?i)\bthe issue\b", "an issue"),
    (r"(?i)\bissue ?#?\d+\b", "an issue"),
    (r"(?i)\bsee the task\b", "a task"),
    (r"(?i)\bthe task (description|brief|says)\b", "a task"),
    (r"(?i)\bthe brief\b", "a task"),
    (r"(?i)\bteam lead\b", "a person outside the repository"),
]
for name, text in files.items():
    if name == SELF:
        continue
    for number, line in enumerate(text.splitlines(), 1):
        for pattern, what in OUTSIDE:
            m = re.search(pattern, line)
            if m:
                problem(f"{name}:{number}: '{m.group(0)}' points outside the repository ({what}); "
                        "say what it means, with background in docs/")

# ---- 2. environment variables ----
def is_shell(name, text):
    return (name.endswith((".sh", ".sbatch")) or name == ".ci/run"
            or bool(re.match(r"#!.*\b(ba)?sh\b", text)))
read = {}  # variable -> first place that reads it
for name, text in files.items():
    if name == SELF or name.startswith("docs/") or name.endswith(".md"):
        continue
    found = []
    if name.endswith((".cpp", ".h", ".hpp", ".cc")):
        found += re.findall(r'"(FERGAN_[A-Z0-9_]+)"', text)
    if is_shell(name, text):
        found += re.findall(r"\$\{(FERGAN_[A-Z0-9_]+)(?::?[-=?+])", text)
    if name.endswith(".py"):
        found += re.findall(r"""(?:environ(?:\.get)?\(?\[?|getenv\()\s*["'](FERGAN_[A-Z0-9_]+)""", text)
    if name.endswith((".cmake", "CMakeLists.txt")):
        found += re.findall(r"\$ENV\{(FERGAN_[A-Z0-9_]+)\}", text)
    for var in found:
        read.setdefault(var, name)
env_doc = "docs/environment.md"
documented = set()
if env_doc in files:
    for line in files[env_doc].splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            documented.update(re.findall(r"`(FERGAN_[A-Z0-9_]+)`", cells[1]))
elif read:
    problem(f"{env_doc} is missing")
for var in sorted(set(read) - documented):
    problem(f"{read[var]} reads the environment variable {var}, which has no row in {env_doc}")
elsewhere = "\n".join(t for n, t in files.items() if n != SELF and not n.endswith(".md"))
for var in sorted(documented):
    if not re.search(r"\b" + var + r"\b", elsewhere):
        problem(f"{env_doc} documents {var}, which nothing in the repository uses any more")

# ---- 3. links in README.md and docs/*.md ----
def fenced_free(text):
    """The lines of a markdown text with fenced code blocks blanked (line numbers kept)."""
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"\s*(```+|~~~+)", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            out.append("")
        elif m:
            fence = m.group(1)
            out.append("")
        else:
            out.append(line)
    return out

def code_spans(line):
    spans, i = [], 0
    while True:
        start = line.find("`", i)
        if start < 0:
            return spans
        n = len(line[start:]) - len(line[start:].lstrip("`"))
        end = line.find("`" * n, start + n)
        if end < 0:
            return spans
        spans.append((start, end + n))
        i = end + n

def slug(heading):
    h = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    h = re.sub(r"[^\w\- ]", "", h.replace("`", ""))
    return h.replace(" ", "-")

anchors_cache = {}
def anchors(name):
    if name not in anchors_cache:
        seen, result = {}, set()
        for line in fenced_free(files.get(name, "")):
            m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                base = slug(m.group(1))
                k = seen.get(base, 0)
                result.add(base if k == 0 else f"{base}-{k}")
                seen[base] = k + 1
            result.update(re.findall(r"""<a\s+(?:name|id)=["']([^"']+)["']""", line))
        anchors_cache[name] = result
    return anchors_cache[name]

reported = set()  # (file, line, path) of the links, so that section 4 does not report them again
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
for name in docs:
    for number, line in enumerate(fenced_free(files[name]), 1):
        spans = code_spans(line)
        targets = [m.group(1) for m in LINK.finditer(line)
                   if not any(a <= m.start() < b for a, b in spans)]
        m = REFDEF.match(line)
        if m:
            targets.append(m.group(1))
        for target in targets:
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            target_name = name if not path else os.path.normpath(os.path.join(os.path.dirname(name), path))
            reported.add((name, number, target_name))
            if path and not os.path.exists(os.path.join(root, target_name)):
                problem(f"{name}:{number}: link to '{target}': {target_name} does not exist")
                continue
            if anchor:
                if not target_name.endswith(".md"):
                    problem(f"{name}:{number}: link to '{target}': an anchor into a file that is not markdown")
                elif anchor not in anchors(target_name):
                    problem(f"{name}:{number}: link to '{target}': {target_name} has no heading with anchor "
                            f"#{anchor}")

# ---- 4. repository paths named by the docs; docs/NAME.md named anywhere ----
TOP = r"(?:src|include|apps|tests|launch|slurm|config|data_prep|bench|cmake|docs|\.ci)"
# The whole token or nothing (an emulated atomic group): src/eval/section_*.cpp is a pattern, not src/eval.
PATH = re.compile(r"(?<![\w./-])(?=(" + TOP + r"/[\w./-]*))\1(?![*<{])")
for name in docs:
    for number, line in enumerate(files[name].splitlines(), 1):
        for token in PATH.findall(line):
            token = token.rstrip(".")
            if any(re.fullmatch(r"[A-Z]+", part) for part in token.split("/")) or ".." in token:
                continue  # a placeholder such as src/NAME/
            if (name, number, token) in reported:
                continue
            reported.add((name, number, token))
            if not os.path.exists(os.path.join(root, token)):
                problem(f"{name}:{number}: names {token}, which does not exist")
for name, text in files.items():
    if name == SELF or name in docs:  # the docs' paths are all checked above
        continue
    for number, line in enumerate(text.splitlines(), 1):
        for doc in re.findall(r"(?<![\w/.-])(docs/[\w.-]+\.md)\b", line):
            if doc not in files:
                problem(f"{name}:{number}: points to {doc}, which does not exist")

# ---- 5. docs/architecture.md's library table against CMakeLists.txt ----
if "CMakeLists.txt" in files:
    declared = {}
    for lib, args in re.findall(r"^fergan_library\((\w+)([^)]*)\)", files["CMakeLists.txt"], re.M):
        words = args.split()
        deps = words[words.index("DEPS") + 1:] if "DEPS" in words else []
        if "LIBS" in deps:
            deps = deps[:deps.index("LIBS")]
        declared["fg_" + lib] = set("fg_" + d for d in deps)
    arch = "docs/architecture.md"
    if declared and arch not in files:
        problem(f"{arch} is missing")
    elif declared:
        table = {}
        for line in files[arch].splitlines():
            cells = [c.strip() for c in line.split("|")]
            if len(cells) > 3 and re.fullmatch(r"`fg_\w+`", cells[1]):
                table[cells[1].strip("`")] = set(re.findall(r"`(fg_\w+)`", cells[2]))
        for lib in sorted(set(declared) | set(table)):
            if lib not in table:
                problem(f"{arch}: the library table has no row for {lib} (CMakeLists.txt declares it)")
            elif lib not in declared:
                problem(f"{arch}: the library table lists {lib}, which CMakeLists.txt does not declare")
            elif table[lib] != declared[lib]:
                problem(f"{arch}: {lib} DEPS are {' '.join(sorted(declared[lib])) or 'none'} in CMakeLists.txt, "
                        f"{' '.join(sorted(table[lib])) or 'none'} in the library table")

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY

# check ROOT: runs the checker; its output in $out, its exit code in $rc.
check() {
  set +e
  out=$(python3 "$tmp/check_docs.py" "$1" 2>&1)
  rc=$?
  set -e
}

# A clean fixture tree: one of everything the checker reads.
fixture() {
  local d=$1
  mkdir -p "$d"/{docs,src/core,slurm,launch,tests/scripts}
  cat >"$d/README.md" <<'EOF'
# fixture
See [the environment](docs/environment.md#programs), [layout](#layout-and-more) and `src/core/env.cpp`.
[External](https://example.com/x) and `[not a link](nowhere.md)` are not checked.
## Layout and more
EOF
  cat >"$d/docs/environment.md" <<'EOF'
# Environment
## Programs
| name | read by | meaning | default |
|---|---|---|---|
| `FERGAN_CACHE` | `src/core/env.cpp` | cache size | 1 |
| `FERGAN_JOB_DIR` | `slurm/job.sbatch` | job directory | `.` |
| `FERGAN_READER` | `src/data/reader.cpp` | reader setting | 0 |
EOF
  cat >"$d/docs/architecture.md" <<'EOF'
# Architecture
| library | DEPS | holds |
|---|---|---|
| `fg_core` | | everything basic |
| `fg_data` | `fg_core` | data |
```
src/NAME/ is a placeholder; src/core/env.cpp exists
```
EOF
  cat >"$d/CMakeLists.txt" <<'EOF'
fergan_library(core LIBS z)
fergan_library(data DEPS core LIBS ${HDF5})
EOF
  cat >"$d/src/core/env.cpp" <<'EOF'
// Reads the cache size (docs/environment.md); a random seed is "the seed" here, which is fine.
const char* cache = std::getenv("FERGAN_CACHE");
#ifdef FERGAN_WITH_CUDA
#endif
EOF
  # A nested data/ is source; the top-level data/ and build/ are ignored outputs (as .gitignore says).
  mkdir -p "$d"/src/data "$d"/data "$d"/build
  printf 'const char* r = std::getenv("FERGAN_READER");\n' >"$d/src/data/reader.cpp"
  printf 'x=${FERGAN_IN_DATA:-}  # see SPEC\n' >"$d/data/prepare.sh"
  printf 'const char* b = std::getenv("FERGAN_IN_BUILD");\n' >"$d/build/generated.cpp"
  cat >"$d/slurm/job.sbatch" <<'EOF'
#!/bin/bash
dir=${FERGAN_JOB_DIR:-.}
FERGAN_INTERNAL=3  # a shell variable of the script, never read from the environment
echo "$FERGAN_INTERNAL ${FERGAN_ARGS[@]}"
EOF
}

# expect_problem NAME WANT: the checker failed and reported WANT.
expect_problem() {
  [ $rc != 0 ] || { echo "$out"; fail "$1: the checker passed"; }
  grep -qF -- "$2" <<<"$out" || { echo "$out"; fail "$1: no problem reported as '$2'"; }
  pass "finds $1"
}

fixture "$tmp/good"
check "$tmp/good"
[ $rc = 0 ] || { echo "$out"; fail "the clean fixture has problems"; }
pass "clean fixture"

fixture "$tmp/bad"
printf '// The layer sizes of SPEC §2; see the issue.\n' >>"$tmp/bad/src/core/env.cpp"
printf 'cap=${FERGAN_UNDOCUMENTED:-4}\n' >>"$tmp/bad/slurm/job.sbatch"
printf 'const char* x = std::getenv("FERGAN_ALSO_UNDOCUMENTED");\n' >>"$tmp/bad/src/core/env.cpp"
printf '| `FERGAN_GONE` | nothing | stale | 0 |\n' >>"$tmp/bad/docs/environment.md"
printf 'See [gone](docs/gone.md), [bad anchor](docs/environment.md#nowhere) and [self](#no-such-heading).\n' \
  >>"$tmp/bad/README.md"
printf 'Also `tests/scripts/test_gone.sh`.\n' >>"$tmp/bad/README.md"
printf '# The targets of docs/missing.md.\n' >>"$tmp/bad/slurm/job.sbatch"
printf 'fergan_library(train DEPS data core)\n' >>"$tmp/bad/CMakeLists.txt"
sed -i 's/^| `fg_data` | `fg_core` |/| `fg_data` | |/' "$tmp/bad/docs/architecture.md"
check "$tmp/bad"
expect_problem "SPEC" "src/core/env.cpp:5: 'SPEC' points outside the repository"
expect_problem "§" "'§' points outside the repository"
expect_problem "'the issue'" "'the issue' points outside the repository"
expect_problem "an undocumented shell variable" "slurm/job.sbatch reads the environment variable FERGAN_UNDOCUMENTED"
expect_problem "an undocumented getenv" "reads the environment variable FERGAN_ALSO_UNDOCUMENTED"
expect_problem "a stale row" "documents FERGAN_GONE, which nothing in the repository uses"
expect_problem "a missing file" "link to 'docs/gone.md': docs/gone.md does not exist"
expect_problem "a missing anchor" "docs/environment.md has no heading with anchor #nowhere"
expect_problem "a missing anchor in the same file" "README.md has no heading with anchor #no-such-heading"
expect_problem "a missing path" "names tests/scripts/test_gone.sh, which does not exist"
expect_problem "a comment pointing to a missing doc" "points to docs/missing.md, which does not exist"
expect_problem "a missing library row" "the library table has no row for fg_train"
expect_problem "wrong DEPS" "fg_data DEPS are fg_core in CMakeLists.txt, none in the library table"
n=$(grep -c . <<<"$out")
[ "$n" = 13 ] || { echo "$out"; fail "expected exactly the 13 planted problems, got $n"; }
pass "exactly the planted problems"

check "$SRC"
[ $rc = 0 ] || { echo "$out"; fail "the repository's docs and comments: $(grep -c . <<<"$out") problem(s) above"; }
pass "the repository: no outside references, every variable documented, every link and path resolves"
echo "PASS: docs"

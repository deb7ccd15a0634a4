#!/usr/bin/env bash
# The build's include-graph check (fergan_check_include_graph, cmake/IncludeGraph.cmake) on fixture trees, in
# CMake script mode: a tree whose includes match its libraries' DEPS passes; a library that includes a header
# of one it does not link, a public header doing the same, and a DEP that nothing includes each fail, with a
# message naming the file or library and nothing else. Also checks that CMakeLists.txt still runs the check.
# Needs only cmake (no build).
# shellcheck disable=SC2016  # a literal ${...} of CMake on purpose
set -euo pipefail
SRC=${FERGAN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
tmp=$(mktemp -d /tmp/fergan_include_graph_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

# The build must include the module and call the check after defining the libraries.
grep -qx 'include(${CMAKE_CURRENT_SOURCE_DIR}/cmake/IncludeGraph.cmake)' "$SRC/CMakeLists.txt" ||
  fail "CMakeLists.txt does not include cmake/IncludeGraph.cmake"
grep -qx 'fergan_check_include_graph()' "$SRC/CMakeLists.txt" ||
  fail "CMakeLists.txt does not call fergan_check_include_graph()"
last_library=$(grep -n '^fergan_library(' "$SRC/CMakeLists.txt" | tail -1 | cut -d: -f1)
check_call=$(grep -nx 'fergan_check_include_graph()' "$SRC/CMakeLists.txt" | cut -d: -f1)
((check_call > last_library)) || fail "fergan_check_include_graph() runs before the last fergan_library()"
pass "CMakeLists.txt runs the check after the last library"

# fixture DIR: a three-library tree, core <- data <- train, whose includes match "train: data core; data: core".
# Every place the check reads is used: src/NAME/*.cpp, src/NAME/*.h (private) and include/fergan/NAME/*.h.
fixture() {
  local d=$1
  mkdir -p "$d"/src/{core,data,train} "$d"/include/fergan/{core,data,train}
  printf '#pragma once\n' >"$d/include/fergan/core/core.h"
  printf '#include "fergan/core/core.h"\n' >"$d/src/core/core.cpp"
  printf '#pragma once\n#include "fergan/core/core.h"\n' >"$d/include/fergan/data/data.h"
  printf '#pragma once\n#include <vector>\n' >"$d/src/data/private.h"
  printf '#include "fergan/data/data.h"\n#include "private.h"\n' >"$d/src/data/data.cpp"
  printf '#pragma once\n#include "fergan/core/core.h"\n' >"$d/include/fergan/train/train.h"
  printf '#include "fergan/train/train.h"\n\n#include "fergan/data/data.h"\n' >"$d/src/train/train.cpp"
  printf '// #include "fergan/eval/eval.h" in a comment is not an include\n' >>"$d/src/train/train.cpp"
  # The libraries as fergan_library() registers them, then the check.
  cat >"$d/graph.cmake" <<EOF
cmake_minimum_required(VERSION 3.18)
include("$SRC/cmake/IncludeGraph.cmake")
set_property(GLOBAL APPEND PROPERTY FERGAN_LIBRARIES core)
set_property(GLOBAL PROPERTY FERGAN_DEPS_core "")
set_property(GLOBAL APPEND PROPERTY FERGAN_LIBRARIES data)
set_property(GLOBAL PROPERTY FERGAN_DEPS_data core)
set_property(GLOBAL APPEND PROPERTY FERGAN_LIBRARIES train)
set_property(GLOBAL PROPERTY FERGAN_DEPS_train \${TRAIN_DEPS})
fergan_check_include_graph()
message(STATUS "include graph matches")
EOF
}

# run_check DIR TRAIN_DEPS: the check in DIR (script mode: CMAKE_CURRENT_SOURCE_DIR is the working directory);
# output in $out, exit code in $rc.
run_check() {
  set +e
  out=$(cd "$1" && cmake -DTRAIN_DEPS="$2" -P graph.cmake 2>&1)
  rc=$?
  set -e
}

# expect_failure NAME WANT: the check failed, its message says the graphs differ, names WANT, and lists exactly
# one problem (no false alarms from the rest of the tree).
expect_failure() {
  [ $rc != 0 ] || { echo "$out"; fail "$1: the check passed"; }
  grep -q 'the library graph does not match the include graph' <<<"$out" || { echo "$out"; fail "$1: wrong message"; }
  grep -qF -- "$2" <<<"$out" || { echo "$out"; fail "$1: the message does not say '$2'"; }
  [ "$(grep -c '^    ' <<<"$out")" = 1 ] || { echo "$out"; fail "$1: expected exactly one problem"; }
  pass "$1"
}

# 1. Matching graphs pass.
fixture "$tmp/good"
run_check "$tmp/good" "data;core"
[ $rc = 0 ] || { echo "$out"; fail "matching graphs: the check failed"; }
grep -q 'include graph matches' <<<"$out" || { echo "$out"; fail "matching graphs: the check did not finish"; }
pass "matching graphs pass"

# 2. A source file including a header of a library its library does not link.
fixture "$tmp/undeclared"
printf '#include "fergan/data/data.h"\n' >>"$tmp/undeclared/src/core/core.cpp"
run_check "$tmp/undeclared" "data;core"
expect_failure "undeclared include in a source file" \
  "src/core/core.cpp includes a fergan/data/ header, but fg_core does not link fg_data"

# 3. The same in a public header.
fixture "$tmp/header"
printf '#include "fergan/train/train.h"\n' >>"$tmp/header/include/fergan/data/data.h"
run_check "$tmp/header" "data;core"
expect_failure "undeclared include in a public header" \
  "include/fergan/data/data.h includes a fergan/train/ header, but fg_data does not link fg_train"

# 4. A DEP that none of the library's files includes.
fixture "$tmp/unused"
run_check "$tmp/unused" "data;core;clip"
expect_failure "a DEP never included" "fg_train links fg_clip but includes none of its headers"

echo "PASS: include-graph check (4 fixtures)"

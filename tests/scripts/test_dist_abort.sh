#!/usr/bin/env bash
# A failure on one rank ends every rank promptly: `mpirun -np 2` of a program whose rank 1 throws (and calls
# dist::Context::abort from its catch) or is SIGKILLed, while rank 0 waits in a collective, must exit
# non-zero within 30 s of the failure; for the throw, rank 1's message must be in the output.
set -u
bin="${FERGAN_BUILD_DIR:?}/bin/test_dist"
[[ -x "$bin" ]] || { echo "missing $bin (build target test_dist)"; exit 1; }
mpi_flags=(--oversubscribe)
[[ "$(id -u)" == 0 ]] && mpi_flags+=(--allow-run-as-root)
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
for mode in throw kill; do
  FERGAN_ABORT_CHILD=$mode OMP_NUM_THREADS=1 timeout 120 mpirun -np 2 "${mpi_flags[@]}" \
    -x FERGAN_ABORT_CHILD -x OMP_NUM_THREADS "$bin" --gtest_filter='DistAbortChild.*' >"$out" 2>&1
  rc=$?
  end_ms=$(( $(date +%s%N) / 1000000 ))
  fail_ms=$(grep -o 'FAIL_AT_MS=[0-9]*' "$out" | head -1 | cut -d= -f2)
  if [[ -z "$fail_ms" ]]; then echo "FAIL ($mode): rank 1 never reached its failure point:"; cat "$out"; status=1; continue; fi
  elapsed_ms=$(( end_ms - fail_ms ))
  echo "mode=$mode exit=$rc elapsed=${elapsed_ms}ms"
  if [[ $rc -eq 0 ]]; then echo "FAIL ($mode): job exited 0"; status=1; fi
  if [[ $rc -eq 124 ]]; then echo "FAIL ($mode): job hung (killed by timeout)"; status=1; fi
  if (( elapsed_ms > 30000 )); then echo "FAIL ($mode): took ${elapsed_ms}ms > 30s"; status=1; fi
  if [[ $mode == throw ]] && ! grep -q "\[rank 1\] fatal: deliberate failure on rank 1" "$out"; then
    echo "FAIL ($mode): rank 1's message missing from the output:"; cat "$out"; status=1
  fi
done
[[ $status -eq 0 ]] && echo "PASS"
exit $status

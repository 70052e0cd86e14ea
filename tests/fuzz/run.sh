#!/bin/bash
# NAME
#	run.sh - build the libFuzzer targets with clang and run each of them
# SYNOPSIS
#	FUZZ_SECONDS=60 bash tests/fuzz/run.sh [target...]      ("make fuzz")
#	FUZZ_FLAGS="-detect_leaks=0" bash tests/fuzz/run.sh wrap
# DESCRIPTION
#	Configures build-fuzz/ with clang and -DTAB_FUZZ=ON, builds the targets
#	and runs each (all of tests/fuzz/fuzz_*.c, or those named) for
#	FUZZ_SECONDS with ASan and UBSan. The working corpus lives in
#	build-fuzz/corpus/<target>/ and is seeded from tests/fuzz/corpus/<target>/
#	(which stays the small, reviewed regression corpus: only crash
#	reproducers are copied back). Reproducers already in the corpus
#	(crash-*, leak-*, timeout-*, ...) are replayed first and reported when
#	they still fail, but not used as seeds, so that a known bug does not
#	stop the search for others. A dictionary tests/fuzz/<target>.dict is
#	used when it exists. Scratch files go to a private directory on
#	/dev/shm that is removed at the end.
#
#	FUZZ_FLAGS adds libFuzzer options (e.g. -detect_leaks=0 to look past a
#	known leak, -jobs=N).
#
#	Prints per target: runs, exec/s, coverage (cov: edges, ft: features),
#	corpus size and crashes; the libFuzzer log is build-fuzz/<target>.log.
# DIAGNOSTICS
#	Exit 1 when a target crashed, leaked, timed out or broke an invariant,
#	or a known reproducer still fails;
#	its reproducer is copied to tests/fuzz/corpus/<target>/crash-<sha1>,
#	which "make test" then replays until the bug is fixed. Exit 2 when the
#	build fails.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
build="${FUZZ_BUILD:-$src/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
jobs=$(nproc 2>/dev/null || echo 2)

if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for f in "$src"/tests/fuzz/fuzz_*.c; do
        t=$(basename "$f" .c)
        targets+=("${t#fuzz_}")
    done
fi

echo "== configuring $build (clang, TAB_FUZZ=ON)"
if ! cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DTAB_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1; then
    cat "$build.configure.log"
    exit 2
fi
for t in "${targets[@]}"; do
    if ! cmake --build "$build" -j "$jobs" --target "fuzz_$t" >"$build/build-$t.log" 2>&1; then
        cat "$build/build-$t.log"
        exit 2
    fi
done

scratch=$(mktemp -d "${FUZZ_TMP:-/dev/shm}/tabfuzz-run.XXXXXX") || exit 2
trap 'rm -rf "$scratch"' EXIT

found=0
printf '\n%-14s %8s %10s %8s %8s %8s %7s  %s\n' target seconds runs exec/s cov ft corpus crashes
for t in "${targets[@]}"; do
    work="$build/corpus/$t"
    artifacts="$build/artifacts/$t"
    log="$build/$t.log"
    mkdir -p "$work" "$artifacts"
    rm -f "$artifacts"/*
    # Reproducers of known bugs are replayed first and reported; they are
    # not seeds, or the run would stop at once on a bug not yet fixed.
    seeds="$build/seeds/$t"
    rm -rf "$seeds"
    mkdir -p "$seeds"
    for f in "$src/tests/fuzz/corpus/$t"/*; do
        [ -f "$f" ] || continue
        case $(basename "$f") in
        crash-* | leak-* | timeout-* | oom-* | slow-unit-*)
            mkdir -p "$scratch/known"
            if ! TMPDIR="$scratch/known" "$build/tests/fuzz/fuzz_$t" "$f" >"$build/known.log" 2>&1; then
                echo "   $t: known reproducer still fails: tests/fuzz/corpus/$t/$(basename "$f")"
                found=1
            fi
            ;;
        *) cp "$f" "$seeds/" ;;
        esac
    done
    dict=()
    [ -f "$src/tests/fuzz/$t.dict" ] && dict=(-dict="$src/tests/fuzz/$t.dict")
    # -close_fd_mask=2: the session logs every delivery on stderr; libFuzzer
    # and the sanitizers keep reporting on a copy of it.
    mkdir -p "$scratch/$t"
    leaks=1
    case " ${FUZZ_FLAGS:-} " in *" -detect_leaks=0 "*) leaks=0 ;; esac
    TMPDIR="$scratch/$t" ASAN_OPTIONS=detect_leaks=$leaks:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$build/tests/fuzz/fuzz_$t" "$work" "$seeds" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -print_final_stats=1 -close_fd_mask=2 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_FLAGS:-} \
        >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -ao 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    size=$(find "$work" -type f | wc -l)
    crashes=0
    for a in "$artifacts"/*; do
        [ -f "$a" ] || continue
        crashes=$((crashes + 1))
        if [ ! -s "$a" ]; then
            # An empty "input": the failure came after the last one (at exit).
            echo "   $t: failure outside any input (at exit?); see $log"
            continue
        fi
        sha=$(sha1sum "$a" | cut -d' ' -f1)
        kind=$(basename "$a" | cut -d- -f1)
        cp "$a" "$src/tests/fuzz/corpus/$t/$kind-$sha"
        echo "   $t: $kind reproducer saved as tests/fuzz/corpus/$t/$kind-$sha"
    done
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        echo "   $t: libFuzzer exited $rc without a reproducer; see $log"
        crashes=1
    fi
    [ "$crashes" -gt 0 ] && found=1
    line=$(printf '%-14s %8s %10s %8s %8s %8s %7s  %s' "$t" "$seconds" "${runs:-?}" "${eps:-?}" \
        "${cov:-?}" "${ft:-?}" "$size" "$crashes")
    echo "$line"
done

if [ "$found" -ne 0 ]; then
    echo
    echo "fuzzing found problems: see build-fuzz/<target>.log and the reproducers above"
    exit 1
fi
echo
echo "no crashes"

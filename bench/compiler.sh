#!/usr/bin/env bash
# Benchmarks `netbootc check` and `netbootc build` on generated fleets of 100, 1,000 and
# 10,000 machines against the `cp -r` floor and a Python/Jinja2 peer. See bench/README.md.
#
#   bench/compiler.sh                 # all sizes
#   SIZES="100 1000" bench/compiler.sh
#   RUNS=7 bench/compiler.sh          # timed runs per measurement (default: 5, 3 at 10k)
#
# Work files go to $BENCH_DIR (default /tmp/netbootc-bench); netbootc is built into
# $CARGO_TARGET_DIR (default target/bench-target in the repository: a target directory of its
# own, so it does not wait for other builds' cargo lock).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target/bench-target}
work=${BENCH_DIR:-/tmp/netbootc-bench}
sizes=${SIZES:-100 1000 10000}
start=$(date +%s)

python3 -c 'import jinja2, yaml' 2>/dev/null || pip install --quiet jinja2 pyyaml

echo "building netbootc (release) into $CARGO_TARGET_DIR ..." >&2
(cd "$repo" && cargo build --quiet --release -p netbootc)
bin=$CARGO_TARGET_DIR/release/netbootc
measure() { python3 "$here/measure.py" "$@"; }
field() { echo "$1" | cut -d' ' -f"$2"; }
ratio() { python3 -c "print(f'{$1 / $2:.1f}×')"; }

mkdir -p "$work"
rows=()
cpu_rows=()
for n in $sizes; do
    runs=${RUNS:-$([ "$n" -ge 10000 ] && echo 3 || echo 5)}
    dir=$work/fleet-$n
    echo "N=$n: generating the fleet ..." >&2
    python3 "$here/gen_fleet.py" "$dir" --machines "$n" --profiles 4 --per-file 250
    cfg=$dir/config

    echo "N=$n: check ($runs runs) ..." >&2
    check=$(measure "$runs" -- "$bin" check --config "$cfg")
    echo "N=$n: build, fresh out/ ($runs runs) ..." >&2
    # Every setup that deletes a tree ends with `sync`: the build flushes the file system
    # (syncfs) before it writes `current`, and would otherwise pay for writing back the
    # deletion it did not do, while `cp -r` (no flush) would not.
    build=$(measure "$runs" --setup "rm -rf '$dir/out'; sync" -- "$bin" build --config "$cfg" -o "$dir/out")
    echo "N=$n: rebuild into the existing out/ ($runs runs) ..." >&2
    rebuild=$(measure "$runs" -- "$bin" build --config "$cfg" -o "$dir/out")
    echo "N=$n: cp -r floor ($runs runs) ..." >&2
    floor=$(measure "$runs" --no-rss --setup "rm -rf '$dir/floor'; sync" -- cp -r "$dir/out" "$dir/floor")
    echo "N=$n: Jinja2 peer ($runs runs) ..." >&2
    peer=$(measure "$runs" --no-rss -- python3 "$here/peer_render.py" "$dir" "$dir/peer")
    # Same work on both sides: every peer script must be byte-identical to netbootc's.
    python3 "$here/peer_render.py" "$dir" "$dir/peer" --verify "$dir/out" --verify-only

    rows+=("| $n | $(field "$check" 1) | $(field "$build" 1) | $(field "$rebuild" 1) | $(field "$floor" 1) | $(ratio "$(field "$build" 1)" "$(field "$floor" 1)") | $(field "$peer" 1) | $(ratio "$(field "$peer" 1)" "$(field "$build" 1)") | $(field "$check" 3) / $(field "$build" 3) |")
    cpu_rows+=("| $n | $(field "$check" 2) | $(field "$build" 2) | $(field "$rebuild" 2) | $(field "$floor" 2) | $(field "$peer" 2) | $(ratio "$(field "$peer" 2)" "$(field "$build" 2)") | $(field "$build" 4)–$(field "$build" 5) |")

    if [ "$n" -ge 10000 ]; then
        echo "N=$n: build with RAYON_NUM_THREADS=1 ($runs runs) ..." >&2
        one=$(RAYON_NUM_THREADS=1 measure "$runs" --setup "rm -rf '$dir/out1'; sync" -- "$bin" build --config "$cfg" -o "$dir/out1")
        threads_row="| $n | $(field "$one" 1) | $(field "$build" 1) | $(ratio "$(field "$one" 1)" "$(field "$build" 1)") | $(field "$one" 2) | $(field "$build" 2) |"
        # Determinism: one thread and all threads give byte-identical trees.
        diff -r "$dir/out" "$dir/out1" >/dev/null && identical=yes || identical=NO
    fi
done

# Hostile inputs (compiler/tests/hostile.rs writes its corpus): `check` on each, which
# must exit 1; the test's bound is generous, these are the real figures.
hostile_rows=()
if [ "${HOSTILE:-1}" != 0 ]; then
    hdir=$work/hostile
    rm -rf "$hdir" && mkdir -p "$hdir/inputs"
    (cd "$repo" && HOSTILE_DIR=$hdir/inputs cargo test --quiet -p netbootc --test hostile -- \
        --ignored write_corpus_for_the_benchmark >/dev/null)
    while IFS=$'\t' read -r i name; do
        cfg=$hdir/config-$i
        mkdir -p "$cfg/machines"
        cp -r "$repo/profiles" "$cfg/profiles"
        cp "$hdir/inputs/$i.kdl" "$cfg/machines/hostile.kdl"
        echo "hostile: $name ..." >&2
        t=$(measure 3 -- sh -c "'$bin' check --config '$cfg' >/dev/null 2>&1; [ \$? = 1 ]")
        hostile_rows+=("| $name | $(stat -c %s "$cfg/machines/hostile.kdl") | $(field "$t" 1) | $(field "$t" 3) |")
    done < "$hdir/inputs/names.txt"
fi

echo
echo "Wall time, median of the timed runs, in ms (machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)."
echo
echo "| N | check ms | build ms | rebuild ms | cp -r floor ms | build/floor | peer ms | peer/ours | peak RSS KiB (check / build) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "CPU time (user + sys), median, in ms; the last column is the build's wall-time range."
echo
echo "| N | check CPU | build CPU | rebuild CPU | cp -r CPU | peer CPU | peer/ours CPU | build wall min–max |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${cpu_rows[@]}"
if [ -n "${threads_row:-}" ]; then
    echo
    echo "Threads, build of the largest fleet (wall and CPU ms, medians); out/ identical: $identical."
    echo
    echo "| N | 1 thread | default ($(nproc)) | speed-up | 1 thread CPU | default CPU |"
    echo "|---:|---:|---:|---:|---:|---:|"
    echo "$threads_row"
fi
if [ ${#hostile_rows[@]} -gt 0 ]; then
    echo
    echo "Hostile inputs: \`check\` (exit 1), median of 3, through sh -c (about 1 ms of it)."
    echo
    echo "| input | bytes | wall ms | peak RSS KiB |"
    echo "|---|---:|---:|---:|"
    printf '%s\n' "${hostile_rows[@]}"
fi
echo
echo "benchmark took $(($(date +%s) - start)) s"

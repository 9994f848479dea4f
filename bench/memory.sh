#!/usr/bin/env bash
# bench/memory.sh: daemon memory per cached inode, ours against the Rust
# virtiofsd. bench/vfe_mig.c --rss-only: the front-end starts the device and
# INITs (VmRSS of the daemon = the idle baseline), LOOKUPs N files (1000 a
# directory), and reads VmRSS again; (after - baseline) / N per inode.
# Kernel memory (dentries, inodes, O_PATH files) is not in RSS and is not
# counted. Rounds alternate ours and Rust; medians.
#
# Usage: bench/memory.sh [--sizes=18000] [--reps=N]
#                        [--rust-args="..."] [--out=FILE.md]
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
# shellcheck source=bench/lib.sh
. "$VFS_ROOT/bench/lib.sh"

sizes=18000
reps=3
out=$BENCH_OUT/memory.md
# Both daemons hold an O_PATH fd per cached inode by default: N is bounded
# by the hard RLIMIT_NOFILE (see bench/migration.sh).
rust_args=
ours_args=
bench_size_args "$@"
bench_build
bench_peers
MIG=$(bench_tool vfe_mig)

work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-mem.XXXXXX")
DPID=
cleanup() { daemon_stop; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$BENCH_OUT"
raw=${out%.md}.tsv
: >"$raw"

say "sizes ${sizes}, $reps rounds (rust: ${rust_args:-defaults}; ours: ${ours_args:-defaults}); nofile limit $(ulimit -Hn)"
for n in "${sizelist[@]}"; do
    rm -rf "$work/shared"
    mkdir "$work/shared"
    pop=--populate
    for ((r = 0; r < reps; r++)); do
        order=(ours rust)
        if ((r % 2)); then order=(rust ours); fi
        for kind in "${order[@]}"; do
            ex=()
            if [[ $kind == rust ]]; then ex=("${rust_extra[@]}"); fi
            if [[ $kind == ours ]]; then ex=("${ours_extra[@]}"); fi
            daemon_start "$kind" "$work/sock" "$work/shared" "$work/daemon.log" 0 "${ex[@]}"
            args=(--socket="$work/sock" --pid="$DPID" --files="$n" --shared-dir="$work/shared" --rss-only)
            if [[ -n $pop ]]; then args+=("$pop"); fi
            if line=$("$MIG" "${args[@]}" 2>"$work/mig.err"); then
                printf '%s\t%s\t%s\t%s\n' "$n" "$kind" "$r" "$line" >>"$raw"
                say "$n $kind: $line"
            else
                say "$n $kind: FAILED: $(tail -n2 "$work/mig.err" | tr '\n' ' ') / $(tail -n2 "$work/daemon.log" | tr '\n' ' ')"
            fi
            pop=
            daemon_stop
        done
    done
done

# med N KIND KEY: the median of KEY over the rounds.
med() {
    local -a v
    mapfile -t v < <(awk -F'\t' -v n="$1" -v k="$2" '$1 == n && $2 == k { print $4 }' "$raw" |
        tr ' ' '\n' | sed -n "s/^$3=//p")
    ((${#v[@]})) && median "${v[@]}" || echo -
}

{
    printf '## Memory per cached inode (bench/memory.sh)\n\n'
    # shellcheck disable=SC2016
    printf 'Command: `bench/memory.sh --sizes=%s --reps=%s` (Rust daemon: `%s`; ours: `%s`).\n' "$sizes" "$reps" "${rust_args:-defaults}" "${ours_args:-defaults}"
    printf 'VmRSS after N LOOKUPs minus VmRSS after INIT; medians of %s rounds; ratio = ours / rust.\n\n' "$reps"
    machine_md
    printf '\n| inodes | idle KiB ours | idle KiB rust | delta KiB ours | delta KiB rust | bytes/inode ours | bytes/inode rust | ratio |\n'
    printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
    for n in "${sizelist[@]}"; do
        io=$(med "$n" ours rss_idle_kib)
        ir=$(med "$n" rust rss_idle_kib)
        ro=$(med "$n" ours rss_kib)
        rr=$(med "$n" rust rss_kib)
        do_=-
        dr=-
        [[ $io != - && $ro != - ]] && do_=$((ro - io))
        [[ $ir != - && $rr != - ]] && dr=$((rr - ir))
        bo=$(med "$n" ours bytes_per_inode)
        br=$(med "$n" rust bytes_per_inode)
        printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$io" "$ir" "$do_" "$dr" "$bo" "$br" "$(ratio "$bo" "$br")"
    done
} >"$out"
cat "$out"
say "written $out (raw rounds: $raw)"

#!/usr/bin/env bash
# bench/migration.sh: device-state save + load, ours against the Rust
# virtiofsd, both driven the same way through the vhost-user protocol by
# bench/vfe_mig.c: N files on the host (1000 a directory), the front-end
# LOOKUPs every one, then either
#   snapshot: stop the rings, SAVE into a pipe, CHECK (all path collection
#             happens after the rings stopped), or
#   precopy:  dirty logging first (SET_LOG_BASE + LOG_ALL: both daemons then
#             collect paths in the background), wait until the source's CPU
#             is quiet, then stop + SAVE + CHECK;
# and a fresh destination daemon on the same directory LOADs the blob and
# answers CHECK. Downtime = stop + save + check + load (everything after the
# rings stop); pre-copy time is reported apart. Each size runs REPS rounds,
# ours and Rust alternating; medians.
#
# Usage: bench/migration.sh [--sizes=1000,10000,18000] [--reps=N]
#                           [--rust-args="..."] [--ours-args="..."] [--out=FILE.md]
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
# shellcheck source=bench/lib.sh
. "$VFS_ROOT/bench/lib.sh"

sizes=1000,10000,18000
reps=3
out=$BENCH_OUT/migration.md
# Both daemons hold an O_PATH fd per cached inode by default, so N is
# bounded by the hard RLIMIT_NOFILE (20000 on the bench machine, which has no
# CAP_SYS_RESOURCE to raise it): 100k / 1M need `ulimit -Hn` above N. The
# Rust daemon can hold file handles instead: --rust-args=--inode-file-handles=mandatory.
rust_args=
ours_args=
bench_size_args "$@"
bench_build
bench_peers
MIG=$(bench_tool vfe_mig)

work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-mig.XXXXXX")
DPID=
SRC=
DST=
cleanup() {
    local p
    for p in $SRC $DST; do DPID=$p daemon_stop; done
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$BENCH_OUT"
raw=${out%.md}.tsv
: >"$raw"

# extra KIND: the kind's extra daemon arguments, one a line.
extra() {
    if [[ $1 == rust && ${#rust_extra[@]} -gt 0 ]]; then printf '%s\n' "${rust_extra[@]}"; fi
    if [[ $1 == ours && ${#ours_extra[@]} -gt 0 ]]; then printf '%s\n' "${ours_extra[@]}"; fi
    return 0
}

say "sizes ${sizes}, $reps rounds, ours vs rust (rust: ${rust_args:-defaults}; ours: ${ours_args:-defaults}); nofile limit $(ulimit -Hn)"
for n in "${sizelist[@]}"; do
    rm -rf "$work/shared"
    mkdir "$work/shared"
    pop=--populate
    for ((r = 0; r < reps; r++)); do
        for mode in snapshot precopy; do
            order=(ours rust)
            if ((r % 2)); then order=(rust ours); fi
            for kind in "${order[@]}"; do
                mapfile -t ex < <(extra "$kind")
                daemon_start "$kind" "$work/src.sock" "$work/shared" "$work/src.log" 0 "${ex[@]}"
                SRC=$DPID
                daemon_start "$kind" "$work/dst.sock" "$work/shared" "$work/dst.log" 0 "${ex[@]}"
                DST=$DPID
                args=(--socket="$work/src.sock" --pid="$SRC" --files="$n" --shared-dir="$work/shared"
                      --dest-socket="$work/dst.sock" --dest-pid="$DST")
                if [[ -n $pop ]]; then args+=("$pop"); fi
                if [[ $mode == precopy ]]; then args+=(--precopy); fi
                if line=$("$MIG" "${args[@]}" 2>"$work/mig.err"); then
                    pop=
                    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$mode" "$kind" "$r" "$line" >>"$raw"
                    say "$n $mode $kind: $line"
                else
                    pop=
                    say "$n $mode $kind: FAILED: $(tail -n2 "$work/mig.err" | tr '\n' ' ') / $(tail -n2 "$work/src.log" | tr '\n' ' ')"
                fi
                for p in $SRC $DST; do DPID=$p daemon_stop; done
                SRC=
                DST=
            done
        done
    done
done

# med N MODE KIND KEY: the median of KEY over the rounds.
med() {
    local -a v
    mapfile -t v < <(awk -F'\t' -v n="$1" -v m="$2" -v k="$3" '$1 == n && $2 == m && $3 == k { print $5 }' "$raw" |
        tr ' ' '\n' | sed -n "s/^$4=//p")
    ((${#v[@]})) && median "${v[@]}" || echo -
}

{
    printf '## Migration (bench/migration.sh)\n\n'
    # shellcheck disable=SC2016
    printf 'Command: `bench/migration.sh --sizes=%s --reps=%s` (Rust daemon: `%s`; ours: `%s`).\n' "$sizes" "$reps" "${rust_args:-defaults}" "${ours_args:-defaults}"
    printf 'Medians of %s rounds; times in ms measured by the front-end; downtime = stop rings +\n' "$reps"
    printf 'SAVE to EOF + CHECK + LOAD + CHECK on the destination; ratio = ours / rust.\n\n'
    machine_md
    printf '\n| inodes | mode | downtime ours | downtime rust | ratio | save ours | save rust | load ours | load rust | blob ours | blob rust | ratio | pre-copy ours | pre-copy rust |\n'
    printf '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
    for n in "${sizelist[@]}"; do
        for mode in snapshot precopy; do
            do_=$(med "$n" "$mode" ours downtime_ms)
            dr=$(med "$n" "$mode" rust downtime_ms)
            bo=$(med "$n" "$mode" ours blob_bytes)
            br=$(med "$n" "$mode" rust blob_bytes)
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$mode" \
                "$do_" "$dr" "$(ratio "$do_" "$dr")" \
                "$(med "$n" "$mode" ours save_ms)" "$(med "$n" "$mode" rust save_ms)" \
                "$(med "$n" "$mode" ours load_ms)" "$(med "$n" "$mode" rust load_ms)" \
                "$bo" "$br" "$(ratio "$bo" "$br")" \
                "$(med "$n" "$mode" ours precopy_ms)" "$(med "$n" "$mode" rust precopy_ms)"
        done
    done
} >"$out"
cat "$out"
say "written $out (raw rounds: $raw)"

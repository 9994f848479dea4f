#!/usr/bin/env bash
# bench/daemon.sh: daemon-level speed, our daemon against the peers, driven
# identically by the vhost-user test front-end (tests/functional/vfe_load:
# it plays QEMU and the guest driver, one thread per request queue, DEPTH
# requests in flight on each).
#
# Configurations: ours without a pool (ours-p0) and with one (ours-poolN),
# on 1 request queue and on 4; the Rust virtiofsd and QEMU 7.2's C virtiofsd
# on 1 request queue (QEMU refuses to start the C one with more). Each cell
# (op x configuration) runs SECONDS with a fresh daemon on a fresh shared
# directory; repetitions are interleaved (every configuration once per
# round, the order rotated between rounds) and the median is reported.
#
# Figures: requests/s (create: CREATE+RELEASE+UNLINK cycles/s), p50 / p99
# latency as the front-end sees it, the daemon's CPU (utime + stime from
# /proc/PID/stat over the measured window) per request; ratios to Rust.
#
# Usage: bench/daemon.sh [--seconds=S] [--reps=N] [--depth=N] [--pool=N]
#                        [--ops=a,b,...] [--only=cfg,...] [--out=FILE.md]
# Ops: lookup getattr readdirplus create read4k read1m write4k write1m.
set -Eeuo pipefail
# Say where a failing command stopped the run (set -e alone exits silently).
trap 'say "stopped: line $LINENO: $BASH_COMMAND (status $?)"' ERR
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
# shellcheck source=bench/lib.sh
. "$VFS_ROOT/bench/lib.sh"

secs=3
reps=3
depth=16
pool=4
ops=lookup,getattr,readdirplus,create,read4k,read1m,write4k,write1m
only=
out=$BENCH_OUT/daemon.md
for a in "$@"; do
    case $a in
    --seconds=*) secs=${a#*=} ;;
    --reps=*) reps=${a#*=} ;;
    --depth=*) depth=${a#*=} ;;
    --pool=*) pool=${a#*=} ;;
    --ops=*) ops=${a#*=} ;;
    --only=*) only=${a#*=} ;;
    --out=*) out=${a#*=} ;;
    *) die "usage: $0 [--seconds=S] [--reps=N] [--depth=N] [--pool=N] [--ops=LIST] [--only=CFGS] [--out=FILE]" ;;
    esac
done

bench_build
# Configurations: name kind pool queues.
cfgs=("ours-p0 ours 0 1" "ours-pool$pool ours $pool 1" "rust rust 0 1" "qemu72 qemu72 0 1"
      "ours-p0-4q ours 0 4" "ours-pool$pool-4q ours $pool 4")
bench_only "$only"
for c in "${cfgs[@]}"; do
    case $c in *" rust "* | *" qemu72 "*) bench_peers; break ;; esac
done
IFS=, read -r -a oplist <<<"$ops"

load_args() {
    case $1 in
    lookup) echo "--op=lookup --files=1000" ;;
    getattr) echo "--op=getattr" ;;
    readdirplus) echo "--op=readdirplus --files=1000 --size=4096" ;;
    create) echo "--op=create" ;;
    read4k) echo "--op=read --size=4096 --file-size=67108864" ;;
    read1m) echo "--op=read --size=1048576 --file-size=67108864" ;;
    write4k) echo "--op=write --size=4096 --file-size=67108864" ;;
    write1m) echo "--op=write --size=1048576 --file-size=67108864" ;;
    *) die "unknown op $1" ;;
    esac
}

work=$(mktemp -d "${TMPDIR:-/tmp}/vfs-bench.XXXXXX")
DPID=
cleanup() { daemon_stop; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$BENCH_OUT"
raw=${out%.md}.tsv
: >"$raw"

say "${#oplist[@]} ops x ${#cfgs[@]} configurations x $reps rounds, ${secs}s each, depth $depth per queue"
for op in "${oplist[@]}"; do
    for ((r = 0; r < reps; r++)); do
        n=${#cfgs[@]}
        for ((k = 0; k < n; k++)); do
            read -r name kind p q <<<"${cfgs[$(((k + r) % n))]}"
            rm -rf "$work/shared"
            mkdir "$work/shared"
            daemon_start "$kind" "$work/sock" "$work/shared" "$work/daemon.log" "$p"
            # shellcheck disable=SC2046
            if ! line=$("$BENCH_LOAD" --socket="$work/sock" --pid="$DPID" \
                --queues="$q" --depth="$depth" --seconds="$secs" $(load_args "$op") 2>"$work/load.err"); then
                say "$op $name: vfe_load failed: $(tail -n2 "$work/load.err" | tr '\n' ' ')"
                daemon_stop
                continue
            fi
            daemon_stop
            line=$(tr '\n' ' ' <<<"$line")
            ops_s=$(sed -n 's/.*ops_per_s=\([0-9.]*\).*/\1/p' <<<"$line")
            p50=$(sed -n 's/.*lat_p50_us=\([0-9]*\).*/\1/p' <<<"$line")
            p99=$(sed -n 's/.*lat_p99_us=\([0-9]*\).*/\1/p' <<<"$line")
            cpu=$(sed -n 's/.*cpu_us_per_op=\([0-9.]*\).*/\1/p' <<<"$line")
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$op" "$name" "$r" "$ops_s" "$p50" "$p99" "${cpu:--}" >>"$raw"
            say "$op $name round $r: ${ops_s} req/s p50 ${p50}us p99 ${p99}us cpu ${cpu:--}us/req"
        done
    done
done

# med OP CFG COLUMN: the median of a column over the rounds.
med() {
    local -a v
    mapfile -t v < <(awk -F'\t' -v o="$1" -v c="$2" -v k="$3" '$1 == o && $2 == c && $k != "-" { print $k }' "$raw")
    ((${#v[@]})) && median "${v[@]}" || echo -
}

# table TITLE COLUMN FORMAT: one markdown table, value (ratio to rust).
table() {
    local title=$1 col=$2 fmt=$3 op c name v base
    printf '\n### %s\n\n| op |' "$title"
    for c in "${cfgs[@]}"; do printf ' %s |' "${c%% *}"; done
    printf '\n| --- |'
    for c in "${cfgs[@]}"; do printf ' ---: |'; done
    printf '\n'
    for op in "${oplist[@]}"; do
        base=$(med "$op" rust "$col")
        printf '| %s |' "$op"
        for c in "${cfgs[@]}"; do
            name=${c%% *}
            v=$(med "$op" "$name" "$col")
            if [[ $v == - ]]; then
                printf ' - |'
            else
                # shellcheck disable=SC2059
                printf " $fmt (%s) |" "$v" "$(ratio "$v" "$base")"
            fi
        done
        printf '\n'
    done
}

{
    printf '## Daemon level (bench/daemon.sh)\n\n'
    # shellcheck disable=SC2016
    printf 'Command: `bench/daemon.sh --seconds=%s --reps=%s --depth=%s --pool=%s`\n' "$secs" "$reps" "$depth" "$pool"
    printf '(median of %s interleaved rounds, %s s per cell, %s requests in flight per queue;\n' "$reps" "$secs" "$depth"
    printf 'in parentheses: the ratio to the Rust daemon).\n\n'
    machine_md
    table "Requests/s (higher is better; ratio = ours / rust)" 4 "%.0f"
    table "p50 latency, µs (lower is better; ratio = value / rust)" 5 "%s"
    table "p99 latency, µs (lower is better; ratio = value / rust)" 6 "%s"
    table "Daemon CPU µs per request (lower is better; ratio = value / rust)" 7 "%s"
} >"$out"
cat "$out"
say "written $out (raw rounds: $raw)"

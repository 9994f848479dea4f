#!/usr/bin/env bash
# bench/guest.sh: in-guest benchmark with real QEMU (TCG here) and a Linux
# 6.12 guest (busybox initramfs, scripts/lib/guest.sh), one daemon after the
# other on the same guest image, rounds interleaved:
#   ours (1 request queue), rust (1), qemu72 (1), ours (4 queues).
# Workloads (bench/guest/vbench.c, static, in the initramfs; driven by
# bench/guest/guest-bench.sh): create+fstat+unlink of FILES files, readdir
# and stat of a FILES-entry directory (stat: the second pass, cached),
# sequential 1 MiB write / read of MIB MiB (buffered and O_DIRECT), 4 KiB
# random O_DIRECT reads, then writes, with 1 and 4 threads for SECS s
# each. Guest page cache is dropped before every phase. Under TCG, guest emulation dominates wall time:
# the comparable figure is the daemon's CPU time per operation (utime+stime
# sampled when the guest announces each phase). The same vbench runs on the
# host against a plain directory for the native ceiling.
#
# Usage: bench/guest.sh [--reps=N] [--files=N] [--mib=N] [--secs=S]
#                       [--smp=N] [--only=cfg,...] [--out=FILE.md]
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/guest.sh
. "$VFS_ROOT/scripts/lib/guest.sh"
# shellcheck source=scripts/lib/vm.sh
. "$VFS_ROOT/scripts/lib/vm.sh"
# shellcheck source=bench/lib.sh
. "$VFS_ROOT/bench/lib.sh"

reps=1
files=10000
mib=64
secs=4
smp=4
only=
kver=6.12
out=$BENCH_OUT/guest.md
for a in "$@"; do
    case $a in
    --reps=*) reps=${a#*=} ;;
    --files=*) files=${a#*=} ;;
    --mib=*) mib=${a#*=} ;;
    --secs=*) secs=${a#*=} ;;
    --smp=*) smp=${a#*=} ;;
    --only=*) only=${a#*=} ;;
    --out=*) out=${a#*=} ;;
    *) die "usage: $0 [--reps=N] [--files=N] [--mib=N] [--secs=S] [--smp=N] [--only=CFGS] [--out=FILE]" ;;
    esac
done
[[ -n $(qemu_bin) ]] || die "qemu-system-x86_64 not installed (scripts/setup)"
guest_vmlinuz "$kver" >/dev/null || die "no guest kernel $kver (scripts/setup)"
bench_build
bench_peers

cfgs=("ours-1q ours 1" "rust-1q rust 1" "qemu72-1q qemu72 1" "ours-4q ours 4")
bench_only "$only"
phases=(create readdir stat-cached seqwrite seqwrite-direct seqread seqread-direct rand4k-1job rand4k-4jobs
        randw4k-1job randw4k-4jobs)

vm_init vfs-bench
T=$VM_TMP
mkdir -p "$BENCH_OUT/bin"
vb=$BENCH_OUT/bin/vbench
cc -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -static -s \
    "$VFS_ROOT/bench/guest/vbench.c" -o "$vb" || die "cannot build vbench (static libc needed)"
share=$T/share
mkdir -p "$share/rd"
for ((i = 0; i < files; i++)); do : >"$share/rd/f$i"; done
head -c $((mib << 20)) /dev/urandom >"$share/data.bin"
{
    printf 'VB_FILES=%s\nVB_MIB=%s\nVB_SECS=%s\n' "$files" "$mib" "$secs"
    cat "$VFS_ROOT/bench/guest/guest-bench.sh"
} >"$T/guest.sh"
guest_initrd "$kver" "$T/guest.sh" "$T/initrd" "$vb" || die "cannot build the initramfs"
raw=${out%.md}.tsv
: >"$raw"
DPID=
trap 'daemon_stop; vm_cleanup' EXIT

# One VM run: $1 config name, $2 kind, $3 queues, $4 round.
run_vm() {
    local name=$1 kind=$2 q=$3 r=$4 con nseen=0 line ph t
    local -a marks=() lines
    rm -rf "$share/cr"
    daemon_start "$kind" "$T/vfs.sock" "$share" "$T/daemon.log" 0
    VM_PID[daemon]=$DPID
    vm_start_qemu "vm$r$name" "$kver" "$T/initrd" "$T/vfs.sock" "$q" "$smp"
    con=$VM_TMP/vm$r$name.console
    local end=$((SECONDS + 900))
    # Sample the daemon's CPU time whenever the guest announces a phase.
    while kill -0 "${VM_PID[vm$r$name]}" 2>/dev/null && ((SECONDS < end)); do
        if [[ -f $con ]]; then
            mapfile -t lines < <(grep -a '^@@VFS:PHASE ' "$con" | tr -d '\r')
            while ((nseen < ${#lines[@]})); do
                t=$(cpu_ticks "$DPID" 2>/dev/null || echo -)
                marks+=("${lines[nseen]#@@VFS:PHASE } $t")
                nseen=$((nseen + 1))
            done
        fi
        sleep 0.05
    done
    vm_wait_exit "vm$r$name" 5 || true
    daemon_stop
    unset "VM_PID[daemon]"
    if ! grep -q '@@VFS:OK done' "$con"; then
        say "$name round $r: guest did not finish: $(grep -a '@@VFS:FAIL' "$con" | head -n3 | tr '\n' ' ')"
        return 0
    fi
    # Each phase's CPU: ticks at the next marker minus ticks at its own.
    for ((i = 0; i + 1 < ${#marks[@]}; i++)); do
        read -r ph t <<<"${marks[i]}"
        [[ $ph == idle ]] && continue
        line=$(sed -n "s/^@@VFS:RESULT $ph //p" "$con" | tr -d '\r' | head -n1)
        [[ -n $line ]] || continue
        local t2 ops ms
        t2=${marks[i + 1]##* }
        ops=$(sed -n 's/.*ops=\([0-9]*\).*/\1/p' <<<"$line")
        ms=$(sed -n 's/.*ms=\([0-9.]*\).*/\1/p' <<<"$line")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$ph" "$name" "$r" "$ms" \
            "$(awk -v a="$t" -v b="$t2" -v n="$ops" -v hz="$(getconf CLK_TCK)" \
                'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1e6 / hz / n; else print "-" }')" "$ops" >>"$raw"
    done
    say "$name round $r: done ($(grep -c "	$name	$r	" "$raw") phases)"
}

say "${#cfgs[@]} configurations x $reps rounds; files=$files, ${mib} MiB, ${secs}s per random-I/O phase, $smp vCPUs, Linux $kver"
for ((r = 0; r < reps; r++)); do
    n=${#cfgs[@]}
    for ((k = 0; k < n; k++)); do
        read -r name kind q <<<"${cfgs[$(((k + r) % n))]}"
        run_vm "$name" "$kind" "$q" "$r"
    done
done

# Host-native ceiling: the same vbench on a host directory.
host=$T/host
mkdir -p "$host/cr" "$host/rd"
for ((i = 0; i < files; i++)); do : >"$host/rd/f$i"; done
cp "$share/data.bin" "$host/data.bin"
native() {
    local ph=$1
    shift
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    printf '%s\tnative\t0\t%s\t-\t-\n' "$ph" "$("$vb" "$@" | sed -n 's/.*ms=\([0-9.]*\).*/\1/p')" >>"$raw"
}
native create create "$host/cr" "$files"
native readdir readdir "$host/rd"
"$vb" stat "$host/rd" >/dev/null
native stat-cached stat "$host/rd"
native seqwrite write "$host/w.bin" "$mib"
native seqwrite-direct write "$host/w.bin" "$mib" direct
native seqread read "$host/data.bin"
native seqread-direct read "$host/data.bin" direct
native rand4k-1job rand "$host/data.bin" 1 "$secs"
native rand4k-4jobs rand "$host/data.bin" 4 "$secs"
native randw4k-1job randw "$host/data.bin" 1 "$secs"
native randw4k-4jobs randw "$host/data.bin" 4 "$secs"

# med PHASE CFG COL
med() {
    local -a vals
    mapfile -t vals < <(awk -F'\t' -v p="$1" -v c="$2" -v k="$3" '$1 == p && $2 == c && $k != "-" { print $k }' "$raw")
    ((${#vals[@]})) && median "${vals[@]}" || echo -
}
# For rand phases the wall time is fixed: report ops/s instead.
{
    printf '## In-guest (bench/guest.sh)\n\n'
    # shellcheck disable=SC2016
    printf 'Command: `bench/guest.sh --reps=%s --files=%s --mib=%s --secs=%s --smp=%s`\n' "$reps" "$files" "$mib" "$secs" "$smp"
    printf '(Linux %s guest, %s vCPUs, TCG; medians of %s rounds; ratio to rust-1q in parentheses).\n\n' "$kver" "$smp" "$reps"
    machine_md
    for what in "Wall time, ms (rand*: fixed time; lower is better)|4" "Daemon CPU µs per operation (lower is better)|5"; do
        col=${what##*|}
        printf '\n### %s\n\n| phase |' "${what%|*}"
        for c in "${cfgs[@]}"; do printf ' %s |' "${c%% *}"; done
        [[ $col == 4 ]] && printf ' host native |'
        printf '\n| --- |'
        for c in "${cfgs[@]}"; do printf ' ---: |'; done
        [[ $col == 4 ]] && printf ' ---: |'
        printf '\n'
        for ph in "${phases[@]}"; do
            base=$(med "$ph" rust-1q "$col")
            printf '| %s |' "$ph"
            for c in "${cfgs[@]}"; do
                v=$(med "$ph" "${c%% *}" "$col")
                printf ' %s (%s) |' "$v" "$(ratio "$v" "$base")"
            done
            [[ $col == 4 ]] && printf ' %s |' "$(med "$ph" native 4)"
            printf '\n'
        done
    done
    printf '\n### Operations in the fixed-time random-I/O phases (higher is better)\n\n| phase |'
    for c in "${cfgs[@]}"; do printf ' %s |' "${c%% *}"; done
    printf '\n| --- |'
    for c in "${cfgs[@]}"; do printf ' ---: |'; done
    printf '\n'
    for ph in rand4k-1job rand4k-4jobs randw4k-1job randw4k-4jobs; do
        base=$(med "$ph" rust-1q 6)
        printf '| %s |' "$ph"
        for c in "${cfgs[@]}"; do
            v=$(med "$ph" "${c%% *}" 6)
            printf ' %s (%s) |' "$v" "$(ratio "$v" "$base")"
        done
        printf '\n'
    done
} >"$out"
cat "$out"
say "written $out (raw: $raw)"

#!/usr/bin/env bash
# bench/qemu-migration.sh: QEMU's own figures for a live migration of a
# guest that holds FILES cached node ids and OPEN open files on virtio-fs,
# ours against the Rust virtiofsd 1.13, rounds interleaved.
#
# Each round and daemon kind: a shared dir with FILES files (t/d<i/1000>/
# f<i%1000>, populated on the host once), a daemon + QEMU (TCG, Linux 6.12
# busybox guest, 1 vCPU, 1 request queue, memory-backend-memfd share=on).
# The guest (bench/guest/qmig-guest.sh + qmig-hold.c) stats every file and
# keeps OPEN of them open, then says qmig_ready. A second daemon of the same
# kind on the same directory and a second QEMU (-incoming defer) start; both
# QEMUs get return-path on (so the source's completion waits for the
# destination's load), the source max-bandwidth MAXBW, and the source runs
# `migrate -d unix:...` - a normal pre-copy live migration: QEMU enables
# dirty logging (LOG_ALL) while RAM is copied, which is when both daemons
# start collecting their state in the background; the device state is
# saved and loaded in the stop-and-copy phase. From the source's `info
# migrate`: status, total time, downtime, setup time. From /proc/PID/stat:
# each daemon's CPU time from `migrate -d` to completion. From the daemons'
# logs (both run with --log-level=info): their save/load lines. After the
# migration the host creates the go file; on the destination the guest
# drops its page cache, reads and fstats every open file through its fds,
# stats all FILES files and lists the directories: the round counts only
# when all of that matched.
#
# Daemons: bench/lib.sh daemon_cmd (--sandbox=chroot, cache=auto, ours
# without a pool) plus --log-level=info; no migration options (the Rust
# defaults: --migration-mode=find-paths, --migration-on-error=abort; ours:
# defaults). Extra options: --rust-args / --ours-args (both ends).
#
# Usage: bench/qemu-migration.sh [--reps=N] [--files=N] [--open=N]
#            [--mem=SIZE] [--max-bandwidth=SIZE] [--downtime-limit=MS]
#            [--only=ours,rust]
#            [--rust-args="..."] [--ours-args="..."] [--out=FILE.md]
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
# shellcheck source=scripts/lib/guest.sh
. "$VFS_ROOT/scripts/lib/guest.sh"
# shellcheck source=scripts/lib/vm.sh
. "$VFS_ROOT/scripts/lib/vm.sh"
# shellcheck source=scripts/lib/migrate.sh
. "$VFS_ROOT/scripts/lib/migrate.sh"
# shellcheck source=bench/lib.sh
. "$VFS_ROOT/bench/lib.sh"

reps=3
files=10000
nopen=100
mem=256M
maxbw=10G
dlimit=20
only=ours,rust
rust_args=
ours_args=
kver=6.12
out=$BENCH_OUT/qemu-migration.md
cmdline="bench/qemu-migration.sh${*:+ $*}"
for a in "$@"; do
    case $a in
    --reps=*) reps=${a#*=} ;;
    --files=*) files=${a#*=} ;;
    --open=*) nopen=${a#*=} ;;
    --mem=*) mem=${a#*=} ;;
    --max-bandwidth=*) maxbw=${a#*=} ;;
    --downtime-limit=*) dlimit=${a#*=} ;;
    --only=*) only=${a#*=} ;;
    --rust-args=*) rust_args=${a#*=} ;;
    --ours-args=*) ours_args=${a#*=} ;;
    --out=*) out=${a#*=} ;;
    *) die "usage: $0 [--reps=N] [--files=N] [--open=N] [--mem=SIZE] [--max-bandwidth=SIZE] [--downtime-limit=MS] [--only=ours,rust] [--rust-args=ARGS] [--ours-args=ARGS] [--out=FILE]" ;;
    esac
done
[[ $reps =~ ^[1-9][0-9]*$ && $files =~ ^[1-9][0-9]*$ && $nopen =~ ^[1-9][0-9]*$ ]] ||
    die "--reps, --files and --open want positive numbers"
((nopen <= files)) || die "--open must not exceed --files"
read -r -a rust_extra <<<"$rust_args"
read -r -a ours_extra <<<"$ours_args"
IFS=, read -r -a kinds <<<"$only"
[[ -n $(qemu_bin) ]] || die "qemu-system-x86_64 not installed (scripts/setup)"
version_ge "$(qemu_version)" 8.2 || die "QEMU $(qemu_version) < 8.2 cannot migrate vhost-user-fs state"
guest_vmlinuz "$kver" >/dev/null || die "no guest kernel $kver (scripts/setup)"
command -v socat >/dev/null || die "socat missing (scripts/setup)"
bench_build
bench_peers
VM_MEM=$mem
hz=$(getconf CLK_TCK)

vm_init vfs-qmig
T=$VM_TMP
# build-bench is shared with other benches that may rebuild it during this
# run: every round runs the same copy of our daemon.
cp "$BENCH_OURS" "$T/virtiofsd"
BENCH_OURS=$T/virtiofsd
mkdir -p "$BENCH_OUT/bin"
hold=$BENCH_OUT/bin/qmig-hold
cc -std=gnu11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -static -s \
    "$VFS_ROOT/bench/guest/qmig-hold.c" -o "$hold" || die "cannot build qmig-hold (static libc needed)"
share=$T/share
for ((d = 0; d * 1000 < files; d++)); do mkdir -p "$share/t/d$d"; done
for ((i = 0; i < files; i++)); do
    printf 'qmig %d\n' "$i" >"$share/t/d$((i / 1000))/f$((i % 1000))"
done
# The guest waits up to 10 minutes for the go file.
{
    printf 'QM_FILES=%s\nQM_OPEN=%s\nQM_WAIT=600\n' "$files" "$nopen"
    cat "$VFS_ROOT/bench/guest/qmig-guest.sh"
} >"$T/guest.sh"
guest_initrd "$kver" "$T/guest.sh" "$T/initrd" "$hold" || die "cannot build the initramfs"
mkdir -p "$(dirname "$out")"
raw=${out%.md}.tsv
logs=${out%.md}.log
: >"$raw"
: >"$logs"

# start_daemon NAME KIND SOCK: start daemon KIND on SOCK sharing $share
# (log $T/NAME.log), recorded as VM_PID[NAME] for the cleanup.
start_daemon() {
    local name=$1 kind=$2 sock=$3
    local -a ex=(--log-level=info)
    if [[ $kind == rust ]]; then ex+=("${rust_extra[@]}"); fi
    if [[ $kind == ours ]]; then ex+=("${ours_extra[@]}"); fi
    DPID=
    daemon_start "$kind" "$sock" "$share" "$T/$name.log" 0 "${ex[@]}"
    VM_PID[$name]=$DPID
}

# ms_ticks A B: (B - A) clock ticks in ms.
ms_ticks() {
    awk -v a="$1" -v b="$2" -v hz="$hz" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.0f\n", (b - a) * 1000 / hz }'
}

# info_num REGEX FILE: the number captured by REGEX (sed, one group) in the
# saved `info migrate` FILE (QEMU <= 10.0 layout), or "-".
info_num() {
    local v
    v=$(sed -n "s/$1/\\1/p" "$2" | head -n1)
    printf '%s\n' "${v:--}"
}

# mig_log NAME: the daemon's log lines about the migration state (and any
# warning or error after its start-up), joined with " | " on one line.
mig_log() {
    local l
    l=$({ grep -aiE 'migration|serializ|device state|error|warn' "$T/$1.log" || true; } |
        grep -av 'limit to 1000000' | sed 's/^[^a-zA-Z]*//' | cut -c1-200 | tail -n 4 | paste -sd '|' - | sed 's/|/ | /g')
    printf '%s\n' "${l:-(nothing at --log-level=info)}"
}

# log_num NAME WHAT KEY: from daemon NAME's "migration: WHAT ..." line (ours
# logs one at info level), the number before " ms" (KEY ms) or before
# " bytes" (KEY bytes); "-" when there is none.
log_num() {
    local v
    v=$(mig_state_line "$T/$1.log" "$2" | sed -n "s/.* \([0-9.]*\) bytes in \([0-9.]*\) ms.*/\1 \2/p")
    case $3 in
    bytes) v=${v%% *} ;;
    ms) v=${v##* } ;;
    esac
    printf '%s\n' "${v:--}"
}

# migrate_once KIND ROUND: the steps of one round (names from run_one);
# sets st, ready, after, stat_ms, c0, c1, e0, e1. Returns 1 when a step
# failed before the migration could be measured.
migrate_once() {
    local kind=$1 r=$2
    start_daemon "$s" "$kind" "$T/$s.sock"
    vm_start_qemu "$vs" "$kver" "$T/initrd" "$T/$s.sock" 1 1
    mig_wait_monitor "$vs" 20 || { after="source QEMU did not start: $(head -c 300 "$T/$vs.log")"; return 1; }
    vm_hmp "$vs" "migrate_set_capability return-path on" >/dev/null
    if ! vm_wait_console "$vs" '@@VFS:INFO qmig_ready|@@VFS:FAIL|@@VFS:EXIT' 600 ||
        ! grep -qa '@@VFS:INFO qmig_ready' "$T/$vs.console"; then
        after="guest not ready: $(grep -a '@@VFS:' "$T/$vs.console" | tail -n 3 | tr -d '\r' | tr '\n' ' ')"
        return 1
    fi
    ready=$(grep -ao 'qmig_ready.*' "$T/$vs.console" | tr -d '\r' | head -n1)
    stat_ms=$(sed -n 's/.*stat_ms=\([0-9]*\).*/\1/p' <<<"$ready")
    start_daemon "$d" "$kind" "$T/$d.sock"
    vm_start_qemu "$vd" "$kver" "$T/initrd" "$T/$d.sock" 1 1 -incoming defer
    mig_wait_monitor "$vd" 20 || { after="destination QEMU did not start: $(head -c 300 "$T/$vd.log")"; return 1; }
    vm_hmp "$vd" "migrate_set_capability return-path on" >/dev/null
    vm_hmp "$vd" "migrate_incoming unix:$T/$vd.mig" >/dev/null
    vm_hmp "$vs" "migrate_set_parameter max-bandwidth $maxbw" >/dev/null
    vm_hmp "$vs" "migrate_set_parameter downtime-limit $dlimit" >/dev/null
    c0=$(cpu_ticks "${VM_PID[$s]}")
    e0=$(cpu_ticks "${VM_PID[$d]}")
    vm_hmp "$vs" "migrate -d unix:$T/$vd.mig" >"$T/$vs.migrate-out"
    mig_poll "$vs" 300 || true
    c1=$(cpu_ticks "${VM_PID[$s]}" 2>/dev/null || true)
    e1=$(cpu_ticks "${VM_PID[$d]}" 2>/dev/null || true)
    if [[ $MIG_STATUS != completed ]] || ! mig_wait_running "$vd" 20; then
        after="migration status ${MIG_STATUS:-timeout}: $(grep -a -m1 -i 'error' "$T/$vs.info-migrate" || true)"
        return 0
    fi
    # The source is done: quit it (its daemon exits or is stopped), then
    # let the guest check everything on the destination.
    vm_hmp "$vs" quit >/dev/null
    vm_wait_exit "$vs" 10 || true
    vm_wait_exit "$s" 10 || true
    : >"$share/go"
    if vm_wait_console "$vd" '@@VFS:EXIT' 300 && grep -qa '@@VFS:OK done' "$T/$vd.console" &&
        ! grep -qa '@@VFS:FAIL' "$T/$vd.console"; then
        st=ok
    fi
    after=$(grep -ao 'qmig_after.*' "$T/$vd.console" | tr -d '\r' | head -n1)
    [[ $st == ok ]] || after+=" $(grep -a '@@VFS:FAIL' "$T/$vd.console" | head -n 2 | tr -d '\r' | tr '\n' ' ')"
    vm_wait_exit "$vd" 10 "$d" || true
}

# run_one KIND ROUND: one guest, one migration; appends a line to $raw
# (columns: kind round ok|fail total down setup src-cpu dst-cpu stat-ms
# downtime-ram-KiB dirty-syncs save-ms load-ms state-bytes guest-result).
run_one() {
    local kind=$1 r=$2 s=s$2$1 d=d$2$1 vs=vs$2$1 vd=vd$2$1 st=fail
    local c0="" c1="" e0="" e1="" ready="" after="" stat_ms="" info=$T/info-migrate-$2-$1 p
    rm -f "$share/go"
    MIG_STATUS="" MIG_TOTAL="" MIG_DOWN=""
    migrate_once "$kind" "$r" || true
    for p in "$vd" "$vs" "$d" "$s"; do vm_kill "$p"; done
    if [[ -f $T/$vs.info-migrate ]]; then cp "$T/$vs.info-migrate" "$info"; else : >"$info"; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$r" "$st" "${MIG_TOTAL:--}" \
        "${MIG_DOWN:--}" "$(info_num '^setup: *\([0-9]*\) ms.*' "$info")" \
        "$(ms_ticks "$c0" "$c1")" "$(ms_ticks "$e0" "$e1")" "${stat_ms:--}" \
        "$(info_num '^downtime ram: *\([0-9]*\) kbytes.*' "$info")" \
        "$(info_num '^dirty sync count: *\([0-9]*\).*' "$info")" \
        "$(log_num "$s" saved ms)" "$(log_num "$d" loaded ms)" "$(log_num "$s" saved bytes)" \
        "${after:-}" >>"$raw"
    {
        printf '### %s round %s: %s\n' "$kind" "$r" "$st"
        printf 'source log: %s\ndestination log: %s\n' "$(mig_log "$s")" "$(mig_log "$d")"
        printf 'guest: %s / %s\n' "$ready" "${after:-}"
        sed 's/^/    /' "$info"
    } >>"$logs"
    say "$kind round $r: $st, total ${MIG_TOTAL:-?} ms, downtime ${MIG_DOWN:-?} ms, daemon CPU src $(ms_ticks "$c0" "$c1") ms dst $(ms_ticks "$e0" "$e1") ms; ${after:-}"
}

say "${kinds[*]} x $reps rounds: $files files, $nopen open, $mem guest RAM, max-bandwidth $maxbw, downtime-limit $dlimit ms, Linux $kver (TCG)"
for ((r = 0; r < reps; r++)); do
    n=${#kinds[@]}
    for ((k = 0; k < n; k++)); do
        run_one "${kinds[$(((k + r) % n))]}" "$r"
    done
done

# med KIND COL: the median of column COL over KIND's good rounds.
med() {
    local -a v
    mapfile -t v < <(awk -F'\t' -v k="$1" -v c="$2" '$1 == k && $3 == "ok" && $c != "-" && $c != "" { print $c }' "$raw")
    ((${#v[@]})) && median "${v[@]}" || echo -
}
# ok_rounds KIND: "good/all" rounds of KIND.
ok_rounds() {
    awk -F'\t' -v k="$1" '$1 == k { n++; if ($3 == "ok") g++ } END { printf "%d/%d\n", g, n }' "$raw"
}

{
    printf '## Migration in QEMU (bench/qemu-migration.sh)\n\n'
    # shellcheck disable=SC2016
    printf 'Command: `%s` (Rust daemon: `%s`; ours: `%s`).\n' "$cmdline" "${rust_args:-defaults}" "${ours_args:-defaults}"
    printf 'Guest: Linux %s, 1 vCPU, %s RAM (memory-backend-memfd share=on), 1 request queue, TCG;\n' "$kver" "$mem"
    printf '%s files stat-ed (node ids held), %s of them open; return-path on, max-bandwidth %s,\n' "$files" "$nopen" "$maxbw"
    # shellcheck disable=SC2016
    printf 'downtime-limit %s ms. Times from the source QEMU (`info migrate`), daemon CPU from\n' "$dlimit"
    # shellcheck disable=SC2016
    printf '/proc/PID/stat between `migrate -d` and completion (10 ms ticks). Medians of the rounds\n'
    printf 'whose guest verified its open files and tree on the destination; ratio = ours / rust.\n\n'
    machine_md
    printf '\n| figure |'
    for k in "${kinds[@]}"; do printf ' %s |' "$k"; done
    [[ " ${kinds[*]} " == *" ours "* && " ${kinds[*]} " == *" rust "* ]] && printf ' ratio |'
    printf '\n| --- |'
    for k in "${kinds[@]}"; do printf ' ---: |'; done
    [[ " ${kinds[*]} " == *" ours "* && " ${kinds[*]} " == *" rust "* ]] && printf ' ---: |'
    printf '\n'
    for row in "downtime, ms (QEMU)|5" "total time, ms (QEMU)|4" "setup, ms (QEMU)|6" \
        "RAM sent in the downtime, KiB (QEMU)|10" "dirty bitmap syncs (QEMU)|11" \
        "source daemon CPU, ms|7" "destination daemon CPU, ms|8" \
        "save, ms (daemon log)|12" "load, ms (daemon log)|13" "state, bytes (daemon log)|14" \
        "guest stat of all files before, ms|9"; do
        printf '| %s |' "${row%|*}"
        for k in "${kinds[@]}"; do printf ' %s |' "$(med "$k" "${row##*|}")"; done
        [[ " ${kinds[*]} " == *" ours "* && " ${kinds[*]} " == *" rust "* ]] &&
            printf ' %s |' "$(ratio "$(med ours "${row##*|}")" "$(med rust "${row##*|}")")"
        printf '\n'
    done
    printf '| rounds verified |'
    for k in "${kinds[@]}"; do printf ' %s |' "$(ok_rounds "$k")"; done
    [[ " ${kinds[*]} " == *" ours "* && " ${kinds[*]} " == *" rust "* ]] && printf ' |'
    printf '\n\nDaemon log lines about the state (last round of each):\n\n'
    for k in "${kinds[@]}"; do
        awk -v k="$k" '/^### / { keep = ($2 == k) } keep' "$logs" | awk '/^### / { n++ } { b[n] = b[n] $0 "\n" } END { printf "%s", b[n] }' |
            grep -E '^(### |source log|destination log|guest:)' | sed 's/^/    /' || true
    done
} >"$out"
cat "$out"
say "written $out (raw rounds: $raw; logs and info migrate: $logs)"

#!/usr/bin/env bash
# tests/e2e/migrate.sh: live migration of a running guest between two
# virtio-fs daemons and two QEMUs on this machine, with real QEMU.
#
#   tests/e2e/migrate.sh --daemon PATH [--mode once|pingpong|fail]
#                        [--rounds N] [--kernel 6.1|6.12] [--queues N]
#                        [--helper PATH] [--timeout SECONDS]
#
# A temp shared dir served by one daemon per QEMU (same dir); the guest
# (tests/e2e/guest-migrate.sh) mounts it, holds open files, a cwd, an
# unlinked file, a half-read directory stream and an appending counter, and
# prints "mig_ready". Then, by mode:
#   once      one migration src -> dst; the host renames a file the guest
#             holds open while the migration runs
#   pingpong  --rounds (default 10) migrations A -> B -> A ..., each to a
#             fresh daemon + QEMU started with -incoming on the free side
#   fail      the source daemon runs with --writeback; a destination daemon
#             without it (its CHECK_DEVICE_STATE fails), then a destination
#             whose daemon is killed as the migration starts: both must fail
#             with the source VM still running; then a good migration
# After the migration(s) the host creates mig/ctl/go; the guest checks its
# state through the same fds, and the host checks the counter (strictly
# consecutive lines) and the files created after the migration.
#
# Each migration is driven over HMP: both sides get the return-path
# capability (so that the source learns of a failed load on the
# destination), the destination waits with -incoming defer +
# migrate_incoming unix:SOCK, the source runs migrate -d unix:SOCK, and
# info migrate is polled until completed or failed. Prints QEMU's total time
# and downtime and the device-state size the daemons logged.
# --helper is the static tests/e2e/mig_dirhold.c (built with cc -static when
# not given). Exit 0 pass, 1 fail, 77 skip (VFS_E2E_REQUIRE=1: fail instead).
# Env: VFS_MIG_DAEMON_ARGS extra options for every daemon (e.g.
# "--log-level debug"); VFS_MIG_MEM guest RAM (default 256M); see vm.sh.
# shellcheck disable=SC2012  # ls output only goes into failure messages
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/common.sh
. "$HERE/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/guest.sh
. "$VFS_ROOT/scripts/lib/guest.sh"
VM_MEM=${VFS_MIG_MEM:-256M}
# shellcheck source=scripts/lib/vm.sh
. "$VFS_ROOT/scripts/lib/vm.sh"
# shellcheck source=scripts/lib/migrate.sh
. "$VFS_ROOT/scripts/lib/migrate.sh"

daemon="" mode=once rounds=10 kver=6.12 queues=2 helper="" limit=150
while (($#)); do
    case $1 in
        --daemon) daemon=$2; shift 2 ;;
        --mode) mode=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --kernel) kver=$2; shift 2 ;;
        --queues) queues=$2; shift 2 ;;
        --helper) helper=$2; shift 2 ;;
        --timeout) limit=$2; shift 2 ;;
        --*=*) set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
        -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
[[ -n $daemon ]] || die "--daemon PATH is required"
[[ -x $daemon ]] || die "daemon not executable: $daemon"
case $mode in once|pingpong|fail) ;; *) die "--mode once|pingpong|fail" ;; esac
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive number"

# skip MSG: exit 77 (meson's "skipped") unless VFS_E2E_REQUIRE=1.
skip() {
    [[ ${VFS_E2E_REQUIRE:-0} == 1 ]] && die "$* (VFS_E2E_REQUIRE=1)"
    say "SKIP: $*"
    exit 77
}
[[ -n $(qemu_bin) ]] || skip "qemu-system-x86_64 not installed (run scripts/setup)"
version_ge "$(qemu_version)" 8.2 || skip "QEMU $(qemu_version) < 8.2 (run scripts/setup)"
guest_vmlinuz "$kver" >/dev/null || skip "no guest kernel $kver (run scripts/setup)"
command -v socat >/dev/null || skip "socat missing (run scripts/setup)"

t0=$SECONDS
vm_init vfs-mig
T=$VM_TMP
if [[ -z $helper ]]; then
    helper=$T/mig-dirhold
    "${CC:-cc}" -O2 -static -s -o "$helper" "$HERE/mig_dirhold.c" ||
        skip "cannot build the static helper (no libc.a?)"
fi
[[ -x $helper ]] || die "helper not executable: $helper"

# ---- the shared dir ----------------------------------------------------------
share=$T/share
M=$share/mig
mkdir -p "$M/dir" "$M/sub/deeper" "$M/ren" "$M/gren" "$M/ctl"
head -c $((32 * 65536)) /dev/urandom > "$M/data.bin"
for ((k = 0; k < 32; k++)); do
    dd if="$M/data.bin" bs=65536 skip="$k" count=1 status=none | md5sum | cut -d' ' -f1
done > "$M/data.sums"
for ((k = 0; k < 300; k++)); do
    printf 'entry %d\n' "$k" > "$M/dir/$(printf 'f%03d' "$k")"
done
printf 'renamed by the host' > "$M/ren/a.txt"
printf 'moved by the guest' > "$M/gren/x0"

# ---- the guest image: base initramfs + /guest.sh + /mig-dirhold --------------
stage=$T/stage
mkdir -p "$stage"
install -m 0755 "$HERE/guest-migrate.sh" "$stage/guest.sh"
install -m 0755 "$helper" "$stage/mig-dirhold"
base=$(guest_base_initrd "$kver") || die "cannot build the guest initramfs"
{ cat "$base"
  (cd "$stage" && printf '%s\n' guest.sh mig-dirhold |
      cpio --quiet -o -H newc -R 0:0 | gzip -6n)
} > "$T/initrd"

# ---- helpers -------------------------------------------------------------------
read -r -a common_args <<<"${VFS_MIG_DAEMON_ARGS:-}"
src_args=()
[[ $mode == fail ]] && src_args=(--writeback)
smp=$queues
((smp > 4)) && smp=4
deadline=$((SECONDS + limit))
fails=()
fail() { fails+=("$*"); say "FAIL: $*"; }
# left: seconds until the deadline (at least 1).
left() { local l=$((deadline - SECONDS)); echo $((l > 0 ? l : 1)); }

# start_side N [DAEMON ARGS...]: daemon dN on $T/dN.sock and QEMU vmN on it.
# N > 0 waits for an incoming migration (-incoming defer).
start_side() {
    local n=$1
    shift
    vm_start_daemon "d$n" "$daemon" "$T/d$n.sock" "$share" "${common_args[@]}" "$@" ||
        return 1
    if ((n == 0)); then
        vm_start_qemu "vm$n" "$kver" "$T/initrd" "$T/d$n.sock" "$queues" "$smp"
    else
        vm_start_qemu "vm$n" "$kver" "$T/initrd" "$T/d$n.sock" "$queues" "$smp" -incoming defer
    fi
    mig_wait_monitor "vm$n" 10 || return 1
    vm_hmp "vm$n" "migrate_set_capability return-path on" >/dev/null
}

# stop_side N: quit QEMU vmN (monitor, then signals) and wait for daemon dN.
stop_side() {
    local n=$1
    if [[ -n ${VM_PID[vm$n]:-} ]]; then
        vm_hmp "vm$n" quit >/dev/null
        vm_wait_exit "vm$n" 10 || say "vm$n did not quit; killed"
    fi
    vm_wait_exit "d$n" 10 || say "d$n still ran 10 s after its QEMU; stopped"
}

# migrate FROM TO [during-hook]: migrate vmFROM to the waiting vmTO; run the
# hook (a function name) right after migrate -d. Sets MIG_STATUS, MIG_TOTAL,
# MIG_DOWN. Returns 0 when QEMU says completed.
migrate() {
    local from=$1 to=$2 hook=${3:-}
    vm_hmp "vm$to" "migrate_incoming unix:$T/mig$to.sock" | grep -v '^QEMU .* monitor' \
        > "$T/incoming-$to.out" || true
    if [[ -s $T/incoming-$to.out ]]; then
        say "vm$to migrate_incoming: $(tr '\n' ' ' < "$T/incoming-$to.out")"
    fi
    vm_hmp "vm$from" "migrate -d unix:$T/mig$to.sock" > "$T/migrate-$from-$to.out"
    [[ -n $hook ]] && "$hook" "$from" "$to"
    local ok=0
    mig_poll "vm$from" 60 || ok=$?
    cp "$T/vm$from.info-migrate" "$T/info-migrate-$from-$to"
    MIG_STATUS=${MIG_STATUS:-unknown}
    return "$ok"
}

# counter_lines: lines in the guest's counter file, as the host sees them.
counter_lines() { wc -l < "$M/counter" 2>/dev/null || echo 0; }

# report FROM TO: one line about the migration just done.
report() {
    local saved loaded
    saved=$(mig_state_line "$T/d$1.log" saved)
    loaded=$(mig_state_line "$T/d$2.log" loaded)
    say "  vm$1 -> vm$2: $MIG_STATUS, QEMU total ${MIG_TOTAL:-?} ms, downtime ${MIG_DOWN:-?} ms"
    say "    d$1: ${saved:-(no save logged)}"
    if [[ -z $loaded ]]; then
        loaded="(no load) $({ grep -a 'error\]' "$T/d$2.log" || true; } | head -n1)"
    fi
    say "    d$2: $loaded"
    printf '%s %s %s %s %s\n' "$1" "$2" "$MIG_STATUS" "${MIG_TOTAL:-?}" "${MIG_DOWN:-?}" >> "$T/migrations"
    sed -n 's/.*: \([0-9]*\) bytes in .*/\1/p' <<<"$saved" >> "$T/state-sizes"
}

# Hook for the first migration: rename on the host a file the guest holds
# open, while the migration runs.
# shellcheck disable=SC2317  # called through $hook
host_rename() {
    mv "$M/ren/a.txt" "$M/ren/b.txt"
    say "  renamed mig/ren/a.txt -> b.txt on the host during the migration ($(mig_field status <(vm_hmp "vm$1" "info migrate")))"
}

# Hook for a failing attempt: kill the destination's daemon at once.
# shellcheck disable=SC2317  # called through $hook
kill_dst_daemon() {
    kill -KILL "${VM_PID[d$2]}" 2>/dev/null || true
    say "  killed the destination daemon d$2 right after migrate -d"
}

# expect_failed FROM TO: the attempt vmFROM -> vmTO failed; the source must
# run on and its guest keep writing. Stops side TO.
expect_failed() {
    local from=$1 to=$2 c1 c2
    if [[ $MIG_STATUS != failed ]]; then
        fail "migration vm$from -> vm$to: status '$MIG_STATUS', want failed"
    fi
    say "  $(grep -a -m1 '^Migration status' "$T/info-migrate-$from-$to")"
    mig_wait_running "vm$from" 10 || fail "source vm$from not running after the failed migration"
    c1=$(counter_lines)
    sleep 1.5
    c2=$(counter_lines)
    ((c2 > c1)) || fail "counter did not grow on the source after the failed migration ($c1 -> $c2)"
    say "  source vm$from running, counter $c1 -> $c2 lines"
    # The destination QEMU stays up after a failed incoming migration (HMP's
    # migrate_incoming does not ask it to exit on error): quit it.
    say "  destination vm$to: $(vm_hmp "vm$to" "info status" | grep -a 'VM status' || echo gone)"
    say "  destination QEMU said: $(grep -a 'qemu-system' "$T/vm$to.log" | tr '\n' ' ' | cut -c1-400)"
    stop_side "$to"
}

# ---- run -------------------------------------------------------------------------
say "daemon: $daemon (mode $mode, Linux $kver, $queues request queue(s), $VM_MEM)"
start_side 0 "${src_args[@]}" || { fail "side 0 did not start"; }
boot_t=$SECONDS
cur=0
if ((${#fails[@]} == 0)); then
    if vm_wait_console vm0 '@@VFS:INFO mig_ready' "$(left)"; then
        say "guest ready after $((SECONDS - boot_t)) s ($(grep -ao 'mig_ready.*' "$T/vm0.console" | tr -d '\r'))"
    else
        fail "guest never said mig_ready"
    fi
    grep -a '@@VFS:FAIL' "$T/vm0.console" && fail "guest failed before the migration"
fi

if ((${#fails[@]} == 0)); then
    case $mode in
        once) plan=(ok) ;;
        pingpong) plan=(); for ((r = 0; r < rounds; r++)); do plan+=(ok); done ;;
        fail) plan=(bad-check bad-kill ok) ;;
    esac
    n=0
    for kind in "${plan[@]}"; do
        n=$((n + 1))
        nxt=$n
        dargs=("${src_args[@]}")
        hook=""
        [[ $kind == bad-check ]] && dargs=()
        [[ $kind == bad-kill ]] && hook=kill_dst_daemon
        ((n == 1)) && hook=host_rename
        say "migration $n ($kind): vm$cur -> vm$nxt (counter at $(counter_lines) lines)"
        start_side "$nxt" "${dargs[@]}" || { fail "side $nxt did not start"; break; }
        if migrate "$cur" "$nxt" "$hook"; then
            report "$cur" "$nxt"
            if [[ $kind != ok ]]; then
                fail "migration $n was meant to fail but completed"
                break
            fi
            mig_wait_running "vm$nxt" 10 || { fail "vm$nxt not running after the migration"; break; }
            stop_side "$cur"
            cur=$nxt
        else
            report "$cur" "$nxt"
            if [[ $kind == ok ]]; then
                fail "migration $n: status $MIG_STATUS: $(grep -a -m1 -i 'status' "$T/info-migrate-$cur-$nxt")"
                break
            fi
            expect_failed "$cur" "$nxt"
        fi
        ((SECONDS < deadline)) || { fail "out of time after $n migration(s)"; break; }
    done
fi

# The guest goes on and finishes on the last VM.
: > "$M/ctl/go"
if ((${#fails[@]} == 0)); then
    vm_wait_console "vm$cur" '@@VFS:EXIT' "$(left)" || fail "guest did not finish on vm$cur"
    vm_wait_exit "vm$cur" 10 "d$cur" || say "vm$cur did not power off; killed"
fi
for name in "${!VM_PID[@]}"; do
    [[ $name == vm* ]] && vm_kill "$name"
done
for name in "${!VM_PID[@]}"; do
    vm_wait_exit "$name" 10 || say "$name still ran after its QEMU; stopped"
done

# ---- verdict -----------------------------------------------------------------------
# All consoles in order: the guest's output moved from VM to VM.
console=$T/console
for ((k = 0; k <= cur; k++)); do
    [[ -f $T/vm$k.console ]] && cat "$T/vm$k.console"
done | tr -d '\r' > "$console"
grep -q '@@VFS:EXIT rc=0' "$console" || fail "guest script did not exit 0"
grep -q '@@VFS:OK done' "$console" || fail "guest script did not reach its end"
while IFS= read -r l; do
    fail "guest: ${l#@@VFS:FAIL }"
done < <(grep -a '@@VFS:FAIL' "$console" || true)
grep -aiE 'Oops|BUG:|Call Trace|Kernel panic|virtio_fs.*(error|fail)' "$console" &&
    fail "guest kernel reported a problem"
for f in "$T"/d*.log; do
    grep -aE 'ERROR|\[error\]' "$f" | head -n 3 | sed "s|^|${f##*/}: |" >&2 || true
done

if grep -q '@@VFS:OK done' "$console"; then
    # The counter: 0, 1, 2, ... with no gap and no repeat.
    n=$(counter_lines)
    gn=$(sed -n 's/^@@VFS:INFO counter_n=\([0-9]*\).*/\1/p' "$console" | tail -n1)
    if ! cmp -s <(seq 0 $((n - 1))) "$M/counter"; then
        fail "counter not consecutive: $(seq 0 $((n - 1)) | diff - "$M/counter" | head -n 5 | tr '\n' ' ')"
    fi
    [[ $gn == "$n" ]] || fail "counter: guest wrote $gn lines, host sees $n"
    say "counter: $n consecutive lines (0..$((n - 1)))"
    [[ $(cat "$M/after.txt" 2>/dev/null) == "written after migration" ]] ||
        fail "host: mig/after.txt missing or wrong"
    [[ $(cat "$M/sub/deeper/rel.txt" 2>/dev/null) == "created in cwd after migration" ]] ||
        fail "host: mig/sub/deeper/rel.txt missing or wrong"
    [[ ! -e $M/ren/a.txt && $(cat "$M/ren/b.txt" 2>/dev/null) == "renamed by the host" ]] ||
        fail "host: mig/ren is wrong: $(ls "$M/ren" | tr '\n' ' ')"
    [[ $(cat "$M"/gren/x* 2>/dev/null) == "moved by the guest" ]] ||
        fail "host: mig/gren holds $(ls "$M/gren" | tr '\n' ' ')"
    [[ ! -e $share/.virtiofsd-c-migration ]] ||
        fail "host: the hidden migration directory is still there: $(ls -a "$share/.virtiofsd-c-migration" | tr '\n' ' ')"
    grep -a '^@@VFS:INFO dirhold' "$console" | sed 's/^@@VFS:INFO /guest: /' >&2 || true
fi

# Summary of the migrations.
if [[ -s $T/migrations ]]; then
    awk '$3 == "completed" { n++; if ($5 != "?") { d += $5; if ($5 > dm) dm = $5 }
                             if ($4 != "?") { t += $4; if ($4 > tm) tm = $4 } }
         $3 != "completed" { f++ }
         END { if (n) printf "%d completed (downtime avg %d ms, max %d ms; total avg %d ms, max %d ms), %d failed\n",
                             n, d / n, dm, t / n, tm, f + 0 }' "$T/migrations" |
        while IFS= read -r l; do say "migrations: $l"; done
fi
if [[ -s $T/state-sizes ]]; then
    say "device state sizes (bytes): $(sort -n "$T/state-sizes" | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }')"
fi

if ((${#fails[@]} == 0)); then
    say "PASS: mode $mode, $(grep -c '@@VFS:OK' "$console") guest steps ok, $((SECONDS - t0)) s in all"
    exit 0
fi
say "FAIL (${#fails[@]}):"
printf '    %s\n' "${fails[@]}" >&2
for f in "$console" "$T"/vm*.log "$T"/d*.log; do
    [[ -f $f ]] || continue
    echo "----- ${f##*/} (last 40 lines) -----" >&2
    tail -n 40 "$f" >&2
done
exit 1

# shellcheck shell=bash
# Live migration over QEMU's human monitor, for two QEMUs started with
# scripts/lib/vm.sh (vm_start_qemu NAME ...; the destination with
# "-incoming unix:SOCK" or "-incoming defer"). Source common.sh and vm.sh
# first. Used by scripts/demo and tests/e2e/migrate.sh.

# mig_wait_monitor NAME SECONDS: wait until QEMU NAME's monitor socket exists;
# 1 on timeout or if QEMU exited.
mig_wait_monitor() {
    local end=$((SECONDS + $2))
    while ((SECONDS < end)); do
        [[ -S $VM_TMP/$1.mon ]] && return 0
        kill -0 "${VM_PID[$1]:-0}" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# mig_field KEY FILE: status, total (ms) or down (ms) from the "info migrate"
# output saved in FILE (both the QEMU <= 10.0 and the newer layout).
mig_field() {
    case $1 in
        status) sed -n 's/^Migration status: *\([a-z-]*\).*/\1/p; s/^Status: *\([a-z-]*\).*/\1/p' "$2" ;;
        total) sed -n 's/^total time: *\([0-9]*\) ms.*/\1/p; s/^Time (ms): *total=\([0-9]*\).*/\1/p' "$2" ;;
        down) sed -n 's/^downtime: *\([0-9]*\) ms.*/\1/p; s/^Time (ms):.*down=\([0-9]*\).*/\1/p' "$2" ;;
    esac | head -n1
}

# mig_poll NAME SECONDS: poll "info migrate" on the source NAME every 0.2 s
# until the migration is completed, failed or cancelled (or SECONDS pass).
# The last answer is kept in $VM_TMP/NAME.info-migrate. Sets MIG_STATUS
# (empty on timeout), MIG_TOTAL and MIG_DOWN (ms, may be empty). Returns 0
# when completed.
mig_poll() {
    local out=$VM_TMP/$1.info-migrate end=$((SECONDS + $2))
    MIG_STATUS="" MIG_TOTAL="" MIG_DOWN=""
    while ((SECONDS < end)); do
        vm_hmp "$1" "info migrate" > "$out"
        MIG_STATUS=$(mig_field status "$out")
        case $MIG_STATUS in completed|failed|cancelled) break ;; esac
        sleep 0.2
    done
    case $MIG_STATUS in completed|failed|cancelled) ;; *) MIG_STATUS="" ;; esac
    # shellcheck disable=SC2034  # results for the caller
    MIG_TOTAL=$(mig_field total "$out") MIG_DOWN=$(mig_field down "$out")
    [[ $MIG_STATUS == completed ]]
}

# mig_wait_running NAME SECONDS: until QEMU NAME's "info status" says
# running; 1 on timeout or if QEMU exited.
mig_wait_running() {
    local end=$((SECONDS + $2))
    while ((SECONDS < end)); do
        vm_hmp "$1" "info status" | grep -q 'VM status: running' && return 0
        kill -0 "${VM_PID[$1]:-0}" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

# mig_state_line LOG WHAT: the daemon's last "migration: WHAT ..." info line
# (WHAT: saved or loaded) in LOG, or nothing.
mig_state_line() {
    { grep -ao "migration: $2 .*" "$1" 2>/dev/null || true; } | tail -n1
}

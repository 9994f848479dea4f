# shellcheck shell=sh
# Guest side of the e2e POSIX runs (busybox sh, run by the guest's /init):
# mounts the share and runs the static /posix suite (tests/e2e/posix/, added
# to the initramfs by run.sh --add) in /mnt/posix with the options in
# VFS_POSIX_ARGS, which say how the daemon was started (see posix -h).
# The suite prints one line per failed check and a last line
# "posix: N passed, M failed (...)"; the host checks the files it leaves in
# /mnt/posix/keep (tests/e2e/posix-host.sh).
# shellcheck source=scripts/guest/lib.sh
. /lib.sh
M=/mnt

step mount
if run mount -t virtiofs myfs $M; then
    ok
else
    info "dmesg: $(dmesg | tail -n 5 | tr '\n' '|')"
    finish
fi

step posix
t0=$(cut -d' ' -f1 /proc/uptime)
# shellcheck disable=SC2086  # VFS_POSIX_ARGS is a list of options
/posix -d $M/posix ${VFS_POSIX_ARGS:-} </dev/null
rc=$?
info "posix_rc=$rc posix_start=$t0 posix_end=$(cut -d' ' -f1 /proc/uptime)"
if [ "$rc" = 0 ]; then ok; else fail "the posix suite exited with status $rc"; fi

if [ "${VFS_QUEUE_CHECK:-0}" = 1 ]; then
    # One small write per CPU, pinned, so that every request queue mapped to
    # a CPU carries traffic; then the host reads the used indexes.
    step queue-probe
    ncpu=$(grep -c ^processor /proc/cpuinfo)
    c=0
    while [ $c -lt "$ncpu" ]; do
        taskset -c $c sh -c "echo cpu$c > $M/posix/cpu$c && sync" || fail "write on cpu $c"
        c=$((c + 1))
    done
    echo "@@VFS:PAUSE"
    sleep 3
    ok
fi

step umount
sync
run umount $M && ok

step "done"
ok
finish

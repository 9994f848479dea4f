# shellcheck shell=sh
# Guest side of bench/guest.sh (busybox sh, run by the guest's /init). The
# host put into the share: rd/ (VB_FILES entries) and data.bin (VB_MIB MiB).
# Each phase: "@@VFS:PHASE name" (the host samples the daemon's CPU time when
# it sees it), a pause, the work, "@@VFS:RESULT name ops=.. ms=..", a pause.
# shellcheck source=scripts/guest/lib.sh
. /lib.sh
M=/mnt
V=/vbench

# phase NAME CMD...: run one measured phase.
phase() {
    name=$1
    shift
    sync
    echo 3 > /proc/sys/vm/drop_caches
    echo "@@VFS:PHASE $name"
    sleep 1
    if r=$("$@" 2>&1); then
        echo "@@VFS:RESULT $name $r"
    else
        fail "$name: $r"
    fi
    echo "@@VFS:PHASE idle"
    sleep 1
}

step mount
run mount -t virtiofs myfs $M || finish
ok
step bench
mkdir -p $M/cr
phase create $V create $M/cr "$VB_FILES"
phase readdir $V readdir $M/rd
$V stat $M/rd >/dev/null
# The tree is cached now (the dentries stay with cache=auto's timeout).
echo "@@VFS:PHASE stat-cached"
sleep 1
r=$($V stat $M/rd) && echo "@@VFS:RESULT stat-cached $r"
echo "@@VFS:PHASE idle"
sleep 1
phase seqwrite $V write $M/w.bin "$VB_MIB"
phase seqwrite-direct $V write $M/w.bin "$VB_MIB" direct
phase seqread $V read $M/data.bin
phase seqread-direct $V read $M/data.bin direct
phase rand4k-1job $V rand $M/data.bin 1 "$VB_SECS"
phase rand4k-4jobs $V rand $M/data.bin 4 "$VB_SECS"
phase randw4k-1job $V randw $M/data.bin 1 "$VB_SECS"
phase randw4k-4jobs $V randw $M/data.bin 4 "$VB_SECS"
rm -f $M/w.bin
ok
umount $M
step "done"
ok
finish

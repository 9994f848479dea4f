# shellcheck shell=sh
# Guest side of bench/qemu-migration.sh (busybox sh, run by the guest's
# /init; the host prepends QM_FILES, QM_OPEN and QM_WAIT). The host put
# QM_FILES files under the share's t/ (d<i/1000>/f<i%1000>). /qmig-hold
# stats them all, keeps QM_OPEN of them open, says "@@VFS:INFO qmig_ready"
# and waits for the host's go file (created after the migration), then
# checks the open files and the tree on the destination.
# shellcheck source=scripts/guest/lib.sh
. /lib.sh

step mount
run mount -t virtiofs myfs /mnt || finish
ok
step hold
if /qmig-hold /mnt/t "$QM_FILES" "$QM_OPEN" /mnt/go "$QM_WAIT"; then
    ok
else
    fail "qmig-hold exited $?"
fi
umount /mnt || fail "umount"
step "done"
ok
finish

# shellcheck shell=sh
# tests/e2e/guest-migrate.sh: guest side of tests/e2e/migrate.sh (busybox sh,
# /guest.sh of the initramfs; /mig-dirhold is the static helper next to it).
#
# Builds state that a live migration must carry, signals the host, and waits
# (with that state held) for the host's go file; the host migrates the VM one
# or more times meanwhile. Then checks everything through the same open fds.
# The host prepared under the share's mig/: data.bin + data.sums (md5 of each
# 64 KiB chunk), dir/f000..f299, sub/deeper/, ren/a.txt, gren/x0, ctl/.
#
# State held across the migration(s):
#   - counter: a background loop appending a number every 100 ms (fd 3)
#   - a file open for reading, read chunk by chunk before, during and after
#   - a process whose cwd is mig/sub/deeper (creates rel.txt after)
#   - an unlinked-but-open file (written and read through its fds after)
#   - a directory stream half read (mig-dirhold)
#   - ren/a.txt open while the host renames it to b.txt during the migration
#   - gren/x0 <-> x1 renamed by the guest every 50 ms during the migration
# Markers: @@VFS:INFO mig_ready (host may migrate), @@VFS:INFO mig_go_seen.
# shellcheck source=scripts/guest/lib.sh disable=SC2012  # ls output is what is tested
. /lib.sh

M=/mnt/mig
GO=$M/ctl/go
CHUNK=65536
WAIT_LIMIT=${MIG_WAIT_LIMIT:-100}

step mount
if mount -t virtiofs myfs /mnt; then ok; else fail "mount"; finish; fi

step setup
[ -f $M/data.sums ] || fail "no data.sums from the host"
cp $M/data.sums /tmp/sums
nchunks=$(wc -l < /tmp/sums)
expect_eq "data.bin size" "$(stat -c %s $M/data.bin)" "$((nchunks * CHUNK))"
ok

# chunk_ok K: read the next 64 KiB from fd 4 and compare with chunk K's md5.
chunk_ok() {
    got=$(dd bs=$CHUNK count=1 <&4 2>/dev/null | md5sum | cut -d' ' -f1)
    want=$(sed -n "$(($1 + 1))p" /tmp/sums)
    if [ "$got" != "$want" ]; then
        echo "@@VFS:FAIL reader: chunk $1 md5 $got, want $want"
        return 1
    fi
    return 0
}

step hold
# 1. The counter (fd 3 held open for appending).
(
    exec 3>>$M/counter
    i=0
    while [ ! -e /tmp/stop-counter ]; do
        echo $i >&3
        i=$((i + 1))
        sleep 0.1
    done
    echo $i > /tmp/counter-n
) &
counter_pid=$!

# 2. The reader: fd 4 on data.bin; 4 chunks now, then one per 100 ms while
# the migration may run, stopping 8 chunks before the end until the go file.
exec 4<$M/data.bin
k=0
while [ $k -lt 4 ]; do chunk_ok $k || break; k=$((k + 1)); done
(
    rc=0 k=4 waited=0
    while [ $k -lt $((nchunks - 8)) ]; do
        chunk_ok $k || { rc=1; break; }
        k=$((k + 1))
        sleep 0.1
    done
    while [ ! -e $GO ] && [ $waited -lt $((WAIT_LIMIT * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    # The rest comes from the daemon, not from the page cache.
    sync
    echo 3 > /proc/sys/vm/drop_caches
    while [ $rc = 0 ] && [ $k -lt "$nchunks" ]; do
        chunk_ok $k || rc=1
        k=$((k + 1))
    done
    extra=$(dd bs=$CHUNK count=1 <&4 2>/dev/null | wc -c)
    [ "$extra" = 0 ] || { echo "@@VFS:FAIL reader: $extra bytes past the end"; rc=1; }
    echo "$rc $k" > /tmp/reader-rc
) &
reader_pid=$!

# 3. A process whose cwd is sub/deeper.
(
    cd $M/sub/deeper || { echo "1 cd" > /tmp/cwd-rc; exit 1; }
    : > /tmp/cwd-ready
    waited=0
    while [ ! -e $GO ] && [ $waited -lt $((WAIT_LIMIT * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "created in cwd after migration" > rel.txt
    got=$(cat rel.txt)
    [ "$got" = "created in cwd after migration" ] || { echo "1 content '$got'" > /tmp/cwd-rc; exit 1; }
    ls ../deeper/rel.txt >/dev/null || { echo "1 ls" > /tmp/cwd-rc; exit 1; }
    echo "0 $(pwd)" > /tmp/cwd-rc
) &
cwd_pid=$!

# 4. An unlinked-but-open file: fd 5 appends, fd 6 reads from offset 0.
printf 'written before\n' > $M/unl.txt
exec 5>>$M/unl.txt
exec 6<$M/unl.txt
rm $M/unl.txt
[ ! -e $M/unl.txt ] || fail "unl.txt still there after rm"

# 5. A directory stream half read.
/mig-dirhold $M/dir 300 100 $GO "$WAIT_LIMIT" /tmp/dirhold-ready > /tmp/dirhold.out 2>&1 &
dirhold_pid=$!

# 6. ren/a.txt held open; the host renames it to b.txt during the migration.
exec 7<$M/ren/a.txt

# 7. The guest renames gren/x0 <-> x1 every 50 ms until told to stop.
(
    n=0
    while [ ! -e /tmp/stop-gren ]; do
        mv $M/gren/x$((n % 2)) $M/gren/x$(((n + 1) % 2)) || echo "@@VFS:FAIL gren: mv $n failed"
        n=$((n + 1))
        sleep 0.05
    done
    echo "$n" > /tmp/gren-n
) &
gren_pid=$!

i=0
while [ ! -e /tmp/cwd-ready ] || [ ! -e /tmp/dirhold-ready ]; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then
        fail "helpers not ready after 30 s: $(cat /tmp/dirhold.out /tmp/cwd-rc 2>/dev/null)"
        break
    fi
    sleep 0.1
done
sleep 0.5
ok
info "mig_ready counter_at=$(wc -l < $M/counter)"

step wait-go
waited=0
while [ ! -e $GO ] && [ $waited -lt $((WAIT_LIMIT * 10)) ]; do
    sleep 0.1
    waited=$((waited + 1))
done
if [ -e $GO ]; then
    info "mig_go_seen after=$((waited / 10))s uptime=$(cut -d' ' -f1 /proc/uptime)"
    ok
else
    fail "no go file after $WAIT_LIMIT s"
fi

# Let the counter run on the destination for a second.
sleep 1

step counter
: > /tmp/stop-counter
wait $counter_pid
n=$(cat /tmp/counter-n 2>/dev/null)
exec 3>&-
expect_eq "counter lines" "$(wc -l < $M/counter)" "$n"
if [ -n "$n" ] && [ "$n" -gt 0 ]; then
    expect_eq "counter content" "$(seq 0 $((n - 1)) | md5sum)" "$(md5sum < $M/counter)" && ok
    info "counter_n=$n"
fi

step reader
wait $reader_pid
expect_eq "reader result" "$(cat /tmp/reader-rc 2>/dev/null)" "0 $nchunks" && ok
exec 4<&-

step cwd
wait $cwd_pid
case $(cat /tmp/cwd-rc 2>/dev/null) in
    "0 $M/sub/deeper") ok ;;
    *) fail "cwd process: $(cat /tmp/cwd-rc 2>/dev/null)" ;;
esac

step unlinked
echo "written after" >&5
exec 5>&-
expect_eq "unlinked content" "$(cat <&6)" "written before
written after" && ok
exec 6<&-
[ ! -e $M/unl.txt ] || fail "unl.txt came back"

step dirstream
if wait $dirhold_pid; then ok; else fail "mig-dirhold: $(cat /tmp/dirhold.out)"; fi
grep '^@@VFS:INFO dirhold' /tmp/dirhold.out

step host-rename
expect_eq "read through the fd of renamed a.txt" "$(cat <&7)" "renamed by the host" && ok
exec 7<&-
[ ! -e $M/ren/a.txt ] || fail "ren/a.txt still visible"
expect_eq "ren/b.txt" "$(cat $M/ren/b.txt 2>&1)" "renamed by the host"

step guest-rename
: > /tmp/stop-gren
wait $gren_pid
info "gren_renames=$(cat /tmp/gren-n 2>/dev/null)"
names=$(ls $M/gren | tr '\n' ' ')
case $names in
    "x0 "|"x1 ") ok ;;
    *) fail "gren holds '$names', want one of x0 x1" ;;
esac
expect_eq "gren content" "$(cat $M/gren/x* 2>&1)" "moved by the guest"

step after
printf 'written after migration\n' > $M/after.txt
sync
expect_eq "after.txt" "$(cat $M/after.txt)" "written after migration" && ok

step "done"
umount /mnt || fail "umount"
ok
finish

# shellcheck shell=sh
# Guest side of the basic e2e test (busybox sh, run by the guest's /init).
# The host put into the share: hello.txt, host-big.bin, to-remove.txt,
# hostdir/inner.txt. Everything the guest creates goes under /mnt/g; the host
# checks it after the VM has powered off (tests/e2e/run.sh).
# shellcheck source=scripts/guest/lib.sh disable=SC2012  # ls output is what is tested
. /lib.sh
M=/mnt
G=$M/g

step mount
if run mount -t virtiofs myfs $M; then
    if grep -q " $M virtiofs " /proc/mounts; then ok; else fail "not in /proc/mounts"; fi
else
    echo "@@VFS:INFO dmesg: $(dmesg | tail -n 5 | tr '\n' '|')"
    finish
fi

step read-host-file
expect_eq content "$(cat $M/hello.txt)" "hello from the host" && ok

step host-dir
expect_eq inner "$(cat $M/hostdir/inner.txt)" "inner" && ok

step mkdir
run mkdir $G && run mkdir -p $G/kept/sub && [ -d $G/kept/sub ] && ok

step create-write-read
echo "first line" > $G/new.txt
expect_eq read "$(cat $G/new.txt)" "first line" && ok

step append
echo "second line" >> $G/new.txt
expect_eq lines "$(wc -l < $G/new.txt)" 2 &&
    expect_eq last "$(tail -n 1 $G/new.txt)" "second line" && ok

step truncate
run truncate -s 5 $G/new.txt
expect_eq size "$(stat -c %s $G/new.txt)" 5 &&
    expect_eq content "$(cat $G/new.txt)" "first" && ok

step truncate-extend
printf abc > $G/sparse.bin
run truncate -s 8192 $G/sparse.bin
expect_eq size "$(stat -c %s $G/sparse.bin)" 8192 &&
    expect_eq tail-bytes "$(tail -c 4 $G/sparse.bin | od -An -tx1 | tr -d ' ')" 00000000 && ok

step rename
run mv $G/new.txt $G/renamed.txt
if [ -e $G/new.txt ]; then fail "old name still exists"
elif expect_eq content "$(cat $G/renamed.txt)" "first"; then ok; fi

step rename-across-dirs
echo moved > $G/kept/tomove.txt
run mv $G/kept/tomove.txt $G/moved.txt
[ ! -e $G/kept/tomove.txt ] && expect_eq content "$(cat $G/moved.txt)" moved && ok

step hardlink
run ln $G/renamed.txt $G/hard.txt
expect_eq nlink "$(stat -c %h $G/renamed.txt)" 2 &&
    expect_eq nlink-other "$(stat -c %h $G/hard.txt)" 2 &&
    expect_eq inode "$(stat -c %i $G/hard.txt)" "$(stat -c %i $G/renamed.txt)" &&
    expect_eq content "$(cat $G/hard.txt)" first && ok

step symlink
run ln -s renamed.txt $G/sym
expect_eq readlink "$(readlink $G/sym)" renamed.txt &&
    expect_eq through "$(cat $G/sym)" first &&
    expect_eq type "$(stat -c %F $G/sym)" "symbolic link" && ok

step chmod
run chmod 0640 $G/renamed.txt
run chmod 0755 $G/kept
expect_eq mode "$(stat -c %a $G/renamed.txt)" 640 &&
    expect_eq dirmode "$(stat -c %a $G/kept)" 755 && ok

step listing
ls -l $G | sed 's/^/@@VFS:LS /'
names=$(ls $G | tr '\n' ' ')
expect_eq names "$names" "hard.txt kept moved.txt renamed.txt sparse.bin sym " && ok

step readdir-many
run mkdir $G/many
i=0
while [ $i -lt 200 ]; do : > $G/many/f$i; i=$((i + 1)); done
expect_eq count "$(ls $G/many | wc -l)" 200 && ok

step rmdir
run mkdir -p $G/d1/d2
run rmdir $G/d1/d2 && run rmdir $G/d1
if [ -e $G/d1 ]; then fail "d1 still exists"; else ok; fi
if rmdir $G/kept 2>/dev/null; then step rmdir-nonempty; fail "rmdir of a non-empty dir succeeded"; fi

step unlink
run rm $M/to-remove.txt
echo tmp > $G/tmp.txt
run rm $G/tmp.txt
run rm -r $G/many
if [ -e $M/to-remove.txt ] || [ -e $G/tmp.txt ] || [ -e $G/many ]; then fail "still there"; else ok; fi

step big-write
dd if=/dev/urandom of=$G/big.bin bs=64k count=24 2>/dev/null
sync
sum1=$(md5sum $G/big.bin | cut -d' ' -f1)
echo 3 > /proc/sys/vm/drop_caches
sum2=$(md5sum $G/big.bin | cut -d' ' -f1)
info "guest_big_md5=$sum1"
expect_eq size "$(stat -c %s $G/big.bin)" 1572864 &&
    expect_eq reread "$sum2" "$sum1" && ok

step big-read
echo 3 > /proc/sys/vm/drop_caches
info "host_big_md5_in_guest=$(md5sum $M/host-big.bin | cut -d' ' -f1)"
ok

step parallel
# One writer per CPU, pinned, so that with Linux >= 6.11 every request queue
# mapped to a CPU carries traffic.
ncpu=$(grep -c ^processor /proc/cpuinfo)
c=0
while [ $c -lt "$ncpu" ]; do
    taskset -c $c sh -c "
        dd if=/dev/urandom of=/tmp/p$c bs=4k count=64 2>/dev/null
        cp /tmp/p$c $G/par$c.bin && sync &&
        echo 3 > /proc/sys/vm/drop_caches &&
        cmp /tmp/p$c $G/par$c.bin && md5sum $G/par$c.bin > /tmp/p$c.md5" &
    c=$((c + 1))
done
wait
c=0 bad=0
while [ $c -lt "$ncpu" ]; do
    if [ -s /tmp/p$c.md5 ]; then
        info "par$c=$(cut -d' ' -f1 /tmp/p$c.md5)"
    else
        bad=1
    fi
    c=$((c + 1))
done
if [ $bad = 0 ]; then ok; else fail "a pinned writer failed"; fi

if [ "${VFS_QUEUE_CHECK:-0}" = 1 ]; then
    # The host reads every request queue's used index now (QEMU monitor).
    step queue-probe
    echo "@@VFS:PAUSE"
    sleep 3
    ok
fi

step statfs
df $M | tail -n 1 | sed 's/^/@@VFS:INFO df /'
[ "$(stat -f -c %b $M)" -gt 0 ] && ok

step umount
sync
run umount $M && ok

step "done"
ok
finish

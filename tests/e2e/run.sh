#!/usr/bin/env bash
# tests/e2e/run.sh: end-to-end test of a virtio-fs daemon with real QEMU and
# a Linux guest (busybox initramfs).
#
#   tests/e2e/run.sh --daemon PATH [--queues N] [--kernel 6.1|6.12] [--smp N]
#                    [--timeout SECONDS] [--guest SCRIPT] [--add FILE]...
#                    [--daemon-arg ARG]... [--guest-env NAME=VALUE]...
#                    [--host-check FILE]
#
# Makes a temp dir with a shared dir, starts the daemon on a socket, boots the
# guest with a vhost-user-fs-pci device (tag myfs, N request queues), runs
# tests/e2e/guest-basic.sh (or --guest SCRIPT) in the guest, then checks on
# the host what the guest did. --timeout bounds the VM run (default 240 s).
# --add puts FILE into the guest's initramfs as /BASENAME; --daemon-arg adds
# a daemon option; --guest-env sets a variable for the guest script;
# --host-check FILE replaces the built-in host checks (written for
# guest-basic.sh) by FILE, sourced with $share, fail and info available.
# Exit 0 pass, 1 fail, 77 skip (no QEMU/guest kernel; set
# VFS_E2E_REQUIRE=1 to make that a failure). Every step is time-bounded; only
# processes started here are stopped. Env: see scripts/lib/vm.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/common.sh
. "$HERE/../../scripts/lib/common.sh"
# shellcheck source=scripts/lib/guest.sh
. "$VFS_ROOT/scripts/lib/guest.sh"
# shellcheck source=scripts/lib/vm.sh
. "$VFS_ROOT/scripts/lib/vm.sh"

daemon="" queues=1 kver=6.1 smp="" limit=240
guest_script=$HERE/guest-basic.sh host_check=""
adds=() extra_args=() guest_env=()
while (($#)); do
    case $1 in
        --daemon) daemon=$2; shift 2 ;;
        --daemon=*) daemon=${1#*=}; shift ;;
        --queues) queues=$2; shift 2 ;;
        --queues=*) queues=${1#*=}; shift ;;
        --kernel) kver=$2; shift 2 ;;
        --kernel=*) kver=${1#*=}; shift ;;
        --smp) smp=$2; shift 2 ;;
        --smp=*) smp=${1#*=}; shift ;;
        --timeout) limit=$2; shift 2 ;;
        --timeout=*) limit=${1#*=}; shift ;;
        --guest) guest_script=$2; shift 2 ;;
        --guest=*) guest_script=${1#*=}; shift ;;
        --add) adds+=("$2"); shift 2 ;;
        --add=*) adds+=("${1#*=}"); shift ;;
        --daemon-arg) extra_args+=("$2"); shift 2 ;;
        --daemon-arg=*) extra_args+=("${1#*=}"); shift ;;
        --guest-env) guest_env+=("$2"); shift 2 ;;
        --guest-env=*) guest_env+=("${1#*=}"); shift ;;
        --host-check) host_check=$2; shift 2 ;;
        --host-check=*) host_check=${1#*=}; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1" ;;
    esac
done
# VFS_E2E_DAEMON overrides the daemon (e.g. a peer from bench/peers.sh, to
# check the harness itself: VFS_E2E_DAEMON=.cache/peers/bin/virtiofsd-rust).
daemon=${VFS_E2E_DAEMON:-$daemon}
[[ -n $daemon ]] || die "--daemon PATH is required"
# At least as many vCPUs as queues (max 4), so that a >= 6.11 guest uses them.
if [[ -z $smp ]]; then
    smp=$queues
    ((smp > 4)) && smp=4
fi

# skip MSG: exit 77 (meson's "skipped") unless VFS_E2E_REQUIRE=1.
skip() {
    if [[ ${VFS_E2E_REQUIRE:-0} == 1 ]]; then
        die "$* (VFS_E2E_REQUIRE=1)"
    fi
    say "SKIP: $*"
    exit 77
}

[[ -x $daemon ]] || die "daemon not executable: $daemon"
[[ -r $guest_script ]] || die "no guest script: $guest_script"
[[ -z $host_check || -r $host_check ]] || die "no host check file: $host_check"
for f in "${adds[@]}"; do
    [[ -r $f ]] || die "no such file to add: $f"
done
for e in "${guest_env[@]}"; do
    [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--guest-env wants NAME=VALUE: $e"
done
[[ -n $(qemu_bin) ]] || skip "qemu-system-x86_64 not installed (run scripts/setup)"
version_ge "$(qemu_version)" 8.2 || skip "QEMU $(qemu_version) < 8.2 (run scripts/setup)"
guest_vmlinuz "$kver" >/dev/null || skip "no guest kernel $kver (run scripts/setup)"

t0=$SECONDS
vm_init vfs-e2e
T=$VM_TMP
share=$T/share
mkdir -p "$share/hostdir"
printf 'hello from the host\n' > "$share/hello.txt"
printf 'inner\n' > "$share/hostdir/inner.txt"
printf 'bye\n' > "$share/to-remove.txt"
head -c $((1280 * 1024 + 123)) /dev/urandom > "$share/host-big.bin"
host_big_md5=$(md5sum "$share/host-big.bin" | cut -d' ' -f1)

# With several queues, the guest pauses after its parallel writers so that
# the host can read how far each request queue's used ring has moved.
{
    ((queues > 1)) && echo "VFS_QUEUE_CHECK=1"
    for e in "${guest_env[@]}"; do
        printf '%s=%q\n' "${e%%=*}" "${e#*=}"
    done
    cat "$guest_script"
} > "$T/guest.sh"
guest_initrd "$kver" "$T/guest.sh" "$T/initrd" "${adds[@]}" ||
    die "cannot build the guest initramfs"

say "daemon: $daemon"
# VFS_E2E_DAEMON_ARGS: extra daemon options (e.g. "--log-level debug").
read -r -a daemon_args <<<"${VFS_E2E_DAEMON_ARGS:-}"
daemon_args+=("${extra_args[@]}")
((${#daemon_args[@]} == 0)) || say "daemon options: ${daemon_args[*]}"
vm_start_daemon daemon "$daemon" "$T/vfs.sock" "$share" "${daemon_args[@]}" || {
    say "FAIL: the daemon did not start"
    exit 1
}
accel_opts=$(vm_accel)
say "booting Linux $kver (${accel_opts%% -cpu*}, $smp vCPU, $queues request queue(s)), limit ${limit}s"
vm_start_qemu vm "$kver" "$T/initrd" "$T/vfs.sock" "$queues" "$smp"
boot_t=$SECONDS
deadline=$((boot_t + limit))
# left: seconds until the deadline (at least 1).
left() { local l=$((deadline - SECONDS)); echo $((l > 0 ? l : 1)); }
if vm_wait_console vm '@@VFS:BOOTED' "$(left)"; then
    say "guest booted in $((SECONDS - boot_t)) s"
fi
queue_used=()
if ((queues > 1)) && vm_wait_console vm '@@VFS:PAUSE' "$(left)"; then
    # Request queue q is virtqueue q (0 is hiprio); the used ring's index is
    # the u16 at offset 2 of the ring, read from guest memory.
    for ((q = 1; q <= queues; q++)); do
        phys=$(vm_hmp vm "info virtio-vhost-queue-status /machine/peripheral/fs0/virtio-backend $q" |
            awk '$1 == "used_phys:" { print $2 }')
        idx=""
        [[ -n $phys ]] && idx=$(vm_hmp vm "xp /1hx $((phys + 2))" | awk -F': ' 'NF == 2 { print $2; exit }')
        queue_used+=("$((idx))")
    done
    say "request queues' used index: ${queue_used[*]}"
fi
vm_wait_exit vm "$(left)" daemon || say "QEMU did not finish in time: killed"
qemu_rc=$VM_RC
say "QEMU exited with status $qemu_rc after $((SECONDS - boot_t)) s"

# The daemon should leave by itself when its front-end disconnects.
daemon_rc=running
if vm_wait_exit daemon 10; then
    daemon_rc=$VM_RC
else
    say "note: the daemon was still running 10 s after QEMU exited; stopped it"
fi

# ---- verdict ---------------------------------------------------------------
fails=()
console=$T/vm.console
touch "$console"
fail() { fails+=("$*"); }

grep -q '@@VFS:BOOTED' "$console" || fail "guest never reached /init"
grep -q '@@VFS:EXIT rc=0' "$console" || fail "guest script did not exit 0"
grep -q '@@VFS:OK done' "$console" || fail "guest script did not reach its end"
while IFS= read -r l; do
    fail "guest: ${l#@@VFS:FAIL }"
done < <(grep -a '@@VFS:FAIL' "$console" || true)
((qemu_rc == 0)) || fail "QEMU exit status $qemu_rc"
if [[ $daemon_rc != running ]] && ((daemon_rc > 128)); then
    fail "daemon killed by signal $((daemon_rc - 128))"
fi
grep -aE 'Oops|BUG:|Call Trace|Kernel panic' "$console" >/dev/null &&
    fail "guest kernel reported a problem"

if ((queues > 1)) && grep -q '@@VFS:OK done' "$console"; then
    if ((${#queue_used[@]} != queues)); then
        fail "could not read the request queues' used indexes from QEMU"
    elif [[ $kver != 6.1 ]]; then
        # Linux >= 6.11 maps request queues to CPUs; one pinned writer per CPU.
        for ((q = 1; q <= queues; q++)); do
            ((queue_used[q - 1] > 0)) || fail "request queue $q carried no request"
        done
    fi
fi

# info KEY: a value the guest printed as @@VFS:INFO KEY=VALUE.
info() { sed -n "s/^@@VFS:INFO $1=\\([^[:space:]]*\\).*/\\1/p" "$console" | tail -n1 | tr -d '\r'; }

# Host-side checks: what the guest created, changed and removed.
g=$share/g
check_file() { # PATH CONTENT
    if [[ ! -f $1 ]]; then fail "host: ${1#"$share"/} missing"
    elif [[ $(cat "$1") != "$2" ]]; then fail "host: ${1#"$share"/} content '$(head -c 40 "$1")', want '$2'"
    fi
}
check_gone() { [[ ! -e $1 && ! -L $1 ]] || fail "host: ${1#"$share"/} should be gone"; }
# (Only when the guest got to its end: otherwise they would just repeat that.)
if [[ -n $host_check ]] && grep -q '@@VFS:OK done' "$console"; then
    # shellcheck source=/dev/null
    . "$host_check"
elif grep -q '@@VFS:OK done' "$console"; then
    check_file "$g/renamed.txt" first
    check_file "$g/hard.txt" first
    check_file "$g/moved.txt" moved
    [[ -f $g/renamed.txt && $(stat -c %a "$g/renamed.txt") == 640 ]] || fail "host: renamed.txt mode is not 640"
    [[ -f $g/renamed.txt && $(stat -c %h "$g/renamed.txt") == 2 ]] || fail "host: renamed.txt link count is not 2"
    [[ $g/hard.txt -ef $g/renamed.txt ]] || fail "host: hard.txt is not a hard link of renamed.txt"
    [[ -L $g/sym && $(readlink "$g/sym") == renamed.txt ]] || fail "host: sym is not a symlink to renamed.txt"
    [[ -d $g/kept/sub && $(stat -c %a "$g/kept") == 755 ]] || fail "host: kept/sub missing or kept not 0755"
    [[ -f $g/sparse.bin && $(stat -c %s "$g/sparse.bin") == 8192 ]] || fail "host: sparse.bin size is not 8192"
    [[ -f $g/renamed.txt && $(stat -c %u "$g/renamed.txt") == "$(id -u)" ]] || fail "host: renamed.txt owner is not $(id -u)"
    check_gone "$g/new.txt"
    check_gone "$g/tmp.txt"
    check_gone "$g/d1"
    check_gone "$g/many"
    check_gone "$g/kept/tomove.txt"
    check_gone "$share/to-remove.txt"
    check_file "$share/hello.txt" "hello from the host"
    want=$(info guest_big_md5)
    if [[ ! -f $g/big.bin ]]; then fail "host: big.bin missing"
    elif [[ -z $want ]]; then fail "guest printed no md5 for big.bin"
    else
        got=$(md5sum "$g/big.bin" | cut -d' ' -f1)
        [[ $got == "$want" ]] || fail "host: big.bin md5 $got, guest wrote $want"
        [[ $(stat -c %s "$g/big.bin") == 1572864 ]] || fail "host: big.bin size $(stat -c %s "$g/big.bin")"
    fi
    [[ $(info host_big_md5_in_guest) == "$host_big_md5" ]] ||
        fail "guest read host-big.bin as '$(info host_big_md5_in_guest)', want $host_big_md5"
    for ((c = 0; c < smp; c++)); do
        want=$(info "par$c")
        if [[ -z $want || ! -f $g/par$c.bin ]]; then fail "host: par$c.bin missing"
        elif [[ $(md5sum "$g/par$c.bin" | cut -d' ' -f1) != "$want" ]]; then fail "host: par$c.bin differs"
        fi
    done
fi

if ((${#fails[@]} == 0)); then
    say "PASS: $(grep -c '@@VFS:OK' "$console") guest steps ok, host checks ok, $((SECONDS - t0)) s in all"
    exit 0
fi
say "FAIL (${#fails[@]}):"
printf '    %s\n' "${fails[@]}" >&2
say "QEMU command line: $(cat "$T/vm.cmdline" 2>/dev/null)"
for f in vm.console vm.log daemon.log; do
    echo "----- $f (last 60 lines) -----" >&2
    tail -n 60 "$T/$f" >&2 2>/dev/null || true
done
exit 1

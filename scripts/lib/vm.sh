# shellcheck shell=bash
# Run a virtio-fs back-end and a QEMU guest, bounded in time, and clean up
# only the processes started here. Source scripts/lib/common.sh and
# scripts/lib/guest.sh first, then call vm_init once (it sets the EXIT trap).
#
# Each started process is recorded by a NAME: VM_PID[NAME]. A later issue adds
# live migration: start a second daemon + QEMU (vm_start_qemu ... -incoming
# unix:PATH), drive the monitors with vm_hmp, as the demo and e2e do for one.
#
# Env:
#   VFS_ACCEL=auto|kvm|tcg   accelerator (auto: probe KVM once, cached)
#   VFS_KEEP_TMP=1           keep the temp dir (logs, share) after the run
#   VFS_DAEMON_STYLE=rust|c-old  option style of the daemon (c-old: QEMU 7.2's
#                            C virtiofsd, "-o source=DIR")

declare -gA VM_PID=()
VM_TMP=""
VM_MEM=${VM_MEM:-512M}

# vm_init PREFIX: make the run's temp dir (VM_TMP) and install the cleanup trap.
vm_init() {
    VM_TMP=$(mktemp -d "/tmp/${1:-vfs}.XXXXXX")
    trap vm_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# vm_kill NAME: stop the recorded process NAME (TERM, then KILL after 5 s) and
# reap it. Prints nothing; returns 0.
vm_kill() {
    local name=$1 pid i
    pid=${VM_PID[$name]:-}
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "VM_PID[$name]"
}

# vm_cleanup: EXIT trap: stop every process recorded, remove VM_TMP.
vm_cleanup() {
    local rc=$? name
    for name in "${!VM_PID[@]}"; do
        vm_kill "$name"
    done
    if [[ -n $VM_TMP && -d $VM_TMP ]]; then
        if [[ ${VFS_KEEP_TMP:-0} == 1 ]]; then
            say "kept $VM_TMP"
        else
            rm -rf "$VM_TMP"
        fi
    fi
    return "$rc"
}

# vm_wait_exit NAME SECONDS [PEER]: wait up to SECONDS for process NAME to
# exit. With PEER (e.g. the daemon behind a QEMU), stop waiting 15 s after
# PEER has exited. Sets VM_RC to NAME's exit status (124 if it had to be
# killed). Returns 0 if it exited by itself, 1 if it was killed.
vm_wait_exit() {
    local name=$1 limit=$2 peer=${3:-} pid end peer_gone=""
    pid=${VM_PID[$name]:-}
    VM_RC=0
    [[ -n $pid ]] || return 0
    end=$((SECONDS + limit))
    while kill -0 "$pid" 2>/dev/null; do
        if [[ -n $peer && -z $peer_gone ]] && ! kill -0 "${VM_PID[$peer]:-0}" 2>/dev/null; then
            peer_gone=$SECONDS
            ((SECONDS + 15 < end)) && end=$((SECONDS + 15))
        fi
        if ((SECONDS >= end)); then
            [[ -n $peer_gone ]] && say "$peer exited at $peer_gone s, $name still ran 15 s later"
            vm_kill "$name"
            VM_RC=124
            return 1
        fi
        sleep 0.2
    done
    wait "$pid" && VM_RC=0 || VM_RC=$?
    unset "VM_PID[$name]"
    return 0
}

# vm_start_daemon NAME BINARY SOCKET SHARE [ARGS...]: start a virtio-fs daemon
# serving SHARE on SOCKET (log in $VM_TMP/NAME.log) and wait up to 15 s for its
# socket. Returns 1 if the socket never appeared or the daemon died.
vm_start_daemon() {
    local name=$1 bin=$2 sock=$3 share=$4 i
    shift 4
    local args
    case ${VFS_DAEMON_STYLE:-rust} in
        c-old) args=(--socket-path="$sock" -o source="$share" -o cache=auto) ;;
        *) args=(--socket-path="$sock" --shared-dir="$share") ;;
    esac
    # As root the daemon runs with its default sandbox and seccomp filter;
    # unprivileged hosts may lack user namespaces.
    [[ ${VFS_DAEMON_STYLE:-rust} == c-old || $EUID -eq 0 ]] || args+=(--sandbox=none)
    rm -f "$sock"
    # A daemon that gets no log level option logs at its default (info).
    "$bin" "${args[@]}" "$@" >"$VM_TMP/$name.log" 2>&1 &
    VM_PID[$name]=$!
    for ((i = 0; i < 150; i++)); do
        [[ -S $sock ]] && return 0
        if ! kill -0 "${VM_PID[$name]}" 2>/dev/null; then
            vm_wait_exit "$name" 1 || true
            say "$name exited (status $VM_RC) before creating its socket:"
            sed 's/^/    /' "$VM_TMP/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    say "$name: no socket $sock after 15 s"
    return 1
}

# vm_accel: print the QEMU accelerator options to use. KVM is probed once per
# (QEMU version, host kernel) by booting the test guest with a 20 s limit; the
# answer is cached in .cache/accel. VFS_ACCEL=kvm|tcg forces one.
vm_accel() {
    local want=${VFS_ACCEL:-auto} key cache=$VFS_CACHE/accel res
    case $want in
        kvm) echo "-accel kvm -cpu host"; return 0 ;;
        tcg) echo "-accel tcg -cpu max"; return 0 ;;
    esac
    key="$(qemu_version) $(uname -r)"
    if [[ -r $cache ]] && [[ $(head -n1 "$cache") == "$key" ]]; then
        res=$(sed -n 2p "$cache")
    else
        res=tcg
        if [[ -r /dev/kvm && -w /dev/kvm ]] && _vm_probe_kvm; then
            res=kvm
        fi
        mkdir -p "$VFS_CACHE"
        printf '%s\n%s\n' "$key" "$res" > "$cache"
        say "accelerator probe: $res (cached in ${cache#"$VFS_ROOT"/})"
    fi
    if [[ $res == kvm ]]; then
        echo "-accel kvm -cpu host"
    else
        echo "-accel tcg -cpu max"
    fi
}

# _vm_probe_kvm: boot the guest (no virtio-fs device) under KVM with a 20 s
# limit; true when it reached its /init.
_vm_probe_kvm() {
    local d kernel="" ver ok=1 pid i
    for ver in 6.1 6.12; do
        kernel=$(guest_vmlinuz "$ver" 2>/dev/null) && break
    done
    [[ -n $kernel ]] || return 1
    d=$(mktemp -d)
    printf 'true\n' > "$d/guest.sh"
    guest_initrd "$ver" "$d/guest.sh" "$d/initrd" || { rm -rf "$d"; return 1; }
    "$(qemu_bin)" -accel kvm -cpu host -machine q35 -m 256M -smp 1 \
        -nodefaults -no-user-config -display none -no-reboot \
        -serial "file:$d/console" -kernel "$kernel" -initrd "$d/initrd" \
        -append "console=ttyS0 panic=-1 quiet" >"$d/qemu.log" 2>&1 &
    pid=$!
    for ((i = 0; i < 200; i++)); do
        if grep -q '@@VFS:EXIT' "$d/console" 2>/dev/null; then ok=0; break; fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if ((ok != 0)); then
        say "KVM probe failed; QEMU said: $(head -c 300 "$d/qemu.log" | tr '\n' ' ')"
    fi
    rm -rf "$d"
    return "$ok"
}

# vm_start_qemu NAME KVER INITRD SOCKET QUEUES SMP [QEMU ARGS...]: start a
# q35 guest with kernel KVER (6.1 or 6.12), the given initramfs, and a
# vhost-user-fs-pci device (tag myfs) on SOCKET with QUEUES request queues.
# Serial console in $VM_TMP/NAME.console, QEMU's own output in
# $VM_TMP/NAME.log, HMP monitor on $VM_TMP/NAME.mon.
vm_start_qemu() {
    local name=$1 kver=$2 initrd=$3 sock=$4 queues=$5 smp=$6 kernel accel
    shift 6
    kernel=$(guest_vmlinuz "$kver") || return 1
    read -r -a accel <<<"$(vm_accel)"
    # shellcheck disable=SC2054  # the commas are QEMU's option syntax
    local cmd=("$(qemu_bin)" -name "vfs-$name" -machine q35 "${accel[@]}"
        -smp "$smp" -m "$VM_MEM"
        -object "memory-backend-memfd,id=mem,size=$VM_MEM,share=on"
        -numa node,memdev=mem
        -nodefaults -no-user-config -display none -no-reboot
        -serial "file:$VM_TMP/$name.console"
        -monitor "unix:$VM_TMP/$name.mon,server=on,wait=off"
        -kernel "$kernel" -initrd "$initrd"
        -append "console=ttyS0 panic=-1 quiet"
        -chardev "socket,id=char0,path=$sock"
        -device "vhost-user-fs-pci,chardev=char0,tag=myfs,num-request-queues=$queues,id=fs0"
        "$@")
    local a line=""
    for a in "${cmd[@]}"; do
        [[ $a == *[[:space:]]* ]] && a="'$a'"
        line+="$a "
    done
    printf '%s\n' "${line% }" > "$VM_TMP/$name.cmdline"
    "${cmd[@]}" >"$VM_TMP/$name.log" 2>&1 </dev/null &
    VM_PID[$name]=$!
}

# vm_hmp NAME COMMAND: send one HMP command to QEMU NAME's monitor, print the
# answer (needs socat).
vm_hmp() {
    printf '%s\n' "$2" | timeout 10 socat - "UNIX-CONNECT:$VM_TMP/$1.mon" |
        tr -d '\r' | grep -v '^(qemu)' || true
}

# vm_wait_console NAME PATTERN SECONDS: wait until PATTERN (grep -E) shows up
# in QEMU NAME's console log; 1 on timeout or if QEMU exited first.
vm_wait_console() {
    local name=$1 pat=$2 end=$((SECONDS + $3))
    while ((SECONDS < end)); do
        grep -qE "$pat" "$VM_TMP/$name.console" 2>/dev/null && return 0
        kill -0 "${VM_PID[$name]:-0}" 2>/dev/null ||
            { grep -qE "$pat" "$VM_TMP/$name.console" 2>/dev/null; return; }
        sleep 0.2
    done
    return 1
}

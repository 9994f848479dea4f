# shellcheck shell=bash
# bench/lib.sh: helpers shared by the bench/ scripts. Source it after
# scripts/lib/common.sh; it sets no shell options of its own.
#
# Daemons under test (KIND):
#   ours      build-bench/virtiofsd/virtiofsd (or $BENCH_OURS)
#   rust      .cache/peers/bin/virtiofsd-rust   (Rust virtiofsd 1.13)
#   qemu72    .cache/peers/bin/virtiofsd-qemu72 (QEMU 7.2's C virtiofsd)
# All three run with the chroot sandbox (the one mode all three have that
# keeps the daemon a single process, so /proc/PID/stat is the daemon's CPU),
# their default seccomp filter, cache=auto, no xattr.

BENCH_BUILD=${BENCH_BUILD:-$VFS_ROOT/build-bench}
BENCH_OURS=${BENCH_OURS:-$BENCH_BUILD/virtiofsd/virtiofsd}
BENCH_LOAD=${BENCH_LOAD:-$BENCH_BUILD/tests/functional/vfe_load}
BENCH_OUT=${BENCH_OUT:-$VFS_CACHE/bench}
PEER_RUST=$VFS_CACHE/peers/bin/virtiofsd-rust
PEER_QEMU72=$VFS_CACHE/peers/bin/virtiofsd-qemu72

# bench_build: configure (once) and build our daemon and vfe_load in
# build-bench (buildtype debugoptimized = -O2 -g, the project's default).
bench_build() {
    if [[ ! -f $BENCH_BUILD/build.ninja ]]; then
        meson setup "$BENCH_BUILD" "$VFS_ROOT" -Dbuildtype=debugoptimized \
            -De2e=false >/dev/null || die "meson setup $BENCH_BUILD failed"
    fi
    # The tree is shared with work in progress: when it does not build,
    # measure the binaries of the last good build (BENCH_NOBUILD=1: always).
    if [[ ${BENCH_NOBUILD:-0} == 1 ]] ||
        ! flock "$BENCH_BUILD/.bench-lock" ninja -C "$BENCH_BUILD" virtiofsd/virtiofsd \
            tests/functional/vfe_load >"$BENCH_BUILD/bench-build.log" 2>&1; then
        [[ -x $BENCH_OURS && -x $BENCH_LOAD ]] || die "build failed (ninja -C $BENCH_BUILD)"
        [[ ${BENCH_NOBUILD:-0} == 1 ]] ||
            say "warning: the tree does not build now ($BENCH_BUILD/bench-build.log); using the last good build"
    fi
}

# bench_peers: make sure both peers are present (bench/peers.sh).
bench_peers() {
    "$VFS_ROOT/bench/peers.sh" >/dev/null 2>&1 || die "bench/peers.sh failed"
    [[ -x $PEER_RUST && -x $PEER_QEMU72 ]] || die "peer daemons missing"
}

# daemon_cmd KIND SOCK DIR [POOL]: print the command line (one word a line)
# that starts KIND on SOCK sharing DIR; POOL = thread pool size for ours
# (0 = none; the peers keep their defaults: Rust 0, QEMU 7.2 64).
daemon_cmd() {
    local kind=$1 sock=$2 dir=$3 pool=${4:-0}
    case $kind in
    ours)
        printf '%s\n' "$BENCH_OURS" --socket-path="$sock" --shared-dir="$dir" \
            --sandbox=chroot --cache=auto --thread-pool-size="$pool" --log-level=error ;;
    rust)
        printf '%s\n' "$PEER_RUST" --socket-path="$sock" --shared-dir="$dir" \
            --sandbox=chroot --cache=auto --log-level=error ;;
    qemu72)
        printf '%s\n' "$PEER_QEMU72" --socket-path="$sock" \
            -o source="$dir",cache=auto,sandbox=chroot,log_level=err ;;
    *) die "unknown daemon kind $kind" ;;
    esac
}

# daemon_start KIND SOCK DIR LOG [POOL] [EXTRA...]: start a daemon in the
# background; sets DPID (the daemon process: exec'd by its wrapper, so the
# pid is the daemon's own) and waits up to 10 s for the socket.
daemon_start() {
    local kind=$1 sock=$2 dir=$3 log=$4 pool=${5:-0} i
    shift 5 || shift $#
    local -a cmd
    mapfile -t cmd < <(daemon_cmd "$kind" "$sock" "$dir" "$pool")
    rm -f "$sock"
    "${cmd[@]}" "$@" >"$log" 2>&1 &
    DPID=$!
    for ((i = 0; i < 1000; i++)); do
        [[ -S $sock ]] && return 0
        kill -0 "$DPID" 2>/dev/null || { cat "$log" >&2; die "$kind exited at start"; }
        sleep 0.01
    done
    die "$kind: no socket after 10 s"
}

# daemon_stop: end the daemon DPID (SIGTERM, then SIGKILL after 5 s) and reap it.
daemon_stop() {
    local i
    [[ -n ${DPID:-} ]] || return 0
    for ((i = 0; i < 500; i++)); do
        kill -0 "$DPID" 2>/dev/null || break
        ((i == 0)) && kill -TERM "$DPID" 2>/dev/null
        sleep 0.01
    done
    kill -KILL "$DPID" 2>/dev/null || true
    wait "$DPID" 2>/dev/null || true
    DPID=
}

# cpu_ticks PID: utime + stime of PID in clock ticks.
cpu_ticks() {
    local s
    s=$(<"/proc/$1/stat")
    s=${s##*) }
    # shellcheck disable=SC2086
    set -- $s
    echo $((${12} + ${13}))
}

# rss_kib PID: VmRSS of PID in KiB.
rss_kib() {
    awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"
}

# median N...: the median of numbers (the lower middle for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# ratio A B: A/B with two decimals ("-" when either is missing or B is 0).
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

# machine_md: a markdown description of this machine.
machine_md() {
    local cpu qemu
    cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
    qemu=$(qemu-system-x86_64 --version 2>/dev/null | head -n1 || true)
    printf -- '- %s CPUs (nproc), %s\n' "$(nproc)" "${cpu:-unknown CPU}"
    printf -- '- kernel %s, %s\n' "$(uname -r)" "$(awk -F= '/^PRETTY_NAME/ { gsub(/"/, "", $2); print $2 }' /etc/os-release)"
    printf -- '- %s (TCG only: no KVM)\n' "${qemu:-no QEMU}"
    printf -- '- peers: %s; QEMU 7.2 virtiofsd (%s)\n' \
        "$("$PEER_RUST" --version 2>/dev/null | head -n1)" \
        "$("$PEER_QEMU72" --version 2>&1 | head -n1)"
    printf -- '- ours: %s, commit %s, build-bench (debugoptimized, -O2)\n' \
        "$(basename "$BENCH_OURS")" "$(git -C "$VFS_ROOT" rev-parse --short HEAD)"
    printf -- '- shared directory on %s (%s)\n' "$(df --output=fstype "${TMPDIR:-/tmp}" | tail -n1)" "${TMPDIR:-/tmp}"
}

# bench_tool NAME: build bench/NAME.c against the test front-end library
# (build-bench's libvfe.a) into $BENCH_OUT/bin/NAME; prints the path.
bench_tool() {
    local name=$1 bin=$BENCH_OUT/bin/$1
    mkdir -p "$BENCH_OUT/bin"
    flock "$BENCH_BUILD/.bench-lock" ninja -C "$BENCH_BUILD" tests/functional/libvfe.a >/dev/null 2>&1 ||
        [[ -f $BENCH_BUILD/tests/functional/libvfe.a ]] || die "libvfe build failed"
    if [[ ! -x $bin || $VFS_ROOT/bench/$name.c -nt $bin || $BENCH_BUILD/tests/functional/libvfe.a -nt $bin ]]; then
        cc -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread \
            -I"$VFS_ROOT/tests/functional/lib" "$VFS_ROOT/bench/$name.c" \
            "$BENCH_BUILD/tests/functional/libvfe.a" -o "$bin" || die "cc $name.c failed"
    fi
    printf '%s\n' "$bin"
}

# bench_size_args ARGS...: parse the options of the per-size scripts
# (memory.sh, migration.sh): --sizes=LIST --reps=N --rust-args=ARGS
# --ours-args=ARGS --out=FILE into sizes, reps, rust_args, ours_args and
# out (the caller sets their defaults first); then sizelist (the sizes),
# rust_extra and ours_extra (each daemon's extra arguments) as arrays.
# shellcheck disable=SC2034 # the caller's variables
bench_size_args() {
    local a
    for a in "$@"; do
        case $a in
        --sizes=*) sizes=${a#*=} ;;
        --reps=*) reps=${a#*=} ;;
        --rust-args=*) rust_args=${a#*=} ;;
        --ours-args=*) ours_args=${a#*=} ;;
        --out=*) out=${a#*=} ;;
        *) die "usage: $0 [--sizes=LIST] [--reps=N] [--rust-args=ARGS] [--ours-args=ARGS] [--out=FILE]" ;;
        esac
    done
    IFS=, read -r -a sizelist <<<"$sizes"
    read -r -a rust_extra <<<"${rust_args:-}"
    read -r -a ours_extra <<<"${ours_args:-}"
}

# bench_only ONLY: keep in the array cfgs (entries "NAME ...") those whose
# NAME is in the comma-separated list ONLY; an empty ONLY keeps them all.
bench_only() {
    local c
    local -a sel=()
    [[ -n $1 ]] || return 0
    for c in "${cfgs[@]}"; do
        [[ ,$1, == *",${c%% *},"* ]] && sel+=("$c")
    done
    cfgs=("${sel[@]}")
}

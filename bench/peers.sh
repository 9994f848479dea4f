#!/usr/bin/env bash
# bench/peers.sh: fetch the peer virtio-fs daemons into a private prefix
# (.cache/peers), without installing anything system-wide:
#
#   - the Rust virtiofsd from Debian 13 (trixie)'s `virtiofsd` package, with
#     trixie's libc6 (and its other libraries) unpacked beside it and run
#     through that libc's own dynamic loader: .cache/peers/bin/virtiofsd-rust
#   - the old C virtiofsd of QEMU 7.2 (Debian 12's qemu-system-common,
#     /usr/lib/qemu/virtiofsd), which runs on the host's own libraries:
#     .cache/peers/bin/virtiofsd-qemu72
#
# apt runs with a private configuration (its own source list, lists and
# cache under .cache/peers/apt); the trixie and bookworm sources are derived
# from the machine's Debian source, only Suites changed. Idempotent.
# Usage: bench/peers.sh [--force]
set -euo pipefail
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"

PEERS=$VFS_CACHE/peers
APTDIR=$PEERS/apt
force=0
[[ ${1:-} == --force ]] && force=1

rust_ok() { [[ -x $PEERS/bin/virtiofsd-rust ]] && "$PEERS/bin/virtiofsd-rust" --version >/dev/null 2>&1; }
c72_ok() { [[ -x $PEERS/bin/virtiofsd-qemu72 ]] && "$PEERS/bin/virtiofsd-qemu72" --version >/dev/null 2>&1; }

if ((force == 0)) && rust_ok && c72_ok; then
    say "peers present: $("$PEERS/bin/virtiofsd-rust" --version | head -n1); $("$PEERS/bin/virtiofsd-qemu72" --version 2>&1 | head -n1)"
    exit 0
fi

# Private apt configuration.
mkdir -p "$APTDIR"/{lists/partial,cache/archives/partial,parts,prefs,debs} "$PEERS/bin"
{
    derive_apt_source trixie
    echo
    derive_apt_source "$(host_codename)"
} > "$APTDIR/peers.sources"
APTOPTS=(-o Dir::Etc::SourceList="$APTDIR/peers.sources"
         -o Dir::Etc::SourceParts="$APTDIR/parts"
         -o Dir::Etc::Preferences=/dev/null
         -o Dir::Etc::PreferencesParts="$APTDIR/prefs"
         -o Dir::State::Lists="$APTDIR/lists"
         -o Dir::Cache="$APTDIR/cache"
         -o Dir::State::status=/dev/null
         -o APT::Sandbox::User=root)
APT=(apt-get -q "${APTOPTS[@]}" -o APT::Get::List-Cleanup=0)
APTC=(apt-cache "${APTOPTS[@]}")

say "apt-get update (private: trixie + $(host_codename))"
if ! "${APT[@]}" update >"$APTDIR/update.log" 2>&1; then
    sed 's/^/    /' "$APTDIR/update.log" >&2
    die "the Debian archive is not reachable with the derived sources"
fi

# download DIR PKG/SUITE...: apt-get download into DIR.
download() {
    local dir=$1
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && "${APT[@]}" download "$@" >/dev/null)
}

# --- Rust virtiofsd from trixie -------------------------------------------
if ((force)) || ! rust_ok; then
    if ! "${APTC[@]}" show virtiofsd/trixie >/dev/null 2>&1; then
        say "trixie has no virtiofsd package here; skipping the Rust peer"
    else
        # virtiofsd's own library dependencies, resolved in trixie, plus libc6.
        mapfile -t deps < <("${APTC[@]}" depends virtiofsd/trixie |
            awk '$1 == "Depends:" && $2 !~ /^</ { print $2 }' | sort -u)
        pkgs=(virtiofsd/trixie)
        for d in libc6 libgcc-s1 "${deps[@]}"; do
            [[ $d == virtiofsd ]] && continue
            pkgs+=("$d/trixie")
        done
        mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
        say "downloading ${pkgs[*]}"
        download "$APTDIR/debs/rust" "${pkgs[@]}"
        rm -rf "$PEERS/rust"
        for deb in "$APTDIR"/debs/rust/*.deb; do
            dpkg-deb -x "$deb" "$PEERS/rust"
        done
        ld=$(find "$PEERS/rust" -name 'ld-linux-x86-64.so.2' -not -type d | head -n1)
        bin=$PEERS/rust/usr/libexec/virtiofsd
        [[ -n $ld && -x $bin ]] || die "the unpacked trixie packages lack the loader or virtiofsd"
        libpath=$(find "$PEERS/rust" -name '*.so*' -path '*/lib*' ! -path '*/gconv/*' -printf '%h\n' | sort -u | paste -sd:)
        cat > "$PEERS/bin/virtiofsd-rust" <<EOF
#!/bin/sh
# Debian trixie's Rust virtiofsd, run by trixie's own dynamic loader.
# Written by bench/peers.sh.
exec '$ld' --library-path '$libpath' '$bin' "\$@"
EOF
        chmod +x "$PEERS/bin/virtiofsd-rust"
        rust_ok || die "virtiofsd-rust does not run: $("$PEERS/bin/virtiofsd-rust" --version 2>&1 | head -n3)"
        say "$("$PEERS/bin/virtiofsd-rust" --version | head -n1) -> ${PEERS#"$VFS_ROOT"/}/bin/virtiofsd-rust"
    fi
fi

# --- QEMU 7.2's C virtiofsd from bookworm ---------------------------------
if ((force)) || ! c72_ok; then
    cn=$(host_codename)
    say "downloading qemu-system-common/$cn"
    download "$APTDIR/debs/qemu72" "qemu-system-common/$cn"
    rm -rf "$PEERS/qemu72"
    dpkg-deb -x "$APTDIR"/debs/qemu72/*.deb "$PEERS/qemu72"
    bin=$PEERS/qemu72/usr/lib/qemu/virtiofsd
    [[ -x $bin ]] || die "no usr/lib/qemu/virtiofsd in qemu-system-common/$cn"
    # Keep only the daemon: the rest of the package is not needed.
    find "$PEERS/qemu72" -mindepth 1 -maxdepth 1 ! -name usr -exec rm -rf {} +
    cat > "$PEERS/bin/virtiofsd-qemu72" <<EOF
#!/bin/sh
# QEMU 7.2's C virtiofsd (Debian $cn qemu-system-common). Options are the old
# style: --socket-path=PATH -o source=DIR. Written by bench/peers.sh.
exec '$bin' "\$@"
EOF
    chmod +x "$PEERS/bin/virtiofsd-qemu72"
    c72_ok || die "virtiofsd-qemu72 does not run: $("$PEERS/bin/virtiofsd-qemu72" --version 2>&1 | head -n3)"
    say "$("$PEERS/bin/virtiofsd-qemu72" --version 2>&1 | head -n1) -> ${PEERS#"$VFS_ROOT"/}/bin/virtiofsd-qemu72"
fi
rm -rf "$APTDIR/debs"

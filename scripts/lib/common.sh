# shellcheck shell=bash
# Shared helpers for the scripts in scripts/, tests/e2e/ and bench/.
# Source it; it sets no shell options of its own.

# Repository root (this file lives in scripts/lib/).
VFS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Everything downloaded or built for tests lives here (gitignored).
VFS_CACHE=${VFS_CACHE:-$VFS_ROOT/.cache}
export VFS_ROOT VFS_CACHE

# say MSG...: a progress line on stderr, prefixed with the calling script's name.
say() {
    printf '[%s] %s\n' "${0##*/}" "$*" >&2
}

# die MSG...: print an error and exit 1.
die() {
    printf '[%s] error: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

# host_codename: the Debian codename of this machine (e.g. bookworm).
host_codename() {
    local c=""
    if [[ -r /etc/os-release ]]; then
        # shellcheck disable=SC1091
        c=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
    fi
    [[ -n $c ]] || die "cannot tell the Debian codename from /etc/os-release"
    printf '%s\n' "$c"
}

# derive_apt_source SUITE: print a deb822 apt source for Debian SUITE, made by
# copying the stanza of this machine's main Debian archive (the one that carries
# the release's own codename, not -security) and changing only its Suites line.
# Falls back to a one-line sources.list entry when the machine has no deb822 file.
derive_apt_source() {
    local suite=$1 codename f
    codename=$(host_codename)
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        if awk -v cn="$codename" -v suite="$suite" '
            function flush(   i, hit, n, w) {
                hit = 0
                for (i = 1; i <= nl; i++) {
                    if (tolower(lines[i]) ~ /^suites:/) {
                        n = split(lines[i], w, /[ \t]+/)
                        for (; n > 1; n--) if (w[n] == cn) hit = 1
                    }
                    if (tolower(lines[i]) ~ /^types:/ && lines[i] !~ /(^|[ \t])deb([ \t]|$)/) hit = 0
                }
                if (hit && !done) {
                    for (i = 1; i <= nl; i++) {
                        if (tolower(lines[i]) ~ /^suites:/) print "Suites: " suite
                        else print lines[i]
                    }
                    done = 1
                }
                nl = 0
            }
            /^[ \t]*$/ { flush(); next }
            { lines[++nl] = $0 }
            END { flush(); exit done ? 0 : 1 }
        ' "$f"; then
            return 0
        fi
    done
    # One-line format: "deb [opts] URI codename components..."
    if [[ -r /etc/apt/sources.list ]]; then
        awk -v cn="$codename" -v suite="$suite" '
            $1 == "deb" {
                for (i = 2; i <= NF; i++) if ($i == cn) { $i = suite; print; found = 1; exit }
            }
            END { exit found ? 0 : 1 }
        ' /etc/apt/sources.list && return 0
    fi
    die "no Debian '$codename' apt source found to derive '$suite' from"
}

# version_ge A B: true when Debian version A >= B.
version_ge() {
    dpkg --compare-versions "$1" ge "$2"
}

# qemu_bin: path of qemu-system-x86_64, or empty.
qemu_bin() {
    command -v qemu-system-x86_64 || true
}

# qemu_version: "X.Y.Z" of the installed qemu-system-x86_64, or empty.
qemu_version() {
    local q
    q=$(qemu_bin)
    [[ -n $q ]] || return 0
    "$q" --version | sed -n '1s/.*version \([0-9][0-9.]*\).*/\1/p'
}

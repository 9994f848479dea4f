# shellcheck shell=sh
# Helpers for guest scripts (busybox sh): . /lib.sh at the top of /guest.sh.
# Output protocol on the serial console, one line each:
#   @@VFS:STEP name     a step starts
#   @@VFS:OK name       it passed
#   @@VFS:FAIL name: why
#   @@VFS:INFO text     anything the host may want to parse (key=value)
# The host test fails on any FAIL line, or when EXIT is missing or non-zero.

VFS_FAILS=0
VFS_STEP=none

# step NAME: start a named step.
step() {
    VFS_STEP=$1
    echo "@@VFS:STEP $1"
}

# ok: the current step passed.
ok() {
    echo "@@VFS:OK $VFS_STEP"
}

# fail MSG: the current step failed (the script goes on).
fail() {
    VFS_FAILS=$((VFS_FAILS + 1))
    echo "@@VFS:FAIL $VFS_STEP: $*"
}

# info TEXT: a line for the host.
info() {
    echo "@@VFS:INFO $*"
}

# run CMD...: run a command; on failure, fail the step with its output.
run() {
    out=$("$@" 2>&1) || { fail "'$*' failed: $out"; return 1; }
    return 0
}

# expect_eq WHAT GOT WANT: fail the step unless GOT = WANT.
expect_eq() {
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', want '$3'"
        return 1
    fi
    return 0
}

# finish: end of the script; exit status = number of failed checks (capped).
finish() {
    if [ "$VFS_FAILS" -gt 0 ]; then
        echo "@@VFS:INFO failures=$VFS_FAILS"
        exit 1
    fi
    exit 0
}

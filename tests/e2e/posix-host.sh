# shellcheck shell=bash
# Host-side checks after a guest-posix.sh run, sourced by tests/e2e/run.sh
# (--host-check) when the guest got to its end. Uses run.sh's $share,
# $console, fail and say. The suite leaves DIR/keep (see t_keep in
# tests/e2e/posix/p_meta.c); here we check that the host file system holds
# what the guest made.

# shellcheck disable=SC2154  # share and console are run.sh's
k=$share/posix/keep
# hk_stat FMT PATH WANT WHAT: fail unless stat -c FMT PATH prints WANT.
hk_stat() {
    local got
    got=$(stat -c "$1" "$2" 2>/dev/null) || got="(missing)"
    [[ $got == "$3" ]] || fail "host: ${2#"$share"/} $4 is '$got', want '$3'"
}

# shellcheck disable=SC2154
summary=$(grep -a '^posix: [0-9]* passed' "$console" | tail -n1 | tr -d '\r')
if [[ -z $summary ]]; then
    fail "the guest printed no 'posix: N passed' line"
else
    say "guest: $summary"
    [[ $summary == *" 0 failed"* ]] || fail "guest: $summary"
fi
while IFS= read -r l; do
    say "guest ${l%$'\r'}"
done < <(grep -aE '^(xfail|XPASS|posix: (info|skip|known))' "$console" || true)

if [[ -f $k/done ]]; then
    [[ $(cat "$k/hello.txt" 2>/dev/null) == "posix keep" ]] || fail "host: keep/hello.txt content"
    hk_stat %a "$k/hello.txt" 640 mode
    hk_stat %u:%g "$k/hello.txt" 1234:5678 owner
    hk_stat %h "$k/hello.txt" 2 "link count"
    [[ $k/hard -ef $k/hello.txt ]] || fail "host: keep/hard is not a hard link of keep/hello.txt"
    [[ -L $k/link && $(readlink "$k/link") == hello.txt ]] || fail "host: keep/link is not a symlink to hello.txt"
    hk_stat %F:%a "$k/sgid" directory:2770 "type:mode"
    hk_stat %F:%a "$k/fifo" fifo:600 "type:mode"
    hk_stat %s "$k/sparse" $((8 * 1024 * 1024 + 1)) size
    blocks=$(stat -c %b "$k/sparse" 2>/dev/null || echo 0)
    ((blocks * 512 < 1024 * 1024)) || fail "host: keep/sparse is not sparse ($blocks blocks)"
    [[ $(tail -c 1 "$k/sparse" 2>/dev/null) == E ]] || fail "host: keep/sparse last byte"
    # renameat2(RENAME_EXCHANGE) swapped A and B.
    [[ $(cat "$k/A" 2>/dev/null) == "content B" && $(cat "$k/B" 2>/dev/null) == "content A" ]] ||
        fail "host: keep/A and keep/B were not exchanged"
    hk_stat %u:%g "$share/posix/perm/sgid/file" 0:2000 "owner (set-group-ID dir)"
    hk_stat %u:%s "$share/posix/perm/sticky/u1000w" 1000:16 "owner:size"
    hk_stat %a "$share/posix/perm/sg2000.txt" 755 "mode (set-group-ID dropped by chmod)"
    # Known failure "killpriv" (see tests/e2e/posix/t.c): noted, not failed.
    m=$(stat -c %a "$share/posix/perm/suid.bin" 2>/dev/null || true)
    [[ $m == 777 ]] || say "host: known failure killpriv: perm/suid.bin mode $m after a non-owner's write, want 777"
else
    fail "host: the suite left no posix/keep/done"
fi

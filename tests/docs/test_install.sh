#!/usr/bin/env bash
# tests/docs/test_install.sh: `meson install` into a staging directory and
# check what lands there: the daemon in libexecdir (runs --version and
# --print-capabilities), the man page, the vhost-user JSON descriptor
# (parses, type fs, binary = the installed daemon's path).
#
# Usage: test_install.sh BUILD_DIR VERSION BINARY_PATH MAN_PATH JSON_PATH
# (the last three: installed paths, without the staging prefix).
set -euo pipefail

build=$1 version=$2 binary=$3 man=$4 json=$5
stage=$(mktemp -d "${TMPDIR:-/tmp}/vfs-install.XXXXXX")
trap 'rm -rf "$stage"' EXIT

fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

DESTDIR=$stage meson install -C "$build" --no-rebuild --quiet >"$stage.log" 2>&1 ||
    { cat "$stage.log" >&2; rm -f "$stage.log"; fail "meson install"; }
rm -f "$stage.log"

[[ -x $stage$binary ]] || fail "no executable $binary"
[[ -s $stage$man ]] || fail "no man page $man"
[[ -s $stage$json ]] || fail "no descriptor $json"
grep -q '^\.TH VIRTIOFSD 1' "$stage$man" || fail "$man is not the man page"

out=$("$stage$binary" --version)
[[ $out == "virtiofsd-c $version" ]] || fail "--version printed '$out'"
out=$("$stage$binary" --print-capabilities)
[[ $out == '{"type": "fs", "features": ["migrate-precopy", "separate-options"]}' ]] ||
    fail "--print-capabilities printed '$out'"
python3 -m json.tool >/dev/null <<<"$out" || fail "capabilities are not JSON"

python3 -m json.tool "$stage$json" >/dev/null || fail "$json does not parse"
# QEMU's docs/interop/vhost-user.json: VhostUserBackend has description,
# type, binary and optional tags; features come from --print-capabilities.
python3 - "$stage$json" "$binary" <<'PY' || fail "$json: wrong content"
import json, sys
d = json.load(open(sys.argv[1]))
assert set(d) <= {"description", "type", "binary", "tags"}, d
assert isinstance(d.get("description"), str) and d["description"], d
assert d.get("type") == "fs", d
assert d.get("binary") == sys.argv[2], (d.get("binary"), sys.argv[2])
PY
echo "ok: $binary, $man, $json"

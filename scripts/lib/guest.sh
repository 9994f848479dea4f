# shellcheck shell=bash
# Guest image helpers: the kernels unpacked by scripts/setup and the busybox
# initramfs built around them. Source scripts/lib/common.sh first.
#
# The initramfs is two gzip'd cpio archives back to back (Linux unpacks them
# in order): a cached base (busybox, /init, the guest helper lib, the kernel's
# virtio-fs modules) and a tiny per-run part that carries /guest.sh.

GUEST_DIR=$VFS_CACHE/guest
GUEST_SRC=$VFS_ROOT/scripts/guest
# Modules the guest needs; their dependencies are added, built-ins dropped.
GUEST_MODULES=(virtio_pci virtiofs)

# guest_kernel_dir VER: the unpacked kernel for VER (6.1 or 6.12), or fail.
guest_kernel_dir() {
    local d=$GUEST_DIR/kernel-$1
    if [[ ! -d $d/lib/modules ]]; then
        say "no guest kernel $1 in ${d#"$VFS_ROOT"/} (run scripts/setup)"
        return 1
    fi
    (cd "$d" && pwd -P)
}

# guest_vmlinuz VER: path of the kernel image for VER.
guest_vmlinuz() {
    local d f
    d=$(guest_kernel_dir "$1") || return 1
    for f in "$d"/boot/vmlinuz-*; do
        [[ -f $f ]] && { printf '%s\n' "$f"; return 0; }
    done
    say "no vmlinuz in $d/boot"
    return 1
}

# _guest_module_order KDIR KVER: print, dependencies first, the module files
# (relative to lib/modules/KVER) needed for GUEST_MODULES; built-ins skipped.
_guest_module_order() {
    local kdir=$1 kver=$2 mdir
    mdir=$kdir/lib/modules/$kver
    local -A path=() seen=()
    local f n
    while IFS= read -r f; do
        n=${f##*/}
        n=${n%%.ko*}
        path[${n//-/_}]=$f
    done < <(cd "$mdir" && find kernel -name '*.ko*')
    _visit() {
        local m=${1//-/_} d deps
        [[ -n ${seen[$m]:-} ]] && return 0
        seen[$m]=1
        if [[ -z ${path[$m]:-} ]]; then
            # Built into the kernel (or absent; then the guest will say so).
            grep -q "/${m}.ko\$" "$mdir/modules.builtin" 2>/dev/null ||
            grep -q "/${1}.ko\$" "$mdir/modules.builtin" 2>/dev/null ||
                say "warning: module $1 neither built in nor shipped in $kver"
            return 0
        fi
        deps=$(modinfo -F depends "$mdir/${path[$m]}")
        for d in ${deps//,/ }; do
            _visit "$d"
        done
        printf '%s\n' "${path[$m]}"
    }
    for n in "${GUEST_MODULES[@]}"; do
        _visit "$n"
    done
    unset -f _visit
}

# guest_base_initrd VER: build (or reuse) the cached base initramfs for kernel
# VER and print its path. The cache key covers the kernel, busybox, and the
# files in scripts/guest/ and this library.
guest_base_initrd() {
    local ver=$1 kdir kver key out stage m rel
    kdir=$(guest_kernel_dir "$ver") || return 1
    kver=$(ls "$kdir/lib/modules")
    command -v modinfo >/dev/null || { say "modinfo missing (run scripts/setup)"; return 1; }
    if ! { [[ -x /bin/busybox ]] && /bin/busybox --list | grep -x insmod >/dev/null; }; then
        say "busybox-static missing (run scripts/setup)"
        return 1
    fi
    key=$( { printf '%s\n' "$kver" "${GUEST_MODULES[*]}"
             sha256sum /bin/busybox "$GUEST_SRC/init" "$GUEST_SRC/lib.sh" "${BASH_SOURCE[0]}"; } |
           sha256sum | cut -c1-16)
    out=$GUEST_DIR/initrd-$kver-$key.cpio.gz
    if [[ -s $out ]]; then
        printf '%s\n' "$out"
        return 0
    fi
    stage=$(mktemp -d "$GUEST_DIR/stage.XXXXXX")
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,mnt,lib/modules}
    cp /bin/busybox "$stage/bin/busybox"
    ln -s busybox "$stage/bin/sh"
    install -m 0755 "$GUEST_SRC/init" "$stage/init"
    install -m 0644 "$GUEST_SRC/lib.sh" "$stage/lib.sh"
    : > "$stage/modules.load"
    while IFS= read -r m; do
        rel=${m##*/}
        case $rel in
            *.ko.xz) xz -dc "$kdir/lib/modules/$kver/$m" > "$stage/lib/modules/${rel%.xz}"; rel=${rel%.xz} ;;
            *.ko.zst) zstd -qdc "$kdir/lib/modules/$kver/$m" > "$stage/lib/modules/${rel%.zst}"; rel=${rel%.zst} ;;
            *.ko.gz) gzip -dc "$kdir/lib/modules/$kver/$m" > "$stage/lib/modules/${rel%.gz}"; rel=${rel%.gz} ;;
            *) cp "$kdir/lib/modules/$kver/$m" "$stage/lib/modules/$rel" ;;
        esac
        printf '%s\n' "$rel" >> "$stage/modules.load"
    done < <(_guest_module_order "$kdir" "$kver")
    # A console node, so the kernel can open it before /init mounts devtmpfs.
    mknod -m 600 "$stage/dev/console" c 5 1 2>/dev/null || true
    (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
        cpio --quiet -o -H newc -R 0:0 | gzip -6n) > "$out.tmp"
    rm -rf "$stage"
    mv "$out.tmp" "$out"
    # Drop stale images of the same kernel.
    for m in "$GUEST_DIR"/initrd-"$kver"-*.cpio.gz; do
        [[ $m == "$out" ]] || rm -f "$m"
    done
    say "built guest initramfs ${out#"$VFS_ROOT"/} ($(du -k "$out" | cut -f1) KiB)"
    printf '%s\n' "$out"
}

# guest_initrd VER SCRIPT OUT [FILE...]: write to OUT the initramfs for
# kernel VER with SCRIPT as /guest.sh and each FILE (e.g. a static test
# binary) as /BASENAME, mode 0755.
guest_initrd() {
    local ver=$1 script=$2 out=$3 base stage f
    shift 3
    base=$(guest_base_initrd "$ver") || return 1
    stage=$(mktemp -d)
    install -m 0755 "$script" "$stage/guest.sh"
    for f in "$@"; do
        install -m 0755 "$f" "$stage/${f##*/}" || { rm -rf "$stage"; return 1; }
    done
    { cat "$base"
      (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
          cpio --quiet -o -H newc -R 0:0 | gzip -6n)
    } > "$out"
    rm -rf "$stage"
}

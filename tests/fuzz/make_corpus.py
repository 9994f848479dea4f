#!/usr/bin/env python3
"""tests/fuzz/make_corpus.py: write the hand-made seed inputs of the fuzz
targets into tests/fuzz/corpus/<target>/ (run from anywhere; the files are
committed, rerun only to change them)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff


# ---- fuzz_mig_load: state streams (docs/migration.md) ----
def section(typ, flags, payload):
    return struct.pack('<III', typ, flags, len(payload)) + payload


def stream(sections, version=2, oldest=2):
    body = b'VFSDSTAT' + struct.pack('<II', version, oldest) + b''.join(sections)
    return body + section(0xffffffff, 1, struct.pack('<I', crc32c(body)))


def session(flags=0):
    return section(1, 1, struct.pack('<BIQIIIHH', 1, 38, flags, 1 << 20,
                                     65536, 1, 16, 12))


# version 1: fixed-width INODES (3) and HANDLES (4)
def inodes(ents):
    p = struct.pack('<I', len(ents))
    for nodeid, nlookup, kind, parent, name in ents:
        p += struct.pack('<QQQBQH', nodeid, nlookup, 0, kind, parent,
                         len(name)) + name
    return section(3, 1, p)


def handles(hs):
    p = struct.pack('<I', len(hs))
    for fh, nodeid, flags, is_dir in hs:
        p += struct.pack('<QQIB', fh, nodeid, flags, is_dir)
    return section(4, 1, p)


# version 2: compact INODES2 (8) and HANDLES2 (9), docs/migration.md
def uv(v):
    out = b''
    while v >= 0x80:
        out += bytes([(v & 0x7f) | 0x80])
        v >>= 7
    return out + bytes([v])


def sv(d):
    d &= (1 << 64) - 1                  # modulo 2^64, as an int64
    if d >= 1 << 63:
        d -= 1 << 64
    return uv(((d << 1) ^ (d >> 63)) & ((1 << 64) - 1))


def inodes2(ents, gens=None):
    p = struct.pack('<I', len(ents))
    prev_id = prev_parent = 0
    prev_name = b''
    for i, (nodeid, nlookup, kind, parent, name) in enumerate(ents):
        gen = gens[i] if gens else 0
        flags = kind | (0x08 if gen else 0) | \
            (0x10 if parent == prev_parent else 0) | (min(nlookup, 3) << 5)
        p += sv(nodeid - prev_id) + bytes([flags])
        if nlookup >= 3:
            p += uv(nlookup)
        if gen:
            p += uv(gen)
        if parent != prev_parent:
            p += sv(parent - prev_parent)
        shared = 0                      # leading bytes of the previous name
        while shared < min(len(name), len(prev_name)) and \
                name[shared] == prev_name[shared]:
            shared += 1
        if shared < 2:
            shared = 0
        p += uv(shared << 8 | (len(name) - shared)) + name[shared:]
        prev_id, prev_parent, prev_name = nodeid, parent, name
    return section(8, 1, p)


def handles2(hs):
    p = struct.pack('<I', len(hs))
    prev_fh = prev_id = 0
    for fh, nodeid, flags, is_dir in hs:
        p += sv(fh - prev_fh) + sv(nodeid - prev_id) + uv(flags << 1 | is_dir)
        prev_fh, prev_id = fh, nodeid
    return section(9, 1, p)


def mounts(ms):
    p = struct.pack('<I', len(ms))
    for mnt_id, path in ms:
        p += struct.pack('<QH', mnt_id, len(path)) + path
    return section(7, 1, p)


def counters(n, fh):
    return section(5, 1, struct.pack('<QQ', n, fh))


CONFIG = section(2, 0, bytes([0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0]))
ENTS = [(1, 1, 0, 0, b''), (2, 1, 1, 1, b'd'), (3, 2, 1, 2, b'b'),
        (4, 0, 1, 2, b'e'), (5, 1, 1, 4, b'f'), (6, 1, 1, 2, b'caf\xe9'),
        (7, 1, 2, 0, b'u1'), (8, 1, 3, 116, b'')]
HANDLES = [(1, 3, 2, 0), (2, 2, 0o200000, 1), (3, 7, 0, 0)]
FLAGS = 0x10000 | 0x40000000
# version 2, as this daemon writes it (ids and parents going up and down,
# a lookup count and a generation as varints)
out('fuzz_mig_load', 'full', stream([session(FLAGS), CONFIG,
                                      inodes2(ENTS[:3] + [(6, 5, 1, 2, b'caf\xe9'),
                                                          (4, 0, 1, 2, b'e')] +
                                              ENTS[4:5] + ENTS[6:],
                                              gens=[0, 0, 9, 0, 1 << 40, 0, 0, 0]),
                                      handles2(HANDLES), counters(20, 20)]))
# version 1, as older sources write it: still loaded
out('fuzz_mig_load', 'full-v1', stream([session(FLAGS), CONFIG, inodes(ENTS),
                                         handles(HANDLES), counters(20, 20)],
                                        version=1, oldest=1))
out('fuzz_mig_load', 'empty', stream([session(), counters(2, 1)]))
out('fuzz_mig_load', 'unknown', stream([session(), section(77, 0, b'\0' * 8),
                                        inodes2(ENTS[:3]), counters(9, 9)]))
# file-handles mode: MOUNTS, then FHANDLE entries (i32 type + handle)
out('fuzz_mig_load', 'fhandles', stream([session(), mounts([(76, b'')]),
                                         inodes2([ENTS[0],
                                                  (2, 1, 4, 76, struct.pack('<i', 1) + b'\x0c\0\0\0\0\0\0\0'),
                                                  (3, 1, 4, 76, struct.pack('<i', 1) + b'\x0d\0\0\0\0\0\0\0')]),
                                         counters(9, 9)]))

# ---- fuzz_fuse: requests after INIT (fuzz_fuse.c's framing) ----
FUSE_LOOKUP, FUSE_GETATTR, FUSE_READLINK, FUSE_OPEN, FUSE_READ = 1, 3, 5, 14, 15
FUSE_WRITE, FUSE_OPENDIR, FUSE_READDIR, FUSE_READDIRPLUS = 16, 27, 28, 44
FUSE_MKDIR, FUSE_CREATE, FUSE_GETXATTR, FUSE_STATFS = 9, 35, 22, 17


def req(op, nodeid, args, room=4096, cuts=b'', rcuts=b''):
    h = struct.pack('<IIQQIIII', 40 + len(args), op, 1, nodeid, 0, 0, 1, 0)
    body = h + args
    return (struct.pack('<HHB', len(body), room, len(cuts) | len(rcuts) << 4)
            + cuts + rcuts + body)


out('fuzz_fuse', 'lookup_getattr',
    req(FUSE_LOOKUP, 1, b'a\0') + req(FUSE_GETATTR, 2, struct.pack('<IIQ', 0, 0, 0)))
out('fuzz_fuse', 'open_read',
    req(FUSE_LOOKUP, 1, b'a\0') +
    req(FUSE_OPEN, 2, struct.pack('<II', 0, 0)) +
    req(FUSE_READ, 2, struct.pack('<QQIIQII', 1, 0, 4096, 0, 0, 0, 0),
        room=100, rcuts=b'\x08\x40'))
out('fuzz_fuse', 'readdirplus',
    req(FUSE_LOOKUP, 1, b'd\0', cuts=b'\x80') +
    req(FUSE_OPENDIR, 2, struct.pack('<II', 0, 0)) +
    req(FUSE_READDIRPLUS, 2, struct.pack('<QQIIQII', 1, 0, 4096, 0, 0, 0, 0),
        room=300, rcuts=b'\x10'))
out('fuzz_fuse', 'create_write',
    req(FUSE_CREATE, 1, struct.pack('<IIII', 0o102, 0o644, 0o22, 0) + b'new\0') +
    req(FUSE_WRITE, 2, struct.pack('<QQIIQII', 1, 0, 5, 0, 0, 0, 0) + b'hello',
        cuts=b'\x20\xf0') +
    req(FUSE_MKDIR, 1, struct.pack('<II', 0o755, 0o22) + b'sub\0') +
    req(FUSE_STATFS, 1, b''))
out('fuzz_fuse', 'readlink_xattr',
    req(FUSE_LOOKUP, 1, b'd\0') + req(FUSE_LOOKUP, 2, b'link\0') +
    req(FUSE_READLINK, 3, b'') +
    req(FUSE_GETXATTR, 2, struct.pack('<II', 64, 0) + b'user.x\0'))

# ---- fuzz_vhost_user: messages (fuzz_vhost_user.c's framing) ----
def msg(req_, payload=b'', fds=0, mem=False, flags=1):
    spec = fds | (4 if mem else 0)
    return bytes([spec]) + struct.pack('<III', req_, flags, len(payload)) + payload


GET_FEATURES, SET_FEATURES, SET_OWNER, SET_MEM_TABLE = 1, 2, 3, 5
SET_LOG_BASE, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE = 6, 8, 9, 10
GET_VRING_BASE, SET_VRING_KICK, SET_VRING_CALL = 11, 12, 13
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM = 15, 16, 17
SET_VRING_ENABLE, RESET_DEVICE, ADD_MEM_REG = 18, 34, 37
SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE = 42, 43
u64 = lambda v: struct.pack('<Q', v)
FEAT = (1 << 32) | (1 << 28) | (1 << 29) | (1 << 30)
PFEAT = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 13) | (1 << 15) | (1 << 19)
hs = (msg(GET_FEATURES) + msg(GET_PROTOCOL_FEATURES) +
      msg(SET_PROTOCOL_FEATURES, u64(PFEAT)) + msg(SET_OWNER) +
      msg(SET_FEATURES, u64(FEAT)) + msg(GET_QUEUE_NUM))
# one region: guest 0..16 MiB at front-end address 0x7f0000000000
mem = (msg(SET_MEM_TABLE, struct.pack('<II', 1, 0) +
           struct.pack('<QQQQ', 0, 16 << 20, 0x7f0000000000, 0), fds=1, mem=True))
ring = b''
for q in (0, 1):
    base = 0x7f0000000000 + 0x10000 * q
    ring += (msg(SET_VRING_NUM, struct.pack('<II', q, 64)) +
             msg(SET_VRING_ADDR, struct.pack('<IIQQQQ', q, 0, base,
                                              base + 0x1000, base + 0x2000, 0)) +
             msg(SET_VRING_BASE, struct.pack('<II', q, 0)) +
             msg(SET_VRING_CALL, u64(q), fds=1) +
             msg(SET_VRING_KICK, u64(q), fds=1) +
             msg(SET_VRING_ENABLE, struct.pack('<II', q, 1)))
stop = msg(GET_VRING_BASE, struct.pack('<II', 0, 0)) + \
    msg(GET_VRING_BASE, struct.pack('<II', 1, 0))
out('fuzz_vhost_user', 'handshake', hs)
out('fuzz_vhost_user', 'rings', hs + mem + ring + stop)
out('fuzz_vhost_user', 'save', hs + mem + ring + stop +
    msg(SET_DEVICE_STATE_FD, struct.pack('<II', 0, 0), fds=1) +
    msg(CHECK_DEVICE_STATE))
out('fuzz_vhost_user', 'log_reset', hs + mem +
    msg(SET_LOG_BASE, struct.pack('<QQ', 4096, 0), fds=1, mem=True) +
    msg(SET_FEATURES, u64(FEAT | (1 << 26))) +
    msg(ADD_MEM_REG, struct.pack('<QQQQQ', 0, 4096, 1 << 30, 0x7f1000000000, 0),
        fds=1, mem=True) +
    msg(RESET_DEVICE, flags=1 | 8))

# ---- fuzz_vq: rings in a fake guest memory (fuzz_vq.c's header) ----
def vqin(qlog, flags, ram, last=0, used=0, desc=0, avail=0x100, usedoff=0x200):
    hdr = struct.pack('<BBHHxxBBHBB', qlog, flags, last, used, 0, 16, 0, 0, 0)
    hdr += desc.to_bytes(3, 'little') + avail.to_bytes(3, 'little')
    hdr += struct.pack('<HH', usedoff // 4, 0)
    assert len(hdr) == 24
    return hdr + ram


def ram_with(descs, heads, size=0xc40):
    ram = bytearray(size)
    for i, (addr, ln, fl, nxt) in enumerate(descs):
        ram[16 * i:16 * i + 16] = struct.pack('<QIHH', addr, ln, fl, nxt)
    ram[0x100:0x104] = struct.pack('<HH', 0, len(heads))
    for i, h in enumerate(heads):
        ram[0x104 + 2 * i:0x106 + 2 * i] = struct.pack('<H', h)
    return bytes(ram)


# queue of 4: chain 0 -> 1 (out 0x800+40, in 0x900+64); indirect at 2
out('fuzz_vq', 'chain', vqin(2, 0, ram_with(
    [(0x800, 40, 1, 1), (0x900, 64, 2, 0)], [0])))
ind = ram_with([(0, 0, 0, 0), (0, 0, 0, 0), (0xa00, 32, 4, 0)], [2])
ind = bytearray(ind)
ind[0xa00:0xa20] = struct.pack('<QIHHQIHH', 0x800, 40, 1, 1, 0x900, 64, 2, 0)
out('fuzz_vq', 'indirect', vqin(2, 1 | 2 | 4 | 8, bytes(ind)))
out('fuzz_vq', 'two', vqin(3, 2, ram_with(
    [(0x800, 40, 1, 1), (0x900, 64, 2, 0), (0xc00, 16, 0, 0)], [0, 2])))

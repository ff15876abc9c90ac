#!/usr/bin/env python3
"""Damage the newest data of a stopped broker the way a crash or a bad disk would.

  corrupt.py raft DIR MODE SEED   the newest open raft segment (DIR/open-*)
  corrupt.py part DIR MODE SEED   a partition directory (DIR/*.log + DIR/checkpoint)

MODE: "torn" zeroes the bytes from a random point of the last record to its
end (the write did not reach the disk); "flip" inverts one random bit inside
a record. Raft: the records are libraft's entries batches (segment: 8-byte
format, then batches "crc1 crc2 n, n x 16-byte headers, data"); torn hits the
last batch of the newest open segment, flip any batch of it (libraft keeps
the batches before the damaged one and the leader sends the rest again).
Partition: the record is the last unit written after the checkpoint
(broker/STORAGE.md §3, §6), which is what recovery verifies and cuts. Damage
before a partition checkpoint is detected when read, not at start (and not
repaired), so it is not made here.

Prints one line saying what was done, or why nothing was. Exit 0 either way;
2 on bad usage. Files are changed in place (no size change).
"""
import glob
import os
import random
import struct
import sys


def newest(paths):
    paths = [p for p in paths if os.path.getsize(p) > 0]
    return max(paths, key=os.path.getmtime) if paths else None


def raft_batches(data):
    """[(start, end)] of the complete batches of a segment."""
    if len(data) < 8 or struct.unpack_from("<Q", data, 0)[0] != 1:
        return []
    off, found = 8, []
    while off + 16 <= len(data):
        n = struct.unpack_from("<Q", data, off + 8)[0]
        if n == 0 or n > 1 << 20:
            break
        hdr = 16 + 16 * n
        if off + hdr > len(data):
            break
        size = sum(struct.unpack_from("<I", data, off + 16 + 16 * i + 12)[0] for i in range(n))
        if off + hdr + size > len(data):
            break
        found.append((off, off + hdr + size))
        off += hdr + size
    return found


def part_last_unit(seg, ckpt_pos):
    """(start, end) of the last unit at or after ckpt_pos, or None."""
    data = open(seg, "rb").read()
    off, last = 32, None
    while off + 52 <= len(data):
        ulen, magic = struct.unpack_from("<II", data, off)
        if ulen == 0 or magic != 0x314E5554 or off + ulen > len(data):
            break
        if off >= ckpt_pos:
            last = (off, off + ulen)
        off += ulen
    return last


def checkpoint_pos(pdir, seg):
    try:
        ck = open(os.path.join(pdir, "checkpoint"), "rb").read()
        base, pos = struct.unpack_from("<QQ", ck, 8)
    except (OSError, struct.error):
        return 32
    seg_base = int(os.path.basename(seg).split(".")[0])
    return pos if seg_base == base else 32


def damage(path, start, end, mode, rng):
    with open(path, "r+b") as f:
        if mode == "torn":
            at = rng.randrange(start + 1, end)
            f.seek(at)
            f.write(b"\0" * (end - at))
            return "zeroed bytes %d..%d of the record at %d..%d" % (at, end, start, end)
        at = rng.randrange(start, end)
        f.seek(at)
        b = f.read(1)[0] ^ (1 << rng.randrange(8))
        f.seek(at)
        f.write(bytes([b]))
        return "flipped a bit of byte %d in the record at %d..%d" % (at, start, end)


def main():
    if len(sys.argv) != 5 or sys.argv[1] not in ("raft", "part") or sys.argv[3] not in ("torn", "flip"):
        print(__doc__, file=sys.stderr)
        return 2
    kind, d, mode, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = random.Random(seed)
    if kind == "raft":
        path = newest(glob.glob(os.path.join(d, "open-*")))
        batches = raft_batches(open(path, "rb").read()) if path else []
        rec = None
        if batches:
            rec = batches[-1] if mode == "torn" else batches[rng.randrange(len(batches))]
    else:
        path = newest(glob.glob(os.path.join(d, "*.log")))
        rec = part_last_unit(path, checkpoint_pos(d, path)) if path else None
    if not rec or rec[1] - rec[0] < 2:
        print("%s %s: nothing to damage in %s" % (kind, mode, path or d))
        return 0
    print("%s %s: %s: %s" % (kind, mode, path, damage(path, rec[0], rec[1], mode, rng)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

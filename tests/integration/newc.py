# SPDX-License-Identifier: LGPL-2.1-or-later
"""A newc ("070701") cpio writer for tests and benches: the format Linux unpacks as an
initramfs (doc/guest-protocol.md, section 4), written here independently of libvxn's."""


def newc(entries):
    """entries: (name, mode, data) with the file type in mode -> the archive's bytes,
    every member and the trailer padded to 4 bytes."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(list(entries) + [("TRAILER!!!", 0, b"")], 1):
        nb = name.encode() + b"\0"
        out += ("070701" + "".join("%08X" % v for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))).encode() + nb
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)

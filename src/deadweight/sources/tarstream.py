"""Iterate the members of a layer tar from a forward-only stream, in one pass, bounded memory.

``tarfile`` parses a 512-byte header well (``TarInfo.frombuf``), but its stream mode reads member data in
small blocks and keeps every member in a list; for multi-GB layers we need to skip data by seeking and
forget members as we go, so the loop and the GNU/pax extension handling live here.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from deadweight.errors import SourceError
from deadweight.model.image import EntryKind, LayerEntry
from deadweight.sources.base import ByteStream

BLOCK = 512
#: A member larger than this is treated as a corrupt header, not a real file.
MAX_MEMBER_SIZE = 1 << 42  # 4 TiB
#: Extension headers (long names, pax records) larger than this are refused.
MAX_EXTENSION_SIZE = 1 << 20
#: Member names and link targets longer than this (in characters) are refused: Linux's PATH_MAX is 4096. Every
#: directory of a path is a node with its own full path, so one name of length L costs ~L*L/4 characters of
#: paths; at this cap a single member can at most cost ~150 MB of memory (measured: a 5,000-deep name cost 1 GB).
MAX_PATH_BYTES = 4096

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"

_KINDS = {
    tarfile.REGTYPE: EntryKind.FILE,
    tarfile.AREGTYPE: EntryKind.FILE,
    tarfile.CONTTYPE: EntryKind.FILE,
    tarfile.DIRTYPE: EntryKind.DIR,
    tarfile.SYMTYPE: EntryKind.SYMLINK,
    tarfile.LNKTYPE: EntryKind.HARDLINK,
}


@dataclass(frozen=True, slots=True)
class TarMember:
    """A member with its normalised entry and, when the caller asked for it, its content."""

    entry: LayerEntry
    content: bytes | None


def normalize_member_path(name: str, source: str) -> str:
    """Return the member path relative to the image root, or raise for names that escape it.

    Layer tars name members ``usr/lib/x`` or ``./usr/lib/x``; an absolute name or one whose ``..``
    climbs out of the root is a broken or hostile archive.
    """
    if "\x00" in name:
        raise SourceError(f"{source}: tar member name contains a NUL byte")
    if name.startswith("/"):
        raise SourceError(f"{source}: tar member has an absolute path: {name!r}")
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise SourceError(f"{source}: tar member escapes the root with '..': {name!r}")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _read_exact(stream: ByteStream, n: int, source: str, what: str) -> bytes:
    chunks: list[bytes] = []
    remaining = n
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise SourceError(f"{source}: truncated tar ({what})")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def padding(size: int) -> int:
    """Bytes after ``size`` bytes of member data up to the next 512-byte block."""
    return -size % BLOCK


def _parse_pax(data: bytes, source: str) -> dict[str, str]:
    """Parse pax records: ``"%d %s=%s\\n"`` where the length counts the whole record."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise SourceError(f"{source}: malformed pax header")
        try:
            length = int(data[pos:space])
        except ValueError as exc:
            raise SourceError(f"{source}: malformed pax header length") from exc
        if length <= 0 or pos + length > len(data):
            raise SourceError(f"{source}: malformed pax header length")
        record = data[space + 1 : pos + length - 1]
        key, sep, value = record.partition(b"=")
        if not sep:
            raise SourceError(f"{source}: malformed pax record")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def classify(path: str, kind: EntryKind) -> tuple[str, EntryKind]:
    """Turn whiteout marker files into WHITEOUT/OPAQUE entries naming what they delete."""
    base = posixpath.basename(path)
    if not base.startswith(WHITEOUT_PREFIX):
        return path, kind
    parent = posixpath.dirname(path)
    if base == OPAQUE_MARKER:
        return parent, EntryKind.OPAQUE
    if base.startswith(".wh..wh."):  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not content
        return path, EntryKind.OTHER
    target = base[len(WHITEOUT_PREFIX) :]
    return (posixpath.join(parent, target) if parent else target), EntryKind.WHITEOUT


#: ``(name, link, size, type, mode)`` of one member: GNU long names and pax records applied, ``size`` the
#: number of data bytes that follow the header (padding not included). A tuple: layers have 10^4-10^5 members.
TarHeader = tuple[str, str, int, bytes, int]


def iter_headers(stream: ByteStream, source: str, *, require_end_marker: bool = False) -> Iterator[TarHeader]:
    """Each member's header, in order; extension headers (GNU long name/link, pax) are read and applied.

    Between two headers the caller reads or skips the member's ``size`` data bytes and their padding to
    the next 512-byte block (``padding(size)``). Stops at the end-of-archive marker or at a clean end of
    stream; a stream that ends inside a header is an error, and so is a clean end without the marker
    when ``require_end_marker`` (a whole archive file has one; layer streams often end without).
    Malformed pax records are errors, not skipped.
    """
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    global_pax: dict[str, str] = {}
    while True:
        header = stream.read(BLOCK)
        if len(header) < BLOCK:
            rest = header
            while rest and len(header) < BLOCK:  # short reads from a decompressor are not EOF
                rest = stream.read(BLOCK - len(header))
                header += rest
            if not header:
                if require_end_marker:
                    raise SourceError(f"{source}: truncated or corrupt archive (no end-of-archive marker)")
                return  # no end marker, ending cleanly on a block boundary
            if len(header) < BLOCK:
                raise SourceError(f"{source}: truncated tar (partial header)")
        if header.count(0) == BLOCK:
            return
        try:
            info = tarfile.TarInfo.frombuf(header, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise SourceError(f"{source}: not a tar stream or corrupt tar header ({exc})") from None
        size = info.size
        if size < 0 or size > MAX_MEMBER_SIZE:
            raise SourceError(f"{source}: tar header declares an absurd size ({size} bytes)")
        kind_code = info.type
        if kind_code in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE):
            if size > MAX_EXTENSION_SIZE:
                raise SourceError(f"{source}: tar extension header too large ({size} bytes)")
            data = _read_exact(stream, size, source, "extension header")
            stream.skip(padding(size))
            if kind_code == tarfile.GNUTYPE_LONGNAME:
                long_name = data.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
            elif kind_code == tarfile.GNUTYPE_LONGLINK:
                long_link = data.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
            elif kind_code == tarfile.XHDTYPE:
                pax = _parse_pax(data, source)
            else:
                global_pax.update(_parse_pax(data, source))
            continue

        name = pax.get("path") or global_pax.get("path") or long_name or info.name
        link = pax.get("linkpath") or long_link or info.linkname
        if len(name) > MAX_PATH_BYTES or len(link) > MAX_PATH_BYTES:
            raise SourceError(f"{source}: tar member name or link target longer than {MAX_PATH_BYTES} characters")
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise SourceError(f"{source}: malformed pax size") from None
            if size < 0 or size > MAX_MEMBER_SIZE:
                raise SourceError(f"{source}: tar header declares an absurd size ({size} bytes)")
        long_name = long_link = None
        pax = {}
        yield name, link, size, kind_code, info.mode


def iter_tar(
    stream: ByteStream,
    *,
    source: str,
    want: Callable[[str], bool] | None = None,
    max_capture: int = 16 << 20,
) -> Iterator[TarMember]:
    """Yield every member of the tar in ``stream``.

    ``want(path)`` selects regular files whose content is returned (when no larger than
    ``max_capture``); everything else is skipped without being held in memory. Stops at the
    end-of-archive marker or at a clean end of stream; a stream that ends inside a member is an error.
    """
    for name, listed_link, size, kind_code, mode in iter_headers(stream, source):
        kind = _KINDS.get(kind_code, EntryKind.OTHER)
        if kind is EntryKind.FILE and name.endswith("/"):
            kind = EntryKind.DIR  # old tars mark directories by a trailing slash only
        path = normalize_member_path(name, source)
        link = normalize_member_path(listed_link, source) if kind is EntryKind.HARDLINK else listed_link
        path, kind = classify(path, kind)
        has_data = kind_code not in (tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE,
                                     tarfile.BLKTYPE, tarfile.FIFOTYPE)
        data_size = size if has_data else 0

        content: bytes | None = None
        if kind is EntryKind.FILE and want is not None and data_size <= max_capture and want(path):
            content = _read_exact(stream, data_size, source, f"member {path}")
            stream.skip(padding(data_size))
        elif data_size:
            stream.skip(data_size + padding(data_size))

        yield TarMember(
            LayerEntry(
                path=path,
                kind=kind,
                size=data_size if kind is EntryKind.FILE else 0,
                link_target=link if kind in (EntryKind.SYMLINK, EntryKind.HARDLINK) else None,
                mode=mode,
            ),
            content,
        )

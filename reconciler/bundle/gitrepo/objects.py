"""git's object formats, parsed: a commit's fields and a tree's entries (pure: no git runs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

SYMLINK_MODE = 0o120000
_KINDS = {0o04: "tree", 0o16: "commit"}  #: a tree entry's mode >> 12; anything else is a blob


@dataclass(frozen=True, slots=True)
class Commit:
    """What the reconciler reads of a commit."""

    hexsha: str
    tree: str  #: the root tree's object id
    parents: tuple[str, ...]
    committed: int  #: committer time (Unix seconds)
    offset: int  #: the committer's UTC offset, in seconds
    summary: str  #: the first line of the message

    @property
    def committed_datetime(self) -> dt.datetime:
        """The committer date, in the committer's own time zone."""
        zone = dt.timezone(dt.timedelta(seconds=self.offset))
        return dt.datetime.fromtimestamp(self.committed, zone)


def tree_entries(data: bytes) -> dict[str, tuple[str, int, str]]:
    """A tree object's entries: name -> (``tree``, ``blob`` or ``commit``, mode, object id).

    Each entry is ``<octal mode> <name>\\0<20-byte id>``.
    """
    entries: dict[str, tuple[str, int, str]] = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = int(data[pos:space], 8)
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        oid = data[nul + 1 : nul + 21].hex()
        entries[name] = (_KINDS.get(mode >> 12, "blob"), mode, oid)
        pos = nul + 21
    return entries


def parse_commit(sha: str, raw: bytes) -> Commit:
    """The fields of a raw commit object (headers, a blank line, the message)."""
    header, _, message = raw.partition(b"\n\n")
    tree, parents, committed, offset, encoding = "", [], 0, 0, "utf-8"
    for line in header.split(b"\n"):
        key, _, value = line.partition(b" ")
        if key == b"tree":
            tree = value.decode("ascii")
        elif key == b"parent":
            parents.append(value.decode("ascii"))
        elif key == b"committer":
            # "Name <email> 1700000000 +0100"
            stamp, zone = value.rsplit(b" ", 2)[-2:]
            committed = int(stamp)
            sign = -1 if zone.startswith(b"-") else 1
            offset = sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
        elif key == b"encoding":
            encoding = value.decode("ascii", "replace")
    try:
        text = message.decode(encoding, "replace")
    except LookupError:  # an encoding Python does not know
        text = message.decode("utf-8", "replace")
    return Commit(sha, tree, tuple(parents), committed, offset, text.split("\n", 1)[0])

"""Large arrays between a paramserv worker and the server through shared memory, where both run
on one host (a local master, or an executor on the driver's machine).

Over loopback TCP a 6.6 MB gradient is copied into the kernel and out again, on the cores the
workers compute on; through a file in /dev/shm it is copied once, by the sender: the receiver's
arrays are views of the file (writable: the server sums gradients into them, a worker's agg
updates its model in them), and the sender writes into that space again only once every one of
them is gone. The channel (channel.py) still carries every message: its authenticated table
says where each shared part lies, the pickle stream itself always goes on the socket, and the
part's tags are of its bytes, checked before anything is unpickled.

Each side sends from segments it creates (an Outbox): files named kerasdml-ps-<random>-<n>,
readable by this user alone. A segment holds the shared parts of one message; its header has
the number of parts written (by the sender) and a flag per part, which the receiver sets when
the last array viewing that part goes (a single byte written: nothing to lose between threads);
the segment is free again when every written part's flag is set. A receiver that holds on to a
message (a model kept for the next round) makes the sender use another segment meanwhile, and
one it keeps past the connection (a model average returned by paramserv) keeps the segment's
pages in /dev/shm until its arrays go; a full /dev/shm sends inline. The
receiver maps a segment the first time a message names it, marks it mapped and unlinks its name
then, so the memory goes when both sides unmap it: the sender marks a segment it gives up as
retired (a one-off's, as a worker's rows, once it is free; all of them when the channel
closes), the receiver unmaps the retired ones whenever it maps another, and the sender unlinks
what was never mapped. Whether the peer shares /dev/shm is probed once per
connection: the worker writes a random token into a file that the server must read back.
"""
from __future__ import annotations

import mmap
import os
import re
import secrets
import threading
import weakref
from pathlib import Path

import numpy as np

SHARED_DIRECTORY = Path("/dev/shm")
MIN_SHARED_BYTES = 1 << 16        # smaller parts go inline: a segment's bookkeeping costs more
MAX_SEGMENTS = 8                  # per direction of a connection; more outstanding go inline
COUNTERS_BYTES = 64               # parts written, mapped, retired (int64 each), padding
MAX_SHARED_PARTS = 1024           # a message's parts in one segment (flags); more go inline
HEADER_BYTES = COUNTERS_BYTES + MAX_SHARED_PARTS     # the counters, then a flag per part
KEEP_BYTES = 64 << 20             # a free segment past this and twice a message's size goes
ALIGNMENT = 64
GRANULE = 1 << 20                 # segment sizes are rounded up to this
TOKEN_BYTES = 16
_PREFIX = re.compile(r"kerasdml-ps-[0-9a-f]{32}")


class SharedMemoryError(Exception):
    """A shared part that cannot be where the message says."""


def available() -> bool:
    return SHARED_DIRECTORY.is_dir() and os.access(SHARED_DIRECTORY, os.W_OK)


def valid_prefix(prefix) -> bool:
    return isinstance(prefix, str) and _PREFIX.fullmatch(prefix) is not None


def _counters(memory: mmap.mmap) -> np.ndarray:
    """[parts written, mapped, retired]: each written by one side only."""
    return np.frombuffer(memory, dtype=np.int64, count=3)


def _released(memory: mmap.mmap) -> np.ndarray:
    """A byte per part of the segment's message, set by the receiver once it holds no view."""
    return np.frombuffer(memory, dtype=np.uint8, count=MAX_SHARED_PARTS, offset=COUNTERS_BYTES)


def _close(memory: mmap.mmap) -> None:
    try:
        memory.close()
    except BufferError:          # a view of it is still alive: the mapping goes with it
        pass


class _Segment:
    def __init__(self, path: Path, capacity: int):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            # the pages are taken now: on a full /dev/shm (a container's is often 64 MB) this
            # fails here, and the parts go inline, where a write to a page that cannot be had
            # would kill the process with SIGBUS
            os.posix_fallocate(fd, 0, capacity)
            self.memory = mmap.mmap(fd, capacity)
        except OSError:
            path.unlink()
            raise
        finally:
            os.close(fd)
        self.path, self.capacity = path, capacity
        self.counters, self.released = _counters(self.memory), _released(self.memory)

    def free(self) -> bool:
        return bool(self.released[:self.counters[0]].all())

    def close(self) -> None:
        if not self.counters[1]:                 # the peer never mapped it
            try:
                self.path.unlink()
            except OSError:
                pass
        self.counters[2] = 1                     # the peer may unmap it
        del self.counters, self.released
        _close(self.memory)


class Outbox:
    """The segments this side sends from.

    A segment is made for a size of message that missed one before: the first message of a
    size goes inline, the second starts the segment's making on a thread of its own (its
    pages cost milliseconds per megabyte to take, about twice a loopback send of the same
    bytes) and goes inline too, and the next ones find it. A worker exchanging every batch
    sends two of its many gradients over the socket; a message sent once per connection
    (a worker's rows, the model of an epoch's single exchange) never pays for a segment."""

    def __init__(self):
        self.prefix = f"kerasdml-ps-{secrets.token_hex(16)}"
        self.segments: dict[int, _Segment] = {}
        self.created = 0
        self._missed: set[int] = set()           # capacities a message needed and found none
        self._making: threading.Thread | None = None
        self._closed = self._full = False
        self._lock = threading.Lock()

    def probe(self) -> bytes:
        """Writes the file the peer must read back; returns its token."""
        token = secrets.token_bytes(TOKEN_BYTES)
        fd = os.open(self._probe_path(), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, token)
        finally:
            os.close(fd)
        return token

    def _probe_path(self) -> Path:
        return SHARED_DIRECTORY / f"{self.prefix}-probe"

    def place(self, parts: list) -> tuple[int, list[int]] | None:
        """Copies the parts (bytes-like, at most MAX_SHARED_PARTS) into a free segment: (its
        number, each part's offset), or None when none is free and fits (the parts then go
        inline)."""
        offsets, end = [], HEADER_BYTES
        for part in parts:
            offsets.append(end)
            end += -(-memoryview(part).nbytes // ALIGNMENT) * ALIGNMENT
        with self._lock:
            number = self._free_segment(end)
            if number is None:
                self._missed_one(-(-end // GRANULE) * GRANULE)
                return None
            segment = self.segments[number]
            segment.released[:len(parts)] = 0
            segment.counters[0] = len(parts)
            for part, offset in zip(parts, offsets):
                data = np.frombuffer(part, dtype=np.uint8)
                np.frombuffer(segment.memory, dtype=np.uint8, count=data.size, offset=offset)[:] = data
        return number, offsets

    def _free_segment(self, size: int) -> int | None:
        for n in [n for n, s in self.segments.items()
                  if s.capacity > max(2 * size, KEEP_BYTES) and s.free()]:
            self.segments.pop(n).close()         # a one-off's space goes back to the system
        fitting = [n for n, s in self.segments.items() if s.capacity >= size and s.free()]
        return fitting[0] if fitting else None

    def _missed_one(self, capacity: int) -> None:
        """Under the lock: a message of `capacity` found no segment; the second time, one is
        made in the background (in place of a free smaller one when there are enough)."""
        if capacity not in self._missed:
            self._missed.add(capacity)
            return
        if self._making is not None or self._full:
            return
        if len(self.segments) >= MAX_SEGMENTS:
            free = [n for n, s in self.segments.items() if s.free()]
            if not free:
                return
            self.segments.pop(free[0]).close()   # too small: a larger one takes its place
        number = self.created
        self.created += 1
        self._making = threading.Thread(target=self._make, args=(number, capacity), daemon=True,
                                        name="kerasdml-ps-segment")
        self._making.start()

    def _make(self, number: int, capacity: int) -> None:
        try:
            segment = _Segment(SHARED_DIRECTORY / f"{self.prefix}-{number}", capacity)
        except OSError:                          # no room in /dev/shm: the parts stay inline
            segment = None
        with self._lock:
            self._making = None
            if segment is None:
                self._full = True                # no more tries on this connection
            elif self._closed:
                segment.close()
            else:
                self.segments[number] = segment

    def settle(self) -> None:
        """Waits for a segment being made."""
        making = self._making
        if making is not None:
            making.join()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for segment in self.segments.values():
                segment.close()
            self.segments.clear()
            try:
                self._probe_path().unlink()
            except OSError:
                pass
        self.settle()


class Inbox:
    """The peer's segments, mapped as its messages name them."""

    def __init__(self, prefix: str):
        if not valid_prefix(prefix):
            raise SharedMemoryError("a shared-memory offer with a malformed name")
        self.prefix = prefix
        self.mapped: dict[int, mmap.mmap] = {}

    def check_probe(self, token: bytes) -> bool:
        """Whether the peer's probe file is here and holds its token (then it is removed)."""
        path = SHARED_DIRECTORY / f"{self.prefix}-probe"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return False
        try:
            found = os.read(fd, TOKEN_BYTES + 1)
        finally:
            os.close(fd)
        try:
            path.unlink()
        except OSError:
            pass
        return secrets.compare_digest(found, token)

    def take(self, number: int, index: int, offset: int, size: int) -> np.ndarray:
        """The message's `index`-th part in segment `number`: a view of the segment, whose
        flag is set once it and every array made from it are gone."""
        memory = self._segment(number)
        if offset < HEADER_BYTES or offset + size > len(memory):
            raise SharedMemoryError(f"a shared part ({offset}+{size}) outside its segment")
        if not 0 <= index < MAX_SHARED_PARTS:
            raise SharedMemoryError(f"a shared part numbered {index} in one segment")
        part = np.frombuffer(memory, dtype=np.uint8, count=size, offset=offset)
        weakref.finalize(part, _release, _released(memory), index)
        return part

    def _segment(self, number: int):
        found = self.mapped.get(number)
        if found is None:
            path = SHARED_DIRECTORY / f"{self.prefix}-{int(number)}"
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
            except OSError as err:
                raise SharedMemoryError(f"shared segment {number} is gone: {err}") from None
            try:
                size = os.fstat(fd).st_size
                if size < HEADER_BYTES:
                    raise SharedMemoryError(f"shared segment {number} is too short")
                found = mmap.mmap(fd, size)
            finally:
                os.close(fd)
            path.unlink()                        # mapped on both sides: the name is not needed
            _counters(found)[1] = 1
            for retired in [n for n, memory in self.mapped.items() if _counters(memory)[2]]:
                _close(self.mapped.pop(retired))
            self.mapped[number] = found
        return found

    def close(self) -> None:
        for memory in self.mapped.values():
            _close(memory)
        self.mapped.clear()


def _release(flags: np.ndarray, index: int) -> None:
    flags[index] = 1

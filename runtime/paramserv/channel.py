"""The authenticated channel between REMOTE_SPARK workers and the parameter server on the driver.

Every run draws a random secret on the driver; it reaches the workers inside their Spark task
and nowhere else. On connecting, the server sends a fresh random nonce, and both sides derive the
connection's key from it and the secret (HMAC-SHA256). A message is pickled with protocol 5 and
its arrays out of band (the pickle stream refers to them; they travel as they lie in memory,
neither copied into the pickle nor out of it), and sent as one frame:

    table size (8 bytes) | tag (16)
    table: number of parts, then each part's size (8 bytes each) | tag (16)
    each part (the pickle stream, then its arrays' bytes) | tags (16 per GiB of the part)

Where both sides share /dev/shm, large arrays travel through it instead (shared_memory.py): the
table gives such a part's size with its top bit set, followed by its segment and offset, and
the frame carries only its tags, which are of its bytes as always.

Tags are AES-GMAC (AES-256-GCM authenticating without encrypting) under the connection's key,
with a nonce made of the direction, the tag's index in the frame and the message's sequence
number: a frame replayed on another connection (another key), reflected back or reordered
fails, and so does a part moved within a frame. GMAC rather than HMAC-SHA256 because a model or
gradient of megabytes crosses the channel twice per worker and update: with AES instructions
GMAC tags tens of gigabytes a second, SHA-256 one or two. The table size's tag is checked
before the table is read, the table's before any part is, and every part's before anything is
unpickled (compare_digest): a peer without the secret gets its connection closed and nothing
it sent is ever unpickled.

Authenticated, not encrypted: models and gradients are readable on the wire, and the secret is
as private as Spark's own task channel (spark.authenticate and spark.network.crypto.enabled on a
shared network).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import socket
import struct
import time

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import shared_memory
from .shared_memory import Inbox, Outbox, SharedMemoryError

NONCE_BYTES = 16
TAG_BYTES = 16
SIZE = struct.Struct("!Q")
MAX_FRAME = 1 << 36      # 64 GiB: a model larger than this cannot be a paramserv model here
MAX_PARTS = 1 << 20      # a pickle stream and its arrays: far more arrays than any model has
TAGGED_PART = 1 << 30    # GMAC takes at most 2**31 - 1 bytes at once: a tag per GiB of a part
TO_SERVER, TO_WORKER = b"W", b"S"
SHARED_PART = 1 << 63    # a table entry's flag: the part lies in shared memory


class ForgedMessage(Exception):
    """A frame whose tag does not match: not sent by a holder of the run's secret."""


def new_secret() -> bytes:
    return os.urandom(32)


def connection_key(secret: bytes, nonce: bytes) -> bytes:
    return hmac.new(secret, b"kerasdml paramserv channel " + nonce, hashlib.sha256).digest()


class FrameTags:
    """The GMAC tags of one direction's frames on one connection: tag i of frame `sequence`
    (0 the table size's, 1 the table's, then the parts' GiBs in order)."""

    def __init__(self, key: bytes, direction: bytes):
        self.gmac, self.direction = AESGCM(key), direction

    def tag(self, sequence: int, index: int, data) -> bytes:
        nonce = self.direction + index.to_bytes(3, "big") + SIZE.pack(sequence)
        return self.gmac.encrypt(nonce, b"", data)     # no plaintext: the tag of data alone

    def part_tags(self, sequence: int, first_index: int, part) -> bytes:
        view = memoryview(part).cast("B")
        return b"".join(self.tag(sequence, first_index + i, view[start:start + TAGGED_PART])
                        for i, start in enumerate(range(0, max(len(view), 1), TAGGED_PART)))


def tags_of(size: int) -> int:
    """How many tags a part of `size` bytes has."""
    return max(-(-size // TAGGED_PART), 1)


def _read_exactly(sock: socket.socket, count: int) -> bytearray:
    buffer = bytearray(count)
    _receive_into(sock, memoryview(buffer))
    return buffer


def _read_part(sock: socket.socket, count: int) -> np.ndarray:
    """A frame's part in a byte array of its own: not zeroed first, and the arrays unpickled
    from it own their memory as far as the in-place updates are concerned (inplace.free: a
    view of a whole numpy buffer that nothing else holds), so agg may write into a model or
    gradient received from the network."""
    buffer = np.empty(count, dtype=np.uint8)
    _receive_into(sock, memoryview(buffer))
    return buffer


def _receive_into(sock: socket.socket, view: memoryview) -> None:
    done, count = 0, len(view)
    while done < count:
        got = sock.recv_into(view[done:], count - done)
        if got == 0:
            raise ConnectionError("the peer closed the connection")
        done += got


class Prepared(tuple):
    """(pickle stream, its out-of-band buffers) and the seconds the pickling took. A model sent
    to k workers is pickled once (and tagged per connection, under each one's key); the buffers
    are views of the message's arrays, which must not change until it is sent (DML values
    never change in place while anything else holds them)."""
    seconds = 0.0

    @property
    def nbytes(self) -> int:
        return len(self[0]) + sum(map(len, self[1]))


def prepare(message) -> Prepared:
    began = time.perf_counter()
    buffers: list = []
    stream = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    prepared = Prepared((stream, [buffer.raw() for buffer in buffers]))
    prepared.seconds = time.perf_counter() - began
    return prepared


class Channel:
    """One side of an authenticated connection: send() and recv() pickled messages."""

    def __init__(self, sock: socket.socket, secret: bytes, nonce: bytes, outgoing: bytes):
        self.sock = sock
        key = connection_key(secret, nonce)
        incoming = TO_WORKER if outgoing == TO_SERVER else TO_SERVER
        self.outgoing, self.incoming = FrameTags(key, outgoing), FrameTags(key, incoming)
        self.sent = self.received = 0
        self.seconds = {"encode": 0.0, "decode": 0.0}   # pickling and tags, both ways
        self.outbox: Outbox | None = None    # set once both sides share /dev/shm
        self.inbox: Inbox | None = None
        self.shared_bytes = 0                # that went through it, both ways

    @classmethod
    def accept(cls, sock: socket.socket, secret: bytes) -> "Channel":
        """Server side: sends the connection's nonce."""
        nonce = os.urandom(NONCE_BYTES)
        sock.sendall(nonce)
        return cls(sock, secret, nonce, TO_WORKER)

    @classmethod
    def connect(cls, address: tuple[str, int], secret: bytes, timeout: float | None = None) -> "Channel":
        """Worker side: connects and reads the server's nonce."""
        sock = socket.create_connection(address, timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock, secret, _read_exactly(sock, NONCE_BYTES), TO_SERVER)

    def send(self, message) -> None:
        self.send_prepared(prepare(message))

    def send_prepared(self, prepared: Prepared) -> None:
        """Sends a message pickled once (the server sends one model to k workers)."""
        began = time.perf_counter()
        stream, buffers = prepared
        parts = [stream, *buffers]
        entries, inline = self._table_entries(parts)
        table = struct.pack(f"!{len(entries) + 1}Q", len(parts), *entries)
        size = SIZE.pack(len(table))
        head = b"".join((size, self.outgoing.tag(self.sent, 0, size),
                         table, self.outgoing.tag(self.sent, 1, table)))
        tails, index = [], 2
        for part in parts:
            tails.append(self.outgoing.part_tags(self.sent, index, part))
            index += tags_of(len(part))
        self.sent += 1
        self.seconds["encode"] += time.perf_counter() - began + prepared.seconds
        self.sock.sendall(head)
        for part, tail, sent_inline in zip(parts, tails, inline):
            if sent_inline:
                self.sock.sendall(part)
            self.sock.sendall(tail)

    def _table_entries(self, parts: list) -> tuple[list[int], list[bool]]:
        """Each part's table entry (its size, or its size flagged and where it lies in shared
        memory), and whether it goes inline."""
        large = [i for i, part in enumerate(parts)
                 if i > 0 and len(part) >= shared_memory.MIN_SHARED_BYTES][:shared_memory.MAX_SHARED_PARTS]
        placed = self.outbox.place([parts[i] for i in large]) if self.outbox and large else None
        where = dict(zip(large, placed[1])) if placed else {}
        self.shared_bytes += sum(len(parts[i]) for i in where)
        entries, inline = [], []
        for i, part in enumerate(parts):
            if i in where:
                entries += [len(part) | SHARED_PART, placed[0], where[i]]
            else:
                entries.append(len(part))
            inline.append(i not in where)
        return entries, inline

    def recv(self):
        entries = self._table()
        began, index, parts = time.perf_counter(), 2, []
        in_segment: dict[int, int] = {}          # a segment's parts so far: the next one's number
        for size, shared in entries:
            part = self._shared_part(size, shared, in_segment) if shared else _read_part(self.sock, size)
            tags = _read_exactly(self.sock, tags_of(size) * TAG_BYTES)
            if not hmac.compare_digest(tags, self.incoming.part_tags(self.received, index, part)):
                raise ForgedMessage("a frame's part is not signed with the run's secret")
            index += tags_of(size)
            parts.append(part)
        self.received += 1
        message = pickle.loads(parts[0], buffers=parts[1:])
        self.seconds["decode"] += time.perf_counter() - began
        return message

    def _shared_part(self, size: int, where: tuple[int, int], in_segment: dict) -> np.ndarray:
        if self.inbox is None:
            raise ForgedMessage("a frame names shared memory on a connection that has none")
        number, offset = where
        index = in_segment[number] = in_segment.get(number, -1) + 1
        try:
            part = self.inbox.take(number, index, offset, size)
            self.shared_bytes += size
            return part
        except SharedMemoryError as err:
            raise ConnectionError(f"paramserv: {err}") from None

    def _table(self) -> list[tuple[int, tuple | None]]:
        """Each part's size and, for a part in shared memory, (segment, offset); read and
        checked before any part is read."""
        size = bytes(_read_exactly(self.sock, SIZE.size))
        if not hmac.compare_digest(_read_exactly(self.sock, TAG_BYTES),
                                   self.incoming.tag(self.received, 0, size)):
            raise ForgedMessage("a frame's table size is not signed with the run's secret")
        table_bytes = SIZE.unpack(size)[0]
        if table_bytes > SIZE.size * (MAX_PARTS + 1) or table_bytes % SIZE.size:
            raise ForgedMessage(f"a frame's table of {table_bytes} bytes is not one of this channel")
        table = bytes(_read_exactly(self.sock, table_bytes))
        if not hmac.compare_digest(_read_exactly(self.sock, TAG_BYTES),
                                   self.incoming.tag(self.received, 1, table)):
            raise ForgedMessage("a frame's table is not signed with the run's secret")
        count, *values = struct.unpack(f"!{table_bytes // SIZE.size}Q", table)
        entries, at = [], 0
        while at < len(values):
            size, shared = values[at] & ~SHARED_PART, None
            if values[at] & SHARED_PART:
                shared, at = tuple(values[at + 1:at + 3]), at + 2
            entries.append((size, shared))
            at += 1
        if (at != len(values) or count != len(entries) or count < 1
                or sum(size for size, _ in entries) > MAX_FRAME):
            raise ForgedMessage("a frame's table does not describe a paramserv message")
        return entries

    def offer_shared_memory(self) -> tuple | None:
        """Worker side: the request that proposes shared memory, None where there is none."""
        if not shared_memory.available():
            return None
        try:
            self.outbox = Outbox()
            return ("shared-memory", self.outbox.prefix, self.outbox.probe())
        except OSError:
            self.close_shared_memory()
            return None

    def accept_shared_memory(self, prefix, token) -> str | None:
        """Server side: whether the worker's probe is found here; then both sides send through
        shared memory, and the worker learns this side's prefix from the reply."""
        try:
            inbox = Inbox(prefix)
            if not isinstance(token, bytes) or not inbox.check_probe(token):
                return None
            self.inbox, self.outbox = inbox, Outbox()
        except (OSError, SharedMemoryError):
            self.close_shared_memory()
            return None
        return self.outbox.prefix

    def use_shared_memory(self, peer_prefix) -> None:
        """Worker side, with the server's answer: its prefix, or None (inline it stays)."""
        try:
            if peer_prefix is not None:
                self.inbox = Inbox(peer_prefix)
                return
        except SharedMemoryError:
            pass
        self.close_shared_memory()

    def close_shared_memory(self) -> None:
        for side in (self.outbox, self.inbox):
            if side is not None:
                side.close()
        self.outbox = self.inbox = None

    def close(self) -> None:
        self.close_shared_memory()
        try:
            self.sock.close()
        except OSError:
            pass

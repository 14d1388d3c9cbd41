"""The authenticated channel between REMOTE_SPARK workers and the parameter server on the driver.

Every run draws a random secret on the driver; it reaches the workers inside their Spark task
and nowhere else. On connecting, the server sends a fresh random nonce, and both sides derive the
connection's key from it and the secret (HMAC-SHA256). Every message is then a frame

    length (8 bytes) | tag of the length (16) | pickled payload | tag of the payload (16 per GiB)

whose tags are AES-GMAC (AES-256-GCM authenticating without encrypting) under the connection's
key, with a nonce made of the direction, the part (length or the payload's n-th GiB) and the
message's sequence number: a frame replayed on another connection (another key), reflected back
or reordered fails too. GMAC rather than HMAC-SHA256 because a model or gradient of several
megabytes crosses the channel twice per worker and update: with AES instructions GMAC tags
tens of gigabytes a second, SHA-256 one or two. The length's tag is checked before the payload
is read, the payload's before it is unpickled (compare_digest): a peer without the secret gets
its connection closed and nothing it sent is ever unpickled.

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

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 16
TAG_BYTES = 16
MAX_FRAME = 1 << 36      # 64 GiB: a model larger than this cannot be a paramserv model here
TAGGED_PART = 1 << 30    # GMAC takes at most 2**31 - 1 bytes at once: a tag per GiB of payload
TO_SERVER, TO_WORKER = b"W", b"S"
LENGTH_PART = 0xFFFF     # the length's part number; the payload's GiBs count from 0


class ForgedMessage(Exception):
    """A frame whose tag does not match: not sent by a holder of the run's secret."""


def new_secret() -> bytes:
    return os.urandom(32)


def connection_key(secret: bytes, nonce: bytes) -> bytes:
    return hmac.new(secret, b"kerasdml paramserv channel " + nonce, hashlib.sha256).digest()


class FrameTags:
    """The GMAC tags of one direction's frames on one connection."""

    def __init__(self, key: bytes, direction: bytes):
        self.gmac, self.direction = AESGCM(key), direction

    def tag(self, sequence: int, part: int, data) -> bytes:
        nonce = self.direction + b"\0" + struct.pack("!HQ", part, sequence)
        return self.gmac.encrypt(nonce, b"", data)     # no plaintext: the tag of data alone

    def length_tag(self, sequence: int, length: bytes) -> bytes:
        return self.tag(sequence, LENGTH_PART, length)

    def payload_tags(self, sequence: int, payload) -> bytes:
        view = memoryview(payload)
        return b"".join(self.tag(sequence, part, view[start:start + TAGGED_PART])
                        for part, start in enumerate(range(0, max(len(view), 1), TAGGED_PART)))


def payload_tag_bytes(size: int) -> int:
    return TAG_BYTES * max(-(-size // TAGGED_PART), 1)


def _read_exactly(sock: socket.socket, count: int) -> bytearray:
    buffer = bytearray(count)
    view, done = memoryview(buffer), 0
    while done < count:
        got = sock.recv_into(view[done:], count - done)
        if got == 0:
            raise ConnectionError("the peer closed the connection")
        done += got
    return buffer


class Prepared(tuple):
    """(pickled payload,) and the seconds that took: a model sent to k workers is pickled once
    (and tagged per connection, each under its own key)."""
    seconds = 0.0


def prepare(message) -> Prepared:
    began = time.perf_counter()
    prepared = Prepared((pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL),))
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
        (payload,) = prepared
        length = struct.pack("!Q", len(payload))
        head = length + self.outgoing.length_tag(self.sent, length)
        tail = self.outgoing.payload_tags(self.sent, payload)
        self.sent += 1
        self.seconds["encode"] += time.perf_counter() - began + prepared.seconds
        self.sock.sendall(head)
        self.sock.sendall(payload)
        self.sock.sendall(tail)

    def recv(self):
        length = bytes(_read_exactly(self.sock, 8))
        if not hmac.compare_digest(_read_exactly(self.sock, TAG_BYTES),
                                   self.incoming.length_tag(self.received, length)):
            raise ForgedMessage("a frame's length is not signed with the run's secret")
        size = struct.unpack("!Q", length)[0]
        if size > MAX_FRAME:
            raise ForgedMessage(f"a frame of {size} bytes is larger than any paramserv message")
        payload = _read_exactly(self.sock, size)
        tags = _read_exactly(self.sock, payload_tag_bytes(size))
        began = time.perf_counter()
        if not hmac.compare_digest(tags, self.incoming.payload_tags(self.received, payload)):
            raise ForgedMessage("a frame's payload is not signed with the run's secret")
        self.received += 1
        message = pickle.loads(payload)
        self.seconds["decode"] += time.perf_counter() - began
        return message

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

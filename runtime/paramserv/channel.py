"""The authenticated channel between REMOTE_SPARK workers and the parameter server on the driver.

Every run draws a random secret on the driver; it reaches the workers inside their Spark task
and nowhere else. On connecting, the server sends a fresh random nonce. Every message is then a
frame

    length (8 bytes) | HMAC of the length (32) | pickled payload | HMAC of the payload (32)

where both HMAC-SHA256 tags cover the connection's nonce, the direction and the message's
sequence number (the payload's tag covers the payload by its SHA-256, so a model sent to k
workers is pickled and hashed once), so a frame replayed on another connection, reflected back or reordered fails
too. The length's tag is checked before the payload is read, the payload's before it is
unpickled (compare_digest): a peer without the secret gets its connection closed and nothing it
sent is ever unpickled.

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

NONCE_BYTES = 16
TAG_BYTES = 32
MAX_FRAME = 1 << 36      # 64 GiB: a model larger than this cannot be a paramserv model here
TO_SERVER, TO_WORKER = b"W", b"S"


class ForgedMessage(Exception):
    """A frame whose tag does not match: not sent by a holder of the run's secret."""


def new_secret() -> bytes:
    return os.urandom(32)


def _tag(secret: bytes, *parts: bytes) -> bytes:
    mac = hmac.new(secret, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    buffer = bytearray(count)
    view, done = memoryview(buffer), 0
    while done < count:
        got = sock.recv_into(view[done:], count - done)
        if got == 0:
            raise ConnectionError("the peer closed the connection")
        done += got
    return buffer


class Prepared(tuple):
    """(pickled payload, its SHA-256) and the seconds that took."""
    seconds = 0.0


def prepare(message) -> Prepared:
    began = time.perf_counter()
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    prepared = Prepared((payload, hashlib.sha256(payload).digest()))
    prepared.seconds = time.perf_counter() - began
    return prepared


class Channel:
    """One side of an authenticated connection: send() and recv() pickled messages."""

    def __init__(self, sock: socket.socket, secret: bytes, nonce: bytes, outgoing: bytes):
        self.sock, self.secret, self.nonce = sock, secret, nonce
        self.outgoing = outgoing
        self.incoming = TO_WORKER if outgoing == TO_SERVER else TO_SERVER
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

    def _context(self, direction: bytes, sequence: int, length: bytes) -> tuple[bytes, ...]:
        return (self.nonce, direction, struct.pack("!Q", sequence), length)

    def send(self, message) -> None:
        self.send_prepared(prepare(message))

    def send_prepared(self, prepared: "Prepared") -> None:
        """Sends a message pickled and hashed once (the server sends one model to k workers)."""
        began = time.perf_counter()
        payload, digest = prepared
        length = struct.pack("!Q", len(payload))
        context = self._context(self.outgoing, self.sent, length)
        self.sent += 1
        head = b"".join((length, _tag(self.secret, b"length", *context)))
        tail = _tag(self.secret, b"payload", *context, digest)
        self.seconds["encode"] += time.perf_counter() - began + prepared.seconds
        self.sock.sendall(head)
        self.sock.sendall(payload)
        self.sock.sendall(tail)

    def recv(self):
        length = _read_exactly(self.sock, 8)
        context = self._context(self.incoming, self.received, length)
        if not hmac.compare_digest(_read_exactly(self.sock, TAG_BYTES),
                                   _tag(self.secret, b"length", *context)):
            raise ForgedMessage("a frame's length is not signed with the run's secret")
        size = struct.unpack("!Q", length)[0]
        if size > MAX_FRAME:
            raise ForgedMessage(f"a frame of {size} bytes is larger than any paramserv message")
        payload = _read_exactly(self.sock, size)
        tag = _read_exactly(self.sock, TAG_BYTES)
        began = time.perf_counter()
        digest = hashlib.sha256(payload).digest()
        if not hmac.compare_digest(tag, _tag(self.secret, b"payload", *context, digest)):
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

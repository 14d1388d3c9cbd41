"""The paramserv channel (runtime/paramserv/channel.py): one round trip of a LeNet gradient out
and its model back between two processes over TCP, against the same round trip with plain
pickles on a plain socket (what an unauthenticated channel, such as multiprocessing's without
an authkey, would send): the ratio is the cost of authenticating every frame.

    .venv/bin/python bench/run.py channel
"""
from __future__ import annotations

import multiprocessing
import pickle
import socket
import struct
import time

from harness import Options, Row

# the seed's LeNet: its parameters' shapes, single precision (6.6 MB)
LENET_SHAPES = [(32, 25), (32, 1), (64, 800), (64, 1), (3136, 512), (1, 512), (512, 10), (1, 10)]
ROUND_TRIPS = 30


def _gradient():
    import numpy as np
    rng = np.random.default_rng(0)
    return [rng.random(shape, dtype=np.float32) for shape in LENET_SHAPES]


class PlainChannel:
    """Length-prefixed pickles on a socket, nothing checked: the reference."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, message) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.sock.sendall(struct.pack("!Q", len(payload)))
        self.sock.sendall(payload)

    def recv(self):
        return pickle.loads(self._exactly(struct.unpack("!Q", self._exactly(8))[0]))

    def _exactly(self, count: int) -> bytearray:
        buffer, done = bytearray(count), 0
        view = memoryview(buffer)
        while done < count:
            got = self.sock.recv_into(view[done:], count - done)
            if got == 0:
                raise ConnectionError("closed")
            done += got
        return buffer


def _channel(kind: str, sock: socket.socket, secret: bytes, server: bool):
    from kerasdml.runtime.paramserv.channel import Channel
    if kind == "plain":
        return PlainChannel(sock)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if server:
        return Channel.accept(sock, secret)
    return Channel(sock, secret, _read_nonce(sock), b"W")


def _read_nonce(sock: socket.socket) -> bytes:
    from kerasdml.runtime.paramserv.channel import NONCE_BYTES
    nonce = b""
    while len(nonce) < NONCE_BYTES:
        nonce += sock.recv(NONCE_BYTES - len(nonce))
    return nonce


def serve(kind: str, secret: bytes, ports) -> None:
    """The server side: answers every push with a model of the same arrays."""
    listener = socket.create_server(("127.0.0.1", 0))
    ports.put(listener.getsockname()[1])
    channel = _channel(kind, listener.accept()[0], secret, server=True)
    for _ in range(ROUND_TRIPS + 1):
        pushed = channel.recv()
        channel.send(("model", pushed[2], pushed[3]))


def round_trip_seconds(kind: str) -> float:
    """The best of ROUND_TRIPS round trips (push of the gradient, model back)."""
    import os
    context = multiprocessing.get_context("spawn")
    secret, ports = os.urandom(32), context.Queue()
    server = context.Process(target=serve, args=(kind, secret, ports))
    server.start()
    sock = socket.create_connection(("127.0.0.1", ports.get()))
    channel = _channel(kind, sock, secret, server=False)
    gradient, best = _gradient(), float("inf")
    for step in range(ROUND_TRIPS + 1):
        began = time.perf_counter()
        channel.send(("push", 0, step, gradient, {}))
        channel.recv()
        if step:                                     # the first one warms both sides up
            best = min(best, time.perf_counter() - began)
    server.join()
    sock.close()
    return best


def rows(options: Options) -> list[Row]:
    best_ours = best_plain = float("inf")
    for _ in range(max(1, options.repeats)):
        best_ours = min(best_ours, round_trip_seconds("authenticated"))
        best_plain = min(best_plain, round_trip_seconds("plain"))
    return [Row("paramserv channel: LeNet gradient out, model back (2 x 6.6 MB), authenticated",
                best_ours, best_plain, "plain pickles over TCP, unauthenticated",
                notes=[f"best of {ROUND_TRIPS} round trips per run"])]

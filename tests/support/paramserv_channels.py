"""Both ends of one authenticated paramserv channel over a real loopback connection."""
from __future__ import annotations

import socket
import threading

from kerasdml.runtime.paramserv.channel import Channel


def connected(server_secret: bytes, worker_secret: bytes):
    """(listener, server side, worker side) of one connection, each side with its secret."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(Channel.accept(listener.accept()[0],
                                                                            server_secret)))
    thread.start()
    worker = Channel.connect(listener.getsockname(), worker_secret)
    thread.join()
    return listener, accepted[0], worker

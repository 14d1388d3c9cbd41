"""The channel that carries REMOTE_SPARK's models and gradients: only holders of the run's secret
are answered, and nothing anyone else sends is unpickled (a pickle that would run code on
loading proves it)."""
from __future__ import annotations

import pickle
import socket
import struct
import time

import pytest

from kerasdml.runtime.paramserv import channel as channel_module
from kerasdml.runtime.paramserv.channel import NONCE_BYTES, TAG_BYTES, Channel, ForgedMessage, new_secret
from kerasdml.runtime.paramserv.coordinator import DONE
from kerasdml.runtime.paramserv.socket_server import ParameterServerSocket, ServedCall
from support.paramserv_channels import connected

UNPICKLED: list = []


def _ran_on_unpickling(marker):
    UNPICKLED.append(marker)
    return marker


class Payload:
    """Unpickling this calls _ran_on_unpickling: what an attacker's pickle would do."""
    def __reduce__(self):
        return _ran_on_unpickling, ("unpickled",)


class Finished:
    """A coordinator whose every worker is done: answers each request with DONE."""
    def __init__(self):
        self.requests = []

    def state(self, worker):
        self.requests.append(("hello", worker))
        return DONE

    def push(self, worker, step, result):
        self.requests.append(("push", worker, step))
        return DONE

    def stop(self):
        pass


def serving(coordinator) -> ParameterServerSocket:
    """A server on 127.0.0.1 serving one call of `coordinator`."""
    served = ParameterServerSocket(new_secret(), "127.0.0.1")
    served.begin(ServedCall(coordinator))
    return served


@pytest.fixture()
def server():
    UNPICKLED.clear()
    coordinator = Finished()
    served = serving(coordinator)
    yield served
    served.close()


def _wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_holder_of_the_secret_is_answered(server):
    channel = Channel.connect(server.address, server.secret)
    channel.send(("hello", 3))
    assert channel.recv() == DONE
    assert server.call.coordinator.requests == [("hello", 3)]
    assert server.refused == 0
    channel.close()


def test_a_message_signed_with_another_secret_is_refused_unread(server):
    channel = Channel.connect(server.address, new_secret())      # the wrong secret
    try:
        channel.send(("push", 0, 0, Payload(), {}))
    except (BrokenPipeError, ConnectionResetError):   # closed after the length's tag
        pass
    assert _closed_by_peer(channel.sock)
    assert _wait_for(lambda: server.refused == 1)
    assert UNPICKLED == [] and server.call.coordinator.requests == []


def test_a_frame_with_a_forged_tag_is_refused_before_its_payload_is_read(server):
    sock = socket.create_connection(server.address)
    sock.recv(NONCE_BYTES)
    payload = pickle.dumps(Payload())
    try:
        sock.sendall(struct.pack("!Q", len(payload)) + b"\0" * TAG_BYTES + payload + b"\0" * TAG_BYTES)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert _closed_by_peer(sock)
    assert _wait_for(lambda: server.refused == 1)
    assert UNPICKLED == []
    sock.close()


class Recording:
    """A socket that keeps what was sent through it."""
    def __init__(self, sock):
        self.sock, self.sent = sock, b""

    def sendall(self, data):
        self.sent += bytes(data)
        self.sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def test_a_valid_frame_replayed_on_another_connection_is_refused(server):
    first = Channel.connect(server.address, server.secret)
    first.sock = Recording(first.sock)
    first.send(("push", 0, 0, Payload(), {}))        # accepted: the server unpickles it
    assert first.recv() == DONE
    UNPICKLED.clear()
    replay = socket.create_connection(server.address)
    replay.recv(NONCE_BYTES)                         # a fresh nonce: the old tags do not match
    try:
        replay.sendall(first.sock.sent)
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert _closed_by_peer(replay)
    assert _wait_for(lambda: server.refused == 1)
    assert UNPICKLED == []
    first.close()
    replay.close()


def test_the_worker_side_refuses_a_forged_reply():
    listener, impostor, worker = connected(new_secret(), new_secret())
    worker.send(("hello", 0))
    impostor.sock.recv(1 << 16)
    impostor.send(("model", 0, Payload()))
    with pytest.raises(ForgedMessage):
        worker.recv()
    assert UNPICKLED == []
    for closing in (worker, impostor):
        closing.close()
    listener.close()


class Tampering(Recording):
    """A socket that flips one byte at `offset` of everything sent through it."""
    def __init__(self, sock, offset):
        super().__init__(sock)
        self.offset = offset

    def sendall(self, data):
        data = bytearray(data)
        at = self.offset - len(self.sent)
        if 0 <= at < len(data):
            data[at] ^= 1
        super().sendall(bytes(data))


def _frame_layout(frame: bytes) -> dict:
    """Offsets in a recorded frame: the table, each part and the end of each part's tags."""
    table_bytes = struct.unpack("!Q", frame[:8])[0]
    table = struct.unpack(f"!{table_bytes // 8}Q", frame[8 + TAG_BYTES:8 + TAG_BYTES + table_bytes])
    at, parts = 8 + TAG_BYTES + table_bytes + TAG_BYTES, []
    for size in table[1:]:
        tags = channel_module.tags_of(size) * TAG_BYTES
        parts.append((at, size, at + size + tags))
        at += size + tags
    assert at == len(frame)
    return {"table": 8 + TAG_BYTES, "parts": parts}


@pytest.mark.parametrize("flipped", ["table", "pickle stream", "first GiB of an array",
                                     "last GiB of an array", "an array's last tag"])
def test_arrays_travel_out_of_band_tagged_in_parts_and_any_flipped_byte_is_refused(monkeypatch, flipped):
    import numpy as np
    monkeypatch.setattr(channel_module, "TAGGED_PART", 1000)   # several tags a part, as past 1 GiB
    UNPICKLED.clear()
    secret = new_secret()
    listener, receiver, sender = connected(secret, secret)
    gradient = np.arange(1200, dtype=np.float32).reshape(40, 30)
    message = ("push", 0, 1, [gradient, np.ones((3, 1))], Payload())
    sender.sock = Recording(sender.sock)
    sender.send(message)
    honest = receiver.recv()                                     # read and unpickled
    assert np.array_equal(honest[3][0], gradient) and honest[3][0].flags.writeable
    assert honest[4] == "unpickled"
    layout = _frame_layout(sender.sock.sent)
    assert len(layout["parts"]) == 3                             # the stream and two arrays
    assert layout["parts"][0][1] < gradient.nbytes / 4              # the arrays are not in it
    stream, (array, size, end), _ = layout["parts"]
    offset = {"table": layout["table"] + 3, "pickle stream": stream[0] + 5,
              "first GiB of an array": array + 10, "last GiB of an array": array + size - 1,
              "an array's last tag": end - 1}[flipped]
    UNPICKLED.clear()
    sender.sock = Tampering(sender.sock.sock, offset)
    sender.send(message)
    with pytest.raises(ForgedMessage):
        receiver.recv()
    assert UNPICKLED == []
    for closing in (sender, receiver):
        closing.close()
    listener.close()


def test_a_received_array_is_its_own_when_nothing_else_holds_it():
    """Parts are read into numpy byte buffers of their own: an array unpickled from one is free
    (inplace.free) once the message no longer holds it, so agg may update it in place."""
    import numpy as np

    from kerasdml.runtime.inplace import free

    secret = new_secret()
    listener, receiver, sender = connected(secret, secret)
    sender.send(("push", 0, 1, [np.arange(12.0).reshape(3, 4), np.ones((2, 2), np.float32)]))
    arrays = receiver.recv()[3]
    first, second = arrays
    del arrays
    assert free(first) and free(second)
    assert first.dtype == np.float64 and second.dtype == np.float32
    for closing in (sender, receiver):
        closing.close()
    listener.close()


class HandsOverItsModel:
    """Answers a hello with its model; on the push it gives the model up and records whether
    anything of the server still holds it (a BSP round's agg updates what nothing holds in
    place)."""
    def __init__(self):
        import numpy as np

        from kerasdml.runtime.lists import DMLList
        self.model, self.still_held = DMLList([np.ones((64, 64))], ["W"]), None

    def state(self, worker):
        return ("model", 0, self.model)

    def push(self, worker, step, result):
        import weakref
        sent = weakref.ref(self.model[0])
        self.model = None
        self.still_held = sent() is not None
        return DONE

    def stop(self):
        pass


def test_the_server_holds_no_model_it_sent_once_the_worker_pushes():
    coordinator = HandsOverItsModel()
    served = serving(coordinator)
    channel = Channel.connect(served.address, served.secret)
    channel.send(("hello", 0))
    assert channel.recv()[2].names == ["W"]
    channel.send(("push", 0, 0, [], {}))
    assert channel.recv() == DONE
    assert coordinator.still_held is False
    channel.close()
    served.close()


def test_a_kept_connection_thread_holds_nothing_of_the_run_it_served():
    """The threads that served a run's connections wait for the next run: they must not keep
    its server, and through it the coordinator's model, alive meanwhile."""
    import gc
    import weakref

    coordinator = HandsOverItsModel()
    served = serving(coordinator)
    channel = Channel.connect(served.address, served.secret)
    channel.send(("hello", 0))
    channel.recv()
    channel.close()
    served.close()
    model, server = weakref.ref(coordinator.model[0]), weakref.ref(served)
    del coordinator, served
    gc.disable()                # reference counts alone: runs pause the cycle collector
    try:
        assert _wait_for(lambda: server() is None and model() is None)
    finally:
        gc.enable()


def test_a_closed_server_leaves_no_accepting_thread_behind():
    import threading

    def accepting():
        return sum(t.name == "kerasdml-ps-accept" for t in threading.enumerate())
    before = accepting()
    servers = [serving(Finished()) for _ in range(3)]
    assert accepting() == before + 3
    for served in servers:
        served.close()
    assert _wait_for(lambda: accepting() == before)

"""Large arrays of the paramserv channel through /dev/shm where both sides share it: the same
messages as over the socket, the bytes still authenticated, segments made for the sizes that
repeat, reused, and nothing left in /dev/shm."""
from __future__ import annotations

import errno
import os
import threading

import numpy as np
import pytest

from kerasdml.runtime.paramserv import shared_memory
from kerasdml.runtime.paramserv.channel import ForgedMessage, new_secret
from kerasdml.runtime.paramserv.shared_memory import SHARED_DIRECTORY
from support.paramserv_channels import connected

pytestmark = pytest.mark.skipif(not shared_memory.available(), reason="no writable /dev/shm")

LARGE = shared_memory.MIN_SHARED_BYTES // 8 * 3          # float64 cells: three times the threshold


def _ours() -> set[str]:
    return {path.name for path in SHARED_DIRECTORY.glob("kerasdml-ps-*")}


@pytest.fixture
def pair():
    """(server side, worker side), agreed on shared memory as a worker task and the server do."""
    before = _ours()
    listener, server, worker = connected(*(2 * [new_secret()]))
    offer = worker.offer_shared_memory()
    assert offer is not None and offer[0] == "shared-memory"
    worker.send(offer)
    request = server.recv()
    server.send(("shared-memory", server.accept_shared_memory(*request[1:])))
    worker.use_shared_memory(worker.recv()[1])
    assert worker.inbox is not None and server.outbox is not None
    yield server, worker
    for side in (server, worker):
        side.close()
    listener.close()
    assert _ours() == before                              # nothing left behind


def _gradient(seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(LARGE // 16, 16)), rng.normal(size=(3, 2)).astype(np.float32),
            rng.normal(size=(LARGE,)).astype(np.float32)]


def _through(sender, receiver, message):
    """message sent and received (sent from a thread: inline, megabytes outgrow the socket's
    buffers before the receiver reads them)."""
    sending = threading.Thread(target=sender.send, args=(message,))
    sending.start()
    received = receiver.recv()
    sending.join()
    return received


def _warm(sender, receiver, message) -> None:
    """Two messages of this size, both inline: the second has its segment made."""
    for _ in range(2):
        _through(sender, receiver, message)
    sender.outbox.settle()
    sender.shared_bytes = receiver.shared_bytes = 0


def test_a_size_that_repeats_goes_through_shared_memory_from_its_third_message(pair):
    server, worker = pair
    for step in range(2):
        worker.send(("push", 0, step, _gradient(step), {}))
        server.recv()
        assert worker.shared_bytes == server.shared_bytes == 0, step
    worker.outbox.settle()
    assert len(worker.outbox.segments) == 1
    sent = _gradient(1)
    worker.send(("push", 0, 2, sent, {"upd": 0.5}))
    got = server.recv()
    assert got[:3] == ("push", 0, 2) and got[4] == {"upd": 0.5}
    for mine, theirs in zip(sent, got[3]):
        assert theirs.dtype == mine.dtype and np.array_equal(theirs, mine)
    assert worker.shared_bytes == server.shared_bytes == sent[0].nbytes + sent[2].nbytes
    segment, = worker.outbox.segments.values()
    arrays = got[3]
    del got, theirs
    first = arrays[0]
    arrays.clear()
    assert not segment.free()            # the receiver still views one of its parts
    first += 1.0                         # the server sums gradients into what it received...
    placed = np.frombuffer(segment.memory, np.float64, first.size, shared_memory.HEADER_BYTES)
    assert np.array_equal(placed, sent[0].ravel() + 1.0)        # ...which is the segment itself
    del first
    assert segment.free()


def test_the_server_side_sends_through_its_own_segments(pair):
    server, worker = pair
    model = ("model", 0, [np.full((LARGE,), 7.0)])
    _warm(server, worker, model)
    server.send(model)
    assert np.array_equal(worker.recv()[2][0], np.full((LARGE,), 7.0))
    assert worker.shared_bytes == LARGE * 8


def test_a_segment_is_reused_once_released_and_what_is_held_stays_unchanged(pair):
    """Received arrays are views of the sender's segment: while a receiver holds a message the
    sender places the next ones elsewhere, and a segment whose views are all gone is reused."""
    server, worker = pair
    _warm(worker, server, ("push", 0, 0, _gradient(0), {}))
    for step in range(5):                     # each message released before the next: one segment
        worker.send(("push", 0, step, _gradient(step), {}))
        assert all(np.array_equal(m, t) for m, t in zip(_gradient(step), server.recv()[3]))
    assert worker.outbox.created == 1 and server.shared_bytes == 5 * LARGE * 12
    held = []
    for step in range(5, 9):
        worker.send(("push", 0, step, _gradient(step), {}))
        held.append(server.recv()[3])
        worker.outbox.settle()
    assert worker.outbox.created > 1          # the held ones' segments were not written over
    for step, arrays in enumerate(held, start=5):
        for mine, theirs in zip(_gradient(step), arrays):
            assert np.array_equal(mine, theirs), step
    created = worker.outbox.created
    held.clear()
    for step in range(9, 12):
        worker.send(("push", 0, step, _gradient(step), {}))
        assert all(np.array_equal(m, t) for m, t in zip(_gradient(step), server.recv()[3]))
    assert worker.outbox.created == created   # released: reused


def test_while_its_segments_are_in_use_a_message_goes_inline_and_another_is_made(monkeypatch):
    monkeypatch.setattr(shared_memory, "MAX_SEGMENTS", 2)
    outbox = shared_memory.Outbox()
    inbox = shared_memory.Inbox(outbox.prefix)
    parts = [np.arange(float(LARGE)).data.cast("B")]
    size = len(parts[0])
    assert outbox.place(parts) is None and outbox.place(parts) is None      # the second: made
    outbox.settle()
    first = outbox.place(parts)
    assert first is not None and first[0] == 0
    assert outbox.place(parts) is None                  # 0 is in use: inline, and 1 is made
    outbox.settle()
    second = outbox.place(parts)
    assert second is not None and second[0] == 1
    assert outbox.place(parts) is None                  # both in use, and no third
    outbox.settle()
    assert outbox.created == 2
    taken = [inbox.take(number, 0, offsets[0], size) for number, offsets in (first, second)]
    assert all(part.tobytes() == parts[0].tobytes() for part in taken)
    assert outbox.place(parts) is None                  # viewed by the receiver: still in use
    taken.clear()
    assert outbox.place(parts)[0] == 0                  # released: free again
    outbox.close()
    inbox.close()
    assert _ours() == set()


def test_a_message_sent_once_never_makes_a_segment(pair):
    server, worker = pair
    rows = np.arange(float(3 * LARGE))
    assert np.array_equal(_through(server, worker, ("share", rows, rows[:LARGE]))[1], rows)
    server.outbox.settle()
    assert server.outbox.created == 0 and _ours() == set()
    _warm(server, worker, ("model", 0, [np.ones(LARGE)]))
    assert server.outbox.created == 1


def test_a_larger_size_replaces_a_free_segment_too_small_for_it(pair, monkeypatch):
    monkeypatch.setattr(shared_memory, "MAX_SEGMENTS", 1)
    server, worker = pair
    _warm(worker, server, ("part", 0, 0, np.ones(LARGE)))
    big = np.arange(float(shared_memory.GRANULE))        # 8 MiB: past the first segment's size
    _warm(worker, server, ("part", 1, 0, big))
    worker.send(("part", 2, 0, big))
    assert np.array_equal(server.recv()[3], big) and server.shared_bytes == big.nbytes
    assert worker.outbox.created == 2 and len(worker.outbox.segments) == 1


def test_bytes_changed_in_the_segment_after_sending_are_refused(pair):
    """The part's tags are of the bytes the sender placed: a change in /dev/shm before the
    receiver copies them fails the check, and nothing is unpickled."""
    server, worker = pair
    _warm(worker, server, ("part", 0, 0, np.zeros(LARGE)))
    worker.send(("part", 0, 0, np.zeros(LARGE)))
    segment, = worker.outbox.segments.values()
    segment.memory[shared_memory.HEADER_BYTES + 5] ^= 1
    with pytest.raises(ForgedMessage):
        server.recv()


def test_a_wrong_token_or_a_malformed_name_keeps_the_connection_on_the_socket():
    before = _ours()
    listener, server, worker = connected(*(2 * [new_secret()]))
    _, prefix, token = worker.offer_shared_memory()
    assert server.accept_shared_memory(prefix, bytes(len(token))) is None
    assert server.accept_shared_memory("../" + prefix, token) is None
    assert server.accept_shared_memory(prefix, "not bytes") is None
    assert server.inbox is None and server.outbox is None
    worker.use_shared_memory(None)
    assert worker.outbox is None
    for _ in range(3):
        worker.send(("part", 0, 0, np.ones(LARGE)))
        assert np.array_equal(server.recv()[3], np.ones(LARGE))
    assert server.shared_bytes == 0
    for side in (server, worker):
        side.close()
    listener.close()
    assert _ours() == before


def test_a_frame_naming_shared_memory_on_a_connection_without_it_is_refused():
    listener, server, worker = connected(*(2 * [new_secret()]))
    worker.offer_shared_memory()                 # the worker places parts; the server never agreed
    for _ in range(2):
        worker.send(("part", 0, 0, np.ones(LARGE)))
        server.recv()
    worker.outbox.settle()
    worker.send(("part", 0, 0, np.ones(LARGE)))
    with pytest.raises(ForgedMessage, match="shared memory"):
        server.recv()
    for side in (server, worker):
        side.close()
    listener.close()


def test_segments_the_receiver_never_mapped_are_removed_when_the_sender_closes():
    before = _ours()
    listener, server, worker = connected(*(2 * [new_secret()]))
    worker.offer_shared_memory()
    for _ in range(2):
        worker.send(("part", 0, 0, np.ones(LARGE)))
    worker.outbox.settle()
    worker.send(("part", 0, 0, np.ones(LARGE)))
    assert len(_ours() - before) == 2            # the probe and one segment
    worker.close()
    assert _ours() == before
    server.close()
    listener.close()


def test_a_full_dev_shm_sends_inline_and_leaves_no_file(pair, monkeypatch):
    """A container's /dev/shm is often 64 MB: where a segment's pages cannot be had, the parts
    go over the socket (a write to such a page would end the process with SIGBUS), and the
    connection stops trying."""
    server, worker = pair
    before = _ours()
    tries = []

    def full(fd, offset, length):
        tries.append(length)
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "posix_fallocate", full)
    sent = np.arange(float(LARGE))
    for _ in range(5):
        worker.send(("part", 0, 0, sent))
        assert np.array_equal(server.recv()[3], sent)
        worker.outbox.settle()
    assert len(tries) == 1
    assert server.shared_bytes == worker.shared_bytes == 0 and _ours() == before


def test_a_one_off_large_segment_is_given_back_on_both_sides(pair, monkeypatch):
    """A segment far larger than the messages that now come is retired once free, and the
    receiver unmaps it when it maps the next one."""
    monkeypatch.setattr(shared_memory, "KEEP_BYTES", shared_memory.GRANULE)
    server, worker = pair
    rows = np.arange(float(3 * shared_memory.GRANULE // 8))          # 3 MiB
    _warm(worker, server, ("share", 0, rows))
    worker.send(("share", 0, rows))
    assert np.array_equal(server.recv()[2], rows)
    large, = worker.outbox.segments
    _warm(worker, server, ("part", 0, 0, np.ones(LARGE)))
    worker.send(("part", 0, 0, np.ones(LARGE)))
    assert np.array_equal(server.recv()[3], np.ones(LARGE))
    assert large not in worker.outbox.segments and large not in server.inbox.mapped
    assert list(server.inbox.mapped) == list(worker.outbox.segments)



def test_parts_past_a_segments_flags_go_inline(pair, monkeypatch):
    """A segment's header has a release flag per part: a message with more large parts than
    that sends the rest over the socket, and arrives whole."""
    monkeypatch.setattr(shared_memory, "MAX_SHARED_PARTS", 2)
    server, worker = pair
    sent = [np.full(LARGE, float(i)) for i in range(3)]
    _warm(worker, server, ("part", 0, 0, sent))
    worker.send(("part", 0, 0, sent))
    got = server.recv()[3]
    assert all(np.array_equal(mine, theirs) for mine, theirs in zip(sent, got))
    assert server.shared_bytes == 2 * LARGE * 8


class _Averaging:
    """A paramserv worker with model averaging, reduced to what the exchange sees: it pushes
    the model it pulled (updated in place, as its local agg does)."""
    ident = 0
    segments = [[(0, 1)]]

    def run_segment(self, model, batches):
        model[0][:] += 1.0
        return model


def test_a_worker_lets_go_of_the_model_it_pulled_before_waiting_for_the_next(pair):
    """Between its push and the reply a worker holds nothing of the model it got: the
    segment the server sent it in is free again by the time the server sends the next model,
    which then needs no second segment (nor goes inline while one is made)."""
    from kerasdml.runtime.paramserv.remote_worker import WorkerCall, _serve_steps
    from kerasdml.runtime.paramserv.worker import Timings

    server, worker = pair
    call = WorkerCall({}, None, 1, "NBATCHES", 1, True, 4, False, "no program", "double")
    serving = threading.Thread(target=_serve_steps,
                               args=(call, _Averaging(), worker, Timings(), 0.0, None, False))
    serving.start()
    try:
        assert server.recv() == ("hello", 0)
        for step in range(4):
            server.send(("model", step, [np.full(LARGE, float(step))]))
            server.outbox.settle()                 # the second message of the size has one made
            push = server.recv()
            assert push[:3] == ("push", 0, step) and np.array_equal(push[3][0], np.full(LARGE, step + 1.0))
            del push
            if step >= 2:                          # sent through the segment, which comes back
                _wait_for(lambda: all(s.free() for s in server.outbox.segments.values()))
        # models 2 and 3 in, their pushes out; one segment made for the models
        assert server.outbox.created == 1 and worker.shared_bytes == 4 * LARGE * 8
        server.send(("done",))
    finally:
        serving.join(10)
    assert not serving.is_alive()


def _wait_for(condition, seconds: float = 5.0) -> None:
    import time
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker still holds the model it pulled"
        time.sleep(0.005)

"""The testnet transport: framing, hello, gossip de-duplication, replay, reconnect, garbage."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rppsim.node.messages import Message, Transaction, sign_transaction
from rppsim.node.signing import generate_keypair
from rppsim.testnet.transport import (
    FrameDecoder,
    FrameError,
    Transport,
    decode_hello,
    decode_payload,
    encode_frame,
    encode_hello,
)

TIMEOUT_S = 5.0


def make_transaction(nonce: int) -> Transaction:
    """A signed transaction: a gossip message of the proofs topic."""
    keypair = generate_keypair(hashlib.blake2s(b"wallet").digest())
    tx = Transaction(keypair.address, "ab" * 32, 10, 1, nonce, keypair.public_key)
    return sign_transaction(tx, keypair)


class Inbox:
    """What one transport handed to its node: (sender, message) in order."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Message]] = []

    def __call__(self, sender: str, message: Message) -> None:
        self.items.append((sender, message))


async def wait_for(condition: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


# --- framing --------------------------------------------------------------------------------


@given(
    payloads=st.lists(st.binary(min_size=1, max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=10),
)
def test_frames_survive_any_chunking(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    bounds = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    decoder = FrameDecoder()
    out: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        out += decoder.feed(stream[start:end])
    assert out == payloads
    assert not decoder.buffer


@given(data=st.lists(st.binary(max_size=200), max_size=10))
def test_random_bytes_never_raise_but_frame_errors(data: list[bytes]) -> None:
    decoder = FrameDecoder(max_bytes=1 << 16)
    first = True
    try:
        for chunk in data:
            for payload in decoder.feed(chunk):
                if first:
                    decode_hello(payload)
                    first = False
                else:
                    decode_payload(payload)
    except FrameError:
        pass


@pytest.mark.parametrize("length", [0, 1 << 20])
def test_bad_lengths_are_frame_errors(length: int) -> None:
    decoder = FrameDecoder(max_bytes=1 << 16)
    with pytest.raises(FrameError, match="frame length"):
        decoder.feed(length.to_bytes(4, "big") + b"x")


def test_hello_round_trip_and_refusals() -> None:
    assert decode_hello(encode_hello("ab" * 32, 4242)) == ("ab" * 32, 4242)
    bad = [b"", b"\x01{}", b"\x00not json", b"\x00[]", b'\x00{"address":"a"}',
           b'\x00{"address":"","port":1}', b'\x00{"address":"a","port":70000}']  # fmt: skip
    for payload in bad:
        with pytest.raises(FrameError):
            decode_hello(payload)
    with pytest.raises(FrameError, match="second hello"):
        decode_payload(encode_hello("a", 1))


# --- connections ----------------------------------------------------------------------------


async def start(name: str, *peers: Transport) -> tuple[Transport, Inbox]:
    inbox = Inbox()
    transport = Transport(name * 64, inbox, peers=tuple(("127.0.0.1", p.port) for p in peers))
    await transport.start()
    return transport, inbox


def test_gossip_reaches_every_node_once_over_a_triangle() -> None:
    async def scenario() -> None:
        a, inbox_a = await start("a")
        b, inbox_b = await start("b", a)
        c, inbox_c = await start("c", a, b)
        try:
            await wait_for(lambda: len(a.get_peer_addresses()) == 2)
            await wait_for(lambda: len(c.get_peer_addresses()) == 2)
            tx = make_transaction(1)
            a.publish(tx)
            await wait_for(lambda: inbox_b.items != [] and inbox_c.items != [])
            await asyncio.sleep(0.2)  # forwarded copies arrive, and are dropped as seen
            assert [m for _, m in inbox_b.items] == [tx]
            assert [m for _, m in inbox_c.items] == [tx]
            assert inbox_a.items == []  # its own message comes back only as a duplicate
            assert a.duplicates + b.duplicates + c.duplicates >= 1
            assert b.send("c" * 64, make_transaction(2))
            await wait_for(lambda: len(inbox_c.items) == 2)
            assert inbox_c.items[1][0] == "b" * 64
            assert not b.send("z" * 64, make_transaction(3))
        finally:
            for t in (a, b, c):
                await t.close()

    run(scenario)


def test_recent_gossip_is_replayed_to_a_late_peer() -> None:
    async def scenario() -> None:
        a, _ = await start("a")
        try:
            tx = make_transaction(1)
            a.publish(tx)  # nobody connected yet
            b, inbox_b = await start("b", a)
            try:
                await wait_for(lambda: inbox_b.items != [])
                assert inbox_b.items == [("a" * 64, tx)]
            finally:
                await b.close()
        finally:
            await a.close()

    run(scenario)


def test_dialler_reconnects_when_the_peer_comes_up() -> None:
    async def scenario() -> None:
        probe, _ = await start("p")
        port = probe.port
        await probe.close()  # a port nobody listens on now
        b_inbox = Inbox()
        b = Transport("b" * 64, b_inbox, peers=(("127.0.0.1", port),))
        await b.start()
        try:
            await asyncio.sleep(0.3)
            assert b.dials >= 2 and b.get_peer_addresses() == []
            a = Transport("a" * 64, Inbox(), port=port)
            await a.start()
            try:
                await wait_for(lambda: b.get_peer_addresses() == ["a" * 64])
                a.publish(make_transaction(1))
                await wait_for(lambda: b_inbox.items != [])
            finally:
                await a.close()
            await wait_for(lambda: b.get_peer_addresses() == [])
        finally:
            await b.close()

    run(scenario)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff\xff\xff\xff",  # a frame length far above the limit
        encode_frame(b"\x07garbage"),  # no hello first
        encode_frame(encode_hello("g" * 64, 1)) + encode_frame(b"\x01\x02"),  # undecodable
        encode_frame(encode_hello("g" * 64, 1)) + encode_frame(encode_hello("g" * 64, 1)),
    ],
)
def test_malformed_input_is_counted_and_dropped(garbage: bytes) -> None:
    async def scenario() -> None:
        a, inbox_a = await start("a")
        b, inbox_b = await start("b", a)
        try:
            await wait_for(lambda: b.get_peer_addresses() == ["a" * 64])
            reader, writer = await asyncio.open_connection("127.0.0.1", a.port)
            writer.write(garbage)
            await writer.drain()
            rest = await asyncio.wait_for(reader.read(), TIMEOUT_S)  # a closes it
            assert rest.startswith(encode_frame(encode_hello("a" * 64, a.port))[:4])
            writer.close()
            await wait_for(lambda: a.malformed_total == 1)
            assert inbox_a.items == []
            a.publish(make_transaction(1))  # a still serves its good peer
            await wait_for(lambda: len(inbox_b.items) == 1)
        finally:
            await b.close()
            await a.close()

    run(scenario)


def test_random_bytes_over_connections_never_stop_the_transport() -> None:
    rng = random.Random(7)

    async def scenario() -> None:
        a, inbox_a = await start("a")
        try:
            hello = encode_frame(encode_hello("g" * 64, 1))
            for k in range(20):
                noise = rng.randbytes(rng.randrange(1, 400))
                _, writer = await asyncio.open_connection("127.0.0.1", a.port)
                writer.write(hello + noise if k % 2 else noise)
                await writer.drain()
                writer.close()
            await wait_for(lambda: a.malformed_total >= 5 and not a.connections.get("g" * 64))
            b, inbox_b = await start("b", a)
            try:
                await wait_for(lambda: b.get_peer_addresses() == ["a" * 64])
                a.publish(make_transaction(1))
                await wait_for(lambda: len(inbox_b.items) == 1)
            finally:
                await b.close()
            assert inbox_a.items == []
        finally:
            await a.close()

    run(scenario)

"""The testnet's peer-to-peer transport: TCP on loopback, framed canonical messages, gossip.

A frame is a 4-byte big-endian length and that many bytes of payload. The payload is one
canonical message (``rppsim.node.messages``: its tag byte, never 0, then its fields), or a
hello: tag byte 0 and the JSON ``{"address": ..., "port": ...}`` naming the sender's
``NodeKeys.address`` and its listen port. The hello is the first frame on a connection in
each direction; a connection is a peer's only after it.

Gossip is a flood with the de-duplication the simulator's gossip uses
(docs/architecture.md#network-model): a node forwards a gossiped message once, on first
receipt, to every connected peer except the one it came from; a message's id is the BLAKE2s
of its bytes and the seen ids are kept in a bounded LRU. Messages of a gossip kind
(``MESSAGE_TOPICS``) are forwarded, except commits, which travel only as answers to a sync
request (unicast, ``Send``). A new connection is first sent the gossip of the last
``REPLAY_WINDOW_S`` seconds (the receiver drops what it has seen), so a node that starts or
reconnects after its peers published the current height's VRF submissions and votes still
gets them (the simulator's network delivers every copy; TCP peers that were not connected yet
would otherwise miss them for good).

Malformed input (a length of 0 or above ``MAX_FRAME_BYTES``, a bad or missing hello, bytes
that do not decode) is counted by reason and the connection is dropped; nothing raises out
of the transport. Dialled peers are redialled with exponential backoff while they are down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rppsim.node.codec import DecodeError
from rppsim.node.messages import MESSAGE_TOPICS, Message, MessageKind, decode_message

HEADER_BYTES = 4
MAX_FRAME_BYTES = 64 * 1024 * 1024
"""Largest payload accepted: a state-sync response carries a whole snapshot."""
HELLO_TAG = 0
HELLO_TIMEOUT_S = 5.0
SEEN_CAPACITY = 65_536
"""Gossip ids remembered for de-duplication (oldest forgotten first)."""
REPLAY_WINDOW_S = 10.0
REPLAY_CAPACITY = 1024
"""Recent gossip a new connection is sent first (at most this many frames, this recent)."""
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0
FORWARDED_KINDS = frozenset(kind for kind in MESSAGE_TOPICS if kind is not MessageKind.COMMIT)

MessageHandler = Callable[[str, Message], None]


class FrameError(Exception):
    """A malformed frame or hello; the connection that sent it is dropped."""


@dataclass(slots=True)
class FrameDecoder:
    """Splits a byte stream into frame payloads (sans-IO: ``feed`` bytes, get payloads)."""

    max_bytes: int = MAX_FRAME_BYTES
    buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[bytes]:
        """The payloads completed by ``data``; ``FrameError`` on a length of 0 or too large."""
        self.buffer += data
        payloads = []
        while len(self.buffer) >= HEADER_BYTES:
            length = int.from_bytes(self.buffer[:HEADER_BYTES], "big")
            if length == 0 or length > self.max_bytes:
                raise FrameError(f"frame length {length}")
            if len(self.buffer) < HEADER_BYTES + length:
                break
            payloads.append(bytes(self.buffer[HEADER_BYTES : HEADER_BYTES + length]))
            del self.buffer[: HEADER_BYTES + length]
        return payloads


def encode_frame(payload: bytes) -> bytes:
    """``payload`` with its 4-byte big-endian length in front."""
    return len(payload).to_bytes(HEADER_BYTES, "big") + payload


def encode_hello(address: str, port: int) -> bytes:
    """The hello payload: tag 0 and the JSON naming the sender."""
    body = json.dumps({"address": address, "port": port}, sort_keys=True, separators=(",", ":"))
    return bytes([HELLO_TAG]) + body.encode()


def decode_hello(payload: bytes) -> tuple[str, int]:
    """(address, listen port) of a hello payload; ``FrameError`` when it is not one."""
    if not payload or payload[0] != HELLO_TAG:
        raise FrameError("expected a hello first")
    try:
        value = json.loads(payload[1:].decode())
    except (UnicodeDecodeError, ValueError):
        raise FrameError("hello is not JSON") from None
    if not isinstance(value, dict):
        raise FrameError("hello is not an object")
    address, port = value.get("address"), value.get("port")
    if not isinstance(address, str) or not address or len(address) > 128:
        raise FrameError("hello without an address")
    if type(port) is not int or not 0 <= port <= 65_535:
        raise FrameError("hello without a port")
    return address, port


def decode_payload(payload: bytes) -> Message:
    """The message of a payload after the hello; ``FrameError`` when it does not decode."""
    if payload[0] == HELLO_TAG:
        raise FrameError("second hello")
    try:
        return decode_message(payload)
    except DecodeError as error:
        raise FrameError(f"undecodable message: {str(error).split(':')[0]}") from None


def compute_message_id(payload: bytes) -> bytes:
    """The gossip id of a message: BLAKE2s of its canonical bytes."""
    return hashlib.blake2s(payload, digest_size=16).digest()


@dataclass(eq=False)
class Connection:
    """One TCP connection after the hello: the peer's address and the stream's writer."""

    address: str
    port: int
    writer: asyncio.StreamWriter
    outbound: bool

    def write(self, frame: bytes) -> None:
        """Queue ``frame``; a closing connection drops it."""
        if not self.writer.is_closing():
            self.writer.write(frame)


class Transport:
    """The node's peers: a listener, dialled peers (redialled with backoff) and gossip.

    ``on_message(sender_address, message)`` is called for every decoded message, in arrival
    order, from the event loop.
    """

    def __init__(
        self,
        address: str,
        on_message: MessageHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        peers: tuple[tuple[str, int], ...] = (),
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        self.address = address
        self.on_message = on_message
        self.host = host
        self.port = port
        self.peers = peers
        self.max_frame_bytes = max_frame_bytes
        self.connections: dict[str, list[Connection]] = {}
        self.seen: OrderedDict[bytes, None] = OrderedDict()
        self.malformed: Counter[str] = Counter()
        """Dropped connections by reason of the malformed input."""
        self.frames_in = 0
        self.frames_out = 0
        self.duplicates = 0
        self.dials = 0
        self.recent: deque[tuple[float, bytes]] = deque(maxlen=REPLAY_CAPACITY)
        """(loop time, frame) of the gossip sent or forwarded lately."""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._inbound: set[asyncio.Task[None]] = set()
        self._closing = False

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen (``port`` 0: a free port, stored back in ``port``) and dial every peer."""
        self._server = await asyncio.start_server(self._on_inbound, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        for host, port in self.peers:
            self.dial(host, port)

    def dial(self, host: str, port: int) -> None:
        """Keep a connection to the peer at ``host:port`` (redialled while it is down)."""
        self._spawn(self._dial_forever(host, port))

    async def close(self) -> None:
        """Stop dialling, close every connection and the listener."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for conns in list(self.connections.values()):
            for conn in conns:
                conn.writer.close()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._inbound:  # closed writers end their reads; cancelling them would be noisy
            await asyncio.wait(list(self._inbound), timeout=1.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- reads -------------------------------------------------------------------------------

    def get_peer_addresses(self) -> list[str]:
        """Addresses with at least one open connection, sorted."""
        return sorted(a for a, conns in self.connections.items() if conns)

    @property
    def malformed_total(self) -> int:
        """Connections dropped for malformed input."""
        return sum(self.malformed.values())

    # --- sending -----------------------------------------------------------------------------

    def publish(self, message: Message) -> None:
        """Gossip ``message`` (this node's own) to every connected peer."""
        payload = message.to_bytes()
        self._mark_seen(compute_message_id(payload))
        frame = encode_frame(payload)
        self._remember(frame)
        self._flood(frame, exclude=None)

    def send(self, peer: str, message: Message) -> bool:
        """Send ``message`` to the peer with address ``peer``; False when not connected."""
        conns = self.connections.get(peer)
        if not conns:
            return False
        conns[0].write(encode_frame(message.to_bytes()))
        self.frames_out += 1
        return True

    def _flood(self, frame: bytes, exclude: str | None) -> None:
        for address, conns in self.connections.items():
            if conns and address != exclude:
                conns[0].write(frame)
                self.frames_out += 1

    def _remember(self, frame: bytes) -> None:
        self.recent.append((asyncio.get_running_loop().time(), frame))

    def _replay(self, conn: Connection) -> None:
        """Send a new connection the gossip of the last ``REPLAY_WINDOW_S`` seconds."""
        since = asyncio.get_running_loop().time() - REPLAY_WINDOW_S
        for at, frame in self.recent:
            if at >= since:
                conn.write(frame)
                self.frames_out += 1

    def _mark_seen(self, msg_id: bytes) -> bool:
        """Remember ``msg_id``; False when it was seen already."""
        if msg_id in self.seen:
            self.seen.move_to_end(msg_id)
            return False
        self.seen[msg_id] = None
        if len(self.seen) > SEEN_CAPACITY:
            self.seen.popitem(last=False)
        return True

    # --- connections -------------------------------------------------------------------------

    async def _dial_forever(self, host: str, port: int) -> None:
        """Keep a connection to ``host:port``: redial with exponential backoff when it fails."""
        backoff = BACKOFF_FIRST_S
        while not self._closing:
            self.dials += 1
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            established = await self._run_connection(reader, writer, outbound=True)
            if established:
                backoff = BACKOFF_FIRST_S
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _on_inbound(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closing:
            writer.close()
            return
        task = asyncio.current_task()
        if task is not None:
            self._inbound.add(task)  # awaited when the transport closes
            task.add_done_callback(self._inbound.discard)
        await self._run_connection(reader, writer, outbound=False)

    async def _run_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, outbound: bool
    ) -> bool:
        """Hello both ways, then read frames until EOF or malformed input; True when the
        hello succeeded."""
        conn: Connection | None = None
        decoder = FrameDecoder(self.max_frame_bytes)
        try:
            writer.write(encode_frame(encode_hello(self.address, self.port)))
            pending: list[bytes] = []
            while not pending:
                data = await asyncio.wait_for(reader.read(65_536), HELLO_TIMEOUT_S)
                if not data:
                    return False
                pending = decoder.feed(data)
            address, port = decode_hello(pending.pop(0))
            if address == self.address:
                raise FrameError("hello from itself")
            conn = Connection(address, port, writer, outbound)
            self.connections.setdefault(address, []).append(conn)
            self._replay(conn)
            for payload in pending:
                self._on_payload(conn, payload)
            while True:
                data = await reader.read(65_536)
                if not data:
                    break
                for payload in decoder.feed(data):
                    self._on_payload(conn, payload)
        except FrameError as error:
            self.malformed[str(error).split(":")[0]] += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            if conn is not None:
                conns = self.connections.get(conn.address, [])
                if conn in conns:
                    conns.remove(conn)
            writer.close()
        return conn is not None

    def _on_payload(self, conn: Connection, payload: bytes) -> None:
        """One frame from ``conn``: decode, forward once if gossip, hand to the node."""
        message = decode_payload(payload)
        self.frames_in += 1
        if MessageKind(payload[0]) in FORWARDED_KINDS:
            if not self._mark_seen(compute_message_id(payload)):
                self.duplicates += 1
                return
            frame = encode_frame(payload)
            self._remember(frame)
            self._flood(frame, exclude=conn.address)
        self.on_message(conn.address, message)

"""One sans-IO ``Node`` driven by asyncio: the testnet's node process.

The driver does what the simulator's kernel does (``rppsim.sim.kernel``), with a real clock
and real sockets (docs/architecture.md#the-node-is-sans-io): every input (a message from the
transport, a timer, a telemetry answer) runs the node's handler with ``now`` = Unix ms −
``time_origin_ms`` and carries out its effects in order:

* ``Persist`` — a commit writes the node's data_dir to the store (``Storage.save`` of
  ``Node.get_persisted()``, one transaction) before the next effect leaves, so a finalized
  block is on disk before the node votes on or announces anything after it; a sign state
  goes to the store the same way (``Storage.save_sign_state``) before the signature leaves,
  so a restarted validator never signs twice in a round;
* ``SetTimer`` — a callback on the event loop's clock at the deadline;
* ``Publish`` / ``Send`` — gossip to every peer, or one peer by address
  (``rppsim.testnet.transport``);
* ``EmitTelemetry`` — POST the snapshot to ``[rollout.telemetry] endpoint`` and answer the
  node with an ``EmitResult``; with no endpoint, one JSON log line with target ``telemetry``
  (the form ``rppsim check`` reads, ``rppsim.telemetry.jsonl``).

Logs are JSON lines (``timestamp``, ``level``, ``target``, ``message``, ``fields``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, Protocol

import aiohttp

from rppsim.errors import UserError
from rppsim.node.config import NodeConfig
from rppsim.node.effects import (
    EmitResult,
    EmitTelemetry,
    Persist,
    Publish,
    Send,
    SetTimer,
    Timer,
)
from rppsim.node.messages import Message
from rppsim.node.node import GENESIS_TIME_S, Node, NodeKeys, SignState
from rppsim.node.persistence import PersistedState
from rppsim.node.rules import Rules
from rppsim.testnet.http import NetworkLimits, start_http
from rppsim.testnet.metrics import NodeMetrics
from rppsim.testnet.transport import Transport

LOG_TARGET = "rppsim::node"


class Store(Protocol):
    """The part of ``rppsim.testnet.storage.Storage`` the driver uses."""

    def load(self) -> PersistedState: ...

    def save(self, persisted: PersistedState) -> None: ...

    def load_sign_state(self) -> SignState | None: ...

    def save_sign_state(self, state: SignState) -> None: ...

    def close(self) -> None: ...


def compute_genesis_origin_ms(genesis_time_s: int = GENESIS_TIME_S) -> int:
    """The default time origin: the genesis time in Unix ms (node time 0 is height 0)."""
    return genesis_time_s * 1000


class JsonLog:
    """JSON-lines log: one object per line, flushed at once."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(
        self, message: str, fields: dict[str, Any], *, level: str = "INFO", target: str = LOG_TARGET
    ) -> None:
        """Write one line."""
        line = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "target": target,
            "message": message,
            "fields": fields,
        }
        self.stream.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
        self.stream.flush()


class NodeProcess:
    """The node, its store, transport, HTTP server and telemetry loop in one event loop."""

    def __init__(
        self,
        config: NodeConfig,
        keys: NodeKeys,
        store: Store,
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        http: tuple[str, int] | None = ("127.0.0.1", 0),
        peers: tuple[tuple[str, int], ...] = (),
        time_origin_ms: int | None = None,
        log: JsonLog,
        index: int | None = None,
        rules: Rules | None = None,
        limits: NetworkLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.keys = keys
        self.store = store
        self.index = index
        """The node's index in the deployment (None: not told)."""
        self.log = log
        self.clock = clock
        self.time_origin_ms = (
            compute_genesis_origin_ms() if time_origin_ms is None else time_origin_ms
        )
        persisted = store.load()
        self.node = Node(
            config,
            keys,
            rules=rules,
            restore=persisted,
            sign_state=store.load_sign_state(),
            keep_chain=False,  # the store holds every block; memory only what the config retains
        )
        self.restored_height = self.node.height
        self.transport = Transport(
            keys.address, self._on_message, host=listen[0], port=listen[1], peers=peers
        )
        self.metrics = NodeMetrics(self)
        self.http_address = http
        self.limits = limits
        self.http_port = 0
        self.started = False
        self.stopping = asyncio.Event()
        self.failure: BaseException | None = None
        self.inputs = 0
        self._timers: set[asyncio.TimerHandle] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._http_runner: Any = None

    # --- reads (``MetricsSource`` and the HTTP handlers) ------------------------------------

    def now_ms(self) -> int:
        """Node time: Unix ms − the time origin."""
        return int(self.clock() * 1000) - self.time_origin_ms

    def get_peer_count(self) -> int:
        """Peers with an open connection."""
        return len(self.transport.get_peer_addresses())

    def get_log_index(self) -> int:
        """The index telemetry log lines carry: the one given, else the node's position among
        the genesis validators (sorted by address), else 0."""
        if self.index is not None:
            return self.index
        validators = [a.address for a in self.config.genesis.validators]
        address = self.keys.address
        return validators.index(address) if address in validators else 0

    @property
    def is_validator(self) -> bool:
        """Whether genesis seeds this node's address as a validator."""
        account = self.config.genesis.get_account(self.keys.address)
        return account is not None and account.validator

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, serve HTTP, dial peers, then start the node; a port that cannot be bound
        is a ``UserError`` naming its flag."""
        try:
            await self.transport.start()
        except OSError as error:
            where = f"{self.transport.host}:{self.transport.port}"
            expected = f"a free port ({where})"
            raise UserError("rppsim node run", "--listen", expected, str(error)) from None
        if self.http_address is not None:
            host, port = self.http_address
            try:
                self._http_runner, self.http_port = await start_http(self, host, port, self.limits)
            except OSError as error:
                expected = f"a free port ({host}:{port})"
                raise UserError("rppsim node run", "--http", expected, str(error)) from None
        self.log.write(
            "listening",
            {
                "address": self.keys.address,
                "index": self.get_log_index(),
                "p2p_port": self.transport.port,
                "http_port": self.http_port,
                "height": self.node.height,
                "time_origin_ms": self.time_origin_ms,
            },
        )
        self.started = True
        self._input(Node.on_start)

    async def stop(self) -> None:
        """Cancel timers and emits, close sockets and the store."""
        self.stopping.set()
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self.transport.close()
        if self._http_runner is not None:
            await self._http_runner.cleanup()
        if self._session is not None:
            await self._session.close()
        self.store.close()
        if self.started:
            self.log.write("stopped", {"height": self.node.height})

    async def run_until_stopped(self) -> None:
        """Start, wait for ``stopping`` (a signal or a failure), stop."""
        try:
            await self.start()
            await self.stopping.wait()
        finally:
            await self.stop()

    # --- inputs -----------------------------------------------------------------------------

    def _input(self, handler: Callable[..., list[Any]], *args: Any) -> None:
        """Run one input on the node and carry out its effects; a failure of the driver (the
        store) is logged and stops the process."""
        if self.stopping.is_set():
            return
        now = self.now_ms()
        try:
            effects = handler(self.node, now, *args)
            self.inputs += 1
            self.metrics.observe(self.node, now)
            self._apply(now, effects)
        except Exception as error:  # the store failed: stop rather than run on without it
            self.failure = error
            self.log.write(
                "node input failed",
                {"error": repr(error), "traceback": traceback.format_exc()},
                level="ERROR",
            )
            self.stopping.set()

    def _on_message(self, sender: str, message: Message) -> None:
        self._input(Node.on_message, sender, message)

    def _on_timer(self, handle_box: list[asyncio.TimerHandle], timer: Timer) -> None:
        self._timers.discard(handle_box[0])
        self._input(Node.on_timer, timer)

    # --- effects ----------------------------------------------------------------------------

    def _apply(self, now: int, effects: list[Any]) -> None:
        for effect in effects:
            kind = type(effect)
            if kind is Publish:
                self.transport.publish(effect.message)
            elif kind is Send:
                self.transport.send(effect.peer, effect.message)
            elif kind is SetTimer:
                self._set_timer(now, effect)
            elif kind is Persist:
                self._persist(effect)
            elif kind is EmitTelemetry:
                self._emit(effect)

    def _set_timer(self, now: int, effect: SetTimer) -> None:
        loop = asyncio.get_running_loop()
        box: list[asyncio.TimerHandle] = []
        delay_s = max(effect.at_ms - now, 0) / 1000
        handle = loop.call_later(delay_s, self._on_timer, box, effect.timer)
        box.append(handle)
        self._timers.add(handle)

    def _persist(self, effect: Persist) -> None:
        if effect.key == "commit":
            self.store.save(self.node.get_persisted())
        elif isinstance(effect.value, SignState):
            self.store.save_sign_state(effect.value)

    def _emit(self, effect: EmitTelemetry) -> None:
        if effect.payload is None:
            return  # encoding failed: counted by the node, no answer expected
        endpoint = self.config.rollout.telemetry.endpoint
        if not endpoint:
            fields = {
                "node": self.get_log_index(),
                "time_ms": effect.now_ms,
                "snapshot": effect.snapshot,
            }
            self.log.write("telemetry snapshot", fields, target="telemetry")
            self._input(Node.on_emit_result, EmitResult(effect.seq, True))
            return
        task = asyncio.ensure_future(self._post(endpoint, effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, endpoint: str, effect: EmitTelemetry) -> None:
        """POST one snapshot and answer the node (transport error or non-2xx: failed)."""
        telemetry = self.config.rollout.telemetry
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json", "X-Rppsim-Time-Ms": str(effect.now_ms)}
        if self.index is not None:
            headers["X-Rppsim-Node"] = str(self.index)
        timeout = aiohttp.ClientTimeout(total=telemetry.timeout_ms / 1000)
        assert effect.payload is not None
        try:
            async with self._session.post(
                endpoint, data=effect.payload, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                ok = 200 <= response.status < 300
                result = (
                    EmitResult(effect.seq, True)
                    if ok
                    else EmitResult(effect.seq, False, "status", f"status {response.status}")
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            result = EmitResult(effect.seq, False, "transport", type(error).__name__)
        if not result.ok:
            self.log.write(
                "failed to emit telemetry snapshot",
                {"seq": effect.seq, "error": result.detail},
                level="WARN",
            )
        self._input(Node.on_emit_result, result)

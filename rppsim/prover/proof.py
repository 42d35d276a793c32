"""The proof object and its canonical bytes (docs/proofs.md#hashing-and-encoding, rpp-stark ABI
order).

Envelope: magic "RPPF", u16 envelope version, system label, circuit name, then three
u32-length blobs: params, public inputs, body (the ``RppStarkProof{params,
public_inputs, proof}`` shape). Body, in rpp-stark order: u16 version, u8 log₂ trace rows,
params hash, public digest, trace root, composition root, FRI roots, out-of-domain values, final
polynomial, PoW nonce, query indices, then the Merkle openings of the trace, the
composition and each FRI layer. ``Proof.from_bytes`` raises only ``ProofFormatError``.

These proofs are sound but **not zero-knowledge**: no blinding is added, and openings
reveal trace values at the queried points.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rppsim.prover.airs import AIRS
from rppsim.prover.codec import ByteReader, ByteWriter
from rppsim.prover.errors import ProofFormatError
from rppsim.prover.kinds import ProofSystemKind
from rppsim.prover.params import StarkParams, params_from_bytes
from rppsim.prover.reference.field import Ext

MAGIC = b"RPPF"
ENVELOPE_VERSION = 1
DIGEST = 32
MAX_FRI_LAYERS = 32
MAX_OOD = 1 << 14
MAX_FINAL = 1 << 12
MAX_QUERIES = 1 << 10
MAX_LEAF_WIDTH = 1 << 14
MAX_DEPTH = 40
MAX_BLOB = (1 << 32) - 1

Marks = list[tuple[str, int, int]] | None


def _mark(marks: Marks, name: str, start: int, reader: ByteReader, base: int) -> None:
    """Record the byte span of a named field (used by tamper tests)."""
    if marks is not None:
        marks.append((name, base + start, base + reader.position))


@dataclass(frozen=True, slots=True)
class MerkleOpenings:
    """One Merkle bundle: per query, a leaf's felts and its path (depth × 32 bytes)."""

    leaf_width: int
    depth: int
    leaves: tuple[tuple[int, ...], ...]
    paths: tuple[bytes, ...]

    def write(self, out: ByteWriter) -> None:
        """Canonical bytes: u32 width, u8 depth, u32 count, then (leaf, path) per query."""
        out.u32(self.leaf_width)
        out.u8(self.depth)
        out.u32(len(self.leaves))
        for leaf, path in zip(self.leaves, self.paths, strict=True):
            out.felts(leaf)
            out.raw(path)

    @classmethod
    def read(cls, reader: ByteReader) -> MerkleOpenings:
        """Parse one bundle."""
        width = reader.count(MAX_LEAF_WIDTH, "leaf width")
        depth = reader.u8()
        if depth > MAX_DEPTH:
            raise ProofFormatError(f"proof: Merkle depth {depth} exceeds {MAX_DEPTH}")
        count = reader.count(MAX_QUERIES, "opening")
        leaves, paths = [], []
        for _ in range(count):
            leaves.append(reader.felts(width))
            paths.append(reader.raw(DIGEST * depth))
        return cls(width, depth, tuple(leaves), tuple(paths))


@dataclass(frozen=True, slots=True)
class StarkProofBody:
    """The STARK proper: commitments, evaluations, nonce and openings."""

    version: int
    rows_log2: int
    params_hash: bytes
    public_digest: bytes
    trace_root: bytes
    composition_root: bytes
    fri_roots: tuple[bytes, ...]
    ood_values: tuple[Ext, ...]
    final_poly: tuple[Ext, ...]
    pow_nonce: int
    query_indices: tuple[int, ...]
    trace_openings: MerkleOpenings
    composition_openings: MerkleOpenings
    fri_openings: tuple[MerkleOpenings, ...]

    def to_bytes(self) -> bytes:
        """Canonical body bytes."""
        out = ByteWriter()
        out.u16(self.version)
        out.u8(self.rows_log2)
        for digest in (
            self.params_hash,
            self.public_digest,
            self.trace_root,
            self.composition_root,
        ):
            out.raw(digest)
        out.u32(len(self.fri_roots))
        for root in self.fri_roots:
            out.raw(root)
        out.u32(len(self.ood_values))
        out.exts(self.ood_values)
        out.u32(len(self.final_poly))
        out.exts(self.final_poly)
        out.u64(self.pow_nonce)
        out.u32(len(self.query_indices))
        for index in self.query_indices:
            out.u32(index)
        self.trace_openings.write(out)
        self.composition_openings.write(out)
        out.u32(len(self.fri_openings))
        for bundle in self.fri_openings:
            bundle.write(out)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, marks: Marks = None, base: int = 0) -> StarkProofBody:
        """Parse canonical body bytes; record field spans into ``marks`` when given."""
        r = ByteReader(data, what="proof body")

        def field(name: str, read: Any) -> Any:
            """Read one field and record its span."""
            start = r.position
            value = read()
            _mark(marks, name, start, r, base)
            return value

        version = field("version", r.u16)
        rows_log2 = field("rows_log2", r.u8)
        params_hash = field("params_hash", lambda: r.raw(DIGEST))
        public_digest = field("public_digest", lambda: r.raw(DIGEST))
        trace_root = field("trace_root", lambda: r.raw(DIGEST))
        comp_root = field("composition_root", lambda: r.raw(DIGEST))
        fri_roots = field(
            "fri_roots",
            lambda: tuple(r.raw(DIGEST) for _ in range(r.count(MAX_FRI_LAYERS, "FRI root"))),
        )
        ood = field("ood_values", lambda: r.exts(r.count(MAX_OOD, "OOD value")))
        final = field("final_poly", lambda: r.exts(r.count(MAX_FINAL, "final coefficient")))
        nonce = field("pow_nonce", r.u64)
        indices = field(
            "query_indices", lambda: tuple(r.u32() for _ in range(r.count(MAX_QUERIES, "query")))
        )
        trace_open = field("trace_openings", lambda: MerkleOpenings.read(r))
        comp_open = field("composition_openings", lambda: MerkleOpenings.read(r))
        count = field("fri_layer_count", lambda: r.count(MAX_FRI_LAYERS, "FRI layer"))
        fri_open = tuple(
            field(f"fri_openings_{i}", lambda: MerkleOpenings.read(r)) for i in range(count)
        )
        r.finish()
        return cls(
            version, rows_log2, params_hash, public_digest, trace_root, comp_root, fri_roots,
            ood, final, nonce, indices, trace_open, comp_open, fri_open,
        )  # fmt: skip


@dataclass(frozen=True)
class Proof:
    """A numba-stark proof of one circuit statement, with its canonical bytes."""

    circuit: str
    params: StarkParams
    public_inputs: Any
    body: StarkProofBody

    @property
    def system(self) -> ProofSystemKind:
        """Always ``ProofSystemKind.NUMBA_STARK``."""
        return ProofSystemKind.NUMBA_STARK

    @cached_property
    def _bytes(self) -> bytes:
        """The canonical bytes, encoded once per object."""
        out = ByteWriter()
        out.raw(MAGIC)
        out.u16(ENVELOPE_VERSION)
        out.short_str(self.system.label)
        out.short_str(self.circuit)
        out.blob(self.params.to_bytes())
        out.blob(self.public_inputs.to_bytes())
        out.blob(self.body.to_bytes())
        return out.getvalue()

    def to_bytes(self) -> bytes:
        """The canonical envelope bytes."""
        return self._bytes

    def digest(self) -> bytes:
        """BLAKE2s-256 of the canonical bytes: the key for reusing a verification result."""
        return hashlib.blake2s(self._bytes).digest()

    @property
    def size_bytes(self) -> int:
        """Length of the canonical bytes (what the size gate measures)."""
        return len(self._bytes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        """Parse canonical bytes; raises only ProofFormatError."""
        return parse_proof(data, None)


def read_envelope_header(data: bytes) -> tuple[str, str]:
    """(system label, circuit name) of any envelope; ProofFormatError if unreadable."""
    r = ByteReader(data, what="proof envelope")
    if r.raw(4) != MAGIC:
        raise ProofFormatError("proof envelope: bad magic")
    if r.u16() != ENVELOPE_VERSION:
        raise ProofFormatError("proof envelope: unknown envelope version")
    return r.short_str("system label"), r.short_str("circuit name")


def peek_params(data: bytes) -> StarkParams:
    """The params of an envelope without parsing the rest (for the size gate)."""
    r = ByteReader(data, what="proof envelope")
    system, circuit = read_envelope_header(data)
    r.raw(4 + 2 + 2 + len(system) + len(circuit))
    return params_from_bytes(r.blob(MAX_BLOB, "params"))


def parse_proof(data: bytes, marks: Marks) -> Proof:
    """Parse an envelope; record field spans into ``marks`` when given."""
    r = ByteReader(data, what="proof envelope")
    start = r.position
    system, circuit = read_envelope_header(data)
    r.raw(4 + 2 + 2 + len(system) + len(circuit))
    _mark(marks, "header", start, r, 0)
    if system != ProofSystemKind.NUMBA_STARK.label:
        raise ProofFormatError(f"proof envelope: system {system!r} is not numba-stark")
    air = AIRS.get(circuit)
    if air is None:
        raise ProofFormatError(f"proof envelope: unknown circuit {circuit!r}")
    start = r.position
    params = params_from_bytes(r.blob(MAX_BLOB, "params"))
    _mark(marks, "params", start, r, 0)
    start = r.position
    public_inputs = air.public_inputs_type.from_bytes(r.blob(MAX_BLOB, "public inputs"))
    _mark(marks, "public_inputs", start, r, 0)
    start = r.position
    body_len = r.u32()
    _mark(marks, "body_length", start, r, 0)
    body_start = r.position
    body = StarkProofBody.from_bytes(r.raw(body_len), marks, body_start)
    r.finish()
    return Proof(circuit, params, public_inputs, body)


def proof_sections(data: bytes) -> list[tuple[str, int, int]]:
    """Named byte spans of a canonical proof (header, params, …, each opening bundle)."""
    marks: list[tuple[str, int, int]] = []
    parse_proof(data, marks)
    return marks

"""``rppsim bench prover``: prove/verify time, proof size and rows/s of the numba STARK.

Sweeps circuit × profile × log₂ rows (default: every AIR, sim/standard/chain-parity,
2^10…2^16), prints one table, checks the targets of docs/architecture.md#prover-modes on the
synthetic
16-column AIR (``bench16``, standard profile): 2^16 rows ≤ 1.0 s, 2^10 rows ≤ 25 ms,
verify ≤ 20 ms, and with ``--write-calibration PATH`` writes the cost-model table that
simulations charge (rppsim/prover/costmodel.py). Times are the process's CPU time
(``time.process_time``): the prover is single-threaded, so on an idle core this is the
wall time, and on a shared machine it is not inflated by waiting for the CPU (the wall
time of proving is printed beside it). JIT compilation is excluded by a warm-up proof
per circuit.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numba

from rppsim.argtypes import OneLineParser, natural
from rppsim.errors import UserError
from rppsim.prover import PROFILES, Proof, prove, verify_reason
from rppsim.prover.airs import AIRS, get_air
from rppsim.prover.examples import example_statement
from rppsim.prover.verifier import Reason

DEFAULT_ROWS = (10, 12, 14, 16)
DEFAULT_PROFILES = ("sim", "standard", "chain-parity")
QUICK_ROWS = (10, 12)
QUICK_PROFILES = ("sim", "standard")
MEMORY_LIMIT_BYTES = 6 << 30
TARGET_CIRCUIT, TARGET_PROFILE = "bench16", "standard"
TARGETS = (
    (16, "prove_ms", 1000.0),
    (10, "prove_ms", 25.0),
    (16, "verify_ms", 20.0),
    (10, "verify_ms", 20.0),
)
CLI = "<command line>"


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    circuit: str
    profile: str
    rows_log2: int
    columns: int
    prove_ms: float
    prove_wall_ms: float
    verify_ms: float
    parse_ms: float
    proof_bytes: int

    @property
    def rows_per_s(self) -> float:
        """Trace rows proved per second."""
        return (1 << self.rows_log2) / (self.prove_ms / 1000.0)


def _csv(text: str, key: str, choices: tuple[str, ...] | None = None) -> list[str]:
    """A comma-separated option, checked against ``choices``."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items or (choices and any(item not in choices for item in items)):
        expected = f"a comma-separated subset of {', '.join(choices)}" if choices else "a list"
        raise UserError(CLI, key, expected, text)
    return items


def _rows(text: str) -> list[int]:
    """``--rows 10,12``: log₂ row counts."""
    try:
        values = [int(v) for v in _csv(text, "--rows")]
    except ValueError:
        raise UserError(CLI, "--rows", "comma-separated integers (log2 rows)", text) from None
    if any(not 1 <= v <= 22 for v in values):
        raise UserError(CLI, "--rows", "log2 row counts in 1..22", text)
    return values


def build_parser() -> argparse.ArgumentParser:
    """The options of ``rppsim bench prover``."""
    parser = OneLineParser(prog="rppsim bench prover", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", help="log2 row counts, e.g. 10,12 (default 10,12,14,16)")
    parser.add_argument("--profiles", help=f"subset of {', '.join(PROFILES)}")
    parser.add_argument("--circuits", help=f"subset of {', '.join(AIRS)} (default all)")
    parser.add_argument("--quick", action="store_true", help="rows 10,12 and profiles sim,standard")
    parser.add_argument(
        "--statements", type=natural, default=0, help="statements averaged per configuration"
    )
    parser.add_argument("--repeats", type=natural, default=0, help="best-of runs per statement")
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also time the reference prover (2^10 rows, else the smallest size)",
    )
    parser.add_argument(
        "--write-calibration", metavar="PATH", help="write the cost-model JSON here"
    )
    return parser


def _time_verify(data: bytes, label: str) -> tuple[float, float]:
    """(parse s, verify s) of one proof's bytes, best of three."""
    parse_s = verify_s = float("inf")
    for _ in range(3):
        start = time.process_time()
        parsed = Proof.from_bytes(data)
        middle = time.process_time()
        if verify_reason(parsed) is not Reason.ACCEPTED:
            raise RuntimeError(f"{label}: proof does not verify")
        parse_s = min(parse_s, middle - start)
        verify_s = min(verify_s, time.process_time() - middle)
    return parse_s, verify_s


def _time_prove(circuit: str, profile: str, rows_log2: int, seed: int, repeats: int) -> tuple:
    """(best CPU s, its wall s, proof) of ``repeats`` proofs of one example statement.

    The best of a few runs filters interference from other processes on a shared machine.
    """
    public_inputs, witness = example_statement(circuit, rows_log2, seed=seed)
    best: tuple[float, float, Proof | None] = (float("inf"), float("inf"), None)
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        proof = prove(circuit, public_inputs, witness, profile=profile, rows_log2=rows_log2)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if cpu < best[0]:
            best = (cpu, wall, proof)
    return best


def measure(circuit: str, profile: str, rows_log2: int, statements: int, repeats: int) -> Row:
    """Prove/parse/verify time and size, mean over ``statements`` example statements.

    Different statements (seeds 1, 2, …) average the proof-of-work search, whose length
    is geometric: one statement's grinding can take several times the expected 2^pow tries.
    """
    totals = [0.0, 0.0, 0.0, 0.0, 0.0]
    label = f"{circuit}/{profile}/2^{rows_log2}"
    for seed in range(1, statements + 1):
        cpu, wall, proof = _time_prove(circuit, profile, rows_log2, seed, repeats)
        data = proof.to_bytes()
        parse_s, verify_s = _time_verify(data, label)
        for i, value in enumerate((cpu, wall, verify_s, parse_s, len(data))):
            totals[i] += value / statements
    prove_ms, wall_ms, verify_ms, parse_ms = (1e3 * t for t in totals[:4])
    width = get_air(circuit).width
    return Row(
        circuit, profile, rows_log2, width, prove_ms, wall_ms, verify_ms, parse_ms, round(totals[4])
    )


def fits_memory(circuit: str, profile: str, rows_log2: int) -> bool:
    """A rough bound on the prover's arrays: LDE of trace, composition and DEEP (uint64)."""
    air = get_air(circuit)
    size = 1 << (rows_log2 + PROFILES[profile].log_blowup)
    return 8 * size * (air.width + 4 * air.num_chunks + 16) <= MEMORY_LIMIT_BYTES


def print_profiles(profiles: list[str]) -> None:
    """The parameters and conjectured security of each profile."""
    print("profile        blowup  queries  pow  fold  final  conjectured bits (nominal)")
    for name in profiles:
        p = PROFILES[name]
        fold, final = 1 << p.fri_log_arity, 1 << p.log_final_poly_len
        bits = f"{p.conjectured_security_bits:>4} ({p.nominal_security_bits})"
        shape = f"{p.blowup:>6} {p.num_queries:>8} {p.pow_bits:>4} {fold:>5} {final:>6}"
        print(f"{name:<14} {shape}  {bits}")
    print("conjectured = log2(blowup)*queries + pow_bits, capped at 123 (|F_p^4|), 128 (BLAKE2s)\n")


HEADER = (
    ("circuit", "<12"),
    ("cols", ">4"),
    ("profile", "<13"),
    ("rows", ">5"),
    ("prove ms", ">9"),
    ("(wall)", ">8"),
    ("verify ms", ">9"),
    ("parse ms", ">8"),
    ("proof bytes", ">11"),
    ("rows/s", ">9"),
)


def print_rows(rows: list[Row]) -> None:
    """The results table."""
    print(" ".join(f"{name:{spec}}" for name, spec in HEADER))
    for r in rows:
        cells = (
            r.circuit, r.columns, r.profile, f"2^{r.rows_log2}", f"{r.prove_ms:.1f}",
            f"{r.prove_wall_ms:.1f}", f"{r.verify_ms:.1f}", f"{r.parse_ms:.1f}", r.proof_bytes,
            f"{r.rows_per_s:.0f}",
        )  # fmt: skip
        print(" ".join(f"{cell:{spec}}" for cell, (_, spec) in zip(cells, HEADER, strict=True)))


def print_targets(rows: list[Row]) -> None:
    """Measured against the targets (bench16 is the synthetic 16-column AIR)."""
    found = {(r.circuit, r.profile, r.rows_log2): r for r in rows}
    for rows_log2, field, limit in TARGETS:
        row = found.get((TARGET_CIRCUIT, TARGET_PROFILE, rows_log2))
        if row is None:
            continue
        value = getattr(row, field)
        verdict = "ok" if value <= limit else "MISSED"
        name = f"{TARGET_CIRCUIT}/{TARGET_PROFILE} 2^{rows_log2} {field}"
        print(f"target {name} {value:.1f} <= {limit:.0f}: {verdict}")


def reference_times(circuits: list[str], rows_log2: int) -> None:
    """The readable reference prover on the same statement (standard profile)."""
    for circuit in circuits:
        public_inputs, witness = example_statement(circuit, rows_log2, seed=1)
        start = time.perf_counter()
        prove(
            circuit,
            public_inputs,
            witness,
            profile="standard",
            rows_log2=rows_log2,
            backend="reference",
        )
        elapsed = (time.perf_counter() - start) * 1e3
        print(f"reference {circuit} standard 2^{rows_log2}: prove {elapsed:.0f} ms")


def write_calibration(path: Path, rows: list[Row]) -> None:
    """The cost-model table (rppsim/prover/costmodel.py reads it)."""
    document = {
        "version": 1,
        "meta": {
            "machine": platform.machine(),
            "processor": platform.processor() or "unknown",
            "python": platform.python_version(),
            "numba": numba.__version__,
            "threads": str(numba.get_num_threads()),
            "note": "CPU ms, best of repeats, mean over example statements (rppsim bench prover)",
        },
        "entries": [
            {
                **{k: v for k, v in asdict(r).items() if k not in ("parse_ms", "prove_wall_ms")},
                "prove_ms": round(r.prove_ms, 3),
                "verify_ms": round(r.verify_ms + r.parse_ms, 3),
            }
            for r in rows
        ],
    }
    path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def main(argv: list[str]) -> int:
    """Run the sweep; exit 0 (targets are reported, not enforced)."""
    args = build_parser().parse_args(argv)
    rows = _rows(args.rows) if args.rows else list(QUICK_ROWS if args.quick else DEFAULT_ROWS)
    profiles = (
        _csv(args.profiles, "--profiles", tuple(PROFILES))
        if args.profiles
        else list(QUICK_PROFILES if args.quick else DEFAULT_PROFILES)
    )
    circuits = _csv(args.circuits, "--circuits", tuple(AIRS)) if args.circuits else list(AIRS)
    print_profiles(profiles)
    for circuit in circuits:  # warm-up: load or compile the kernels
        air = get_air(circuit)
        public_inputs, witness = example_statement(circuit, air.min_rows_log2, seed=0)
        prove(circuit, public_inputs, witness, profile="test-tiny", rows_log2=air.min_rows_log2)
    results: list[Row] = []
    for circuit in circuits:
        for profile in profiles:
            for rows_log2 in rows:
                if not get_air(circuit).supports_rows(rows_log2):
                    continue
                if not fits_memory(circuit, profile, rows_log2):
                    print(f"skipped {circuit}/{profile}/2^{rows_log2}: over the memory bound")
                    continue
                statements = args.statements or (
                    32 if rows_log2 <= 8 else 8 if rows_log2 <= 12 else 2
                )
                heavy = get_air(circuit).width * (PROFILES[profile].blowup << rows_log2) > 1 << 26
                repeats = args.repeats or (1 if heavy else 2)
                results.append(measure(circuit, profile, rows_log2, statements, repeats))
    print_rows(results)
    print("ms are CPU time (wall clock of proving in brackets); verify excludes parsing,")
    print("the cost model charges both.\n")
    print_targets(results)
    if args.reference:
        reference_times(circuits, 10 if 10 in rows else min(rows))
    if args.write_calibration:
        write_calibration(Path(args.write_calibration), results)
    return 0

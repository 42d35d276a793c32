"""The numba cache probe and compiling ahead (rppsim/prover/jit.py, ``rppsim compile``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rppsim.cli import main, print_compile_notice
from rppsim.prover.jit import find_kernel_sources, is_compile_cached


def _package(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    root.mkdir()
    (root / "fast.py").write_text("@kernel\ndef f(x):\n    return x\n", encoding="utf-8")
    (root / "plain.py").write_text("def g(x):\n    return x\n", encoding="utf-8")
    return root


def test_the_cache_is_cold_until_every_kernel_source_has_a_fresh_index(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    root = _package(tmp_path)
    assert [p.name for p in find_kernel_sources(root)] == ["fast.py"]
    assert not is_compile_cached(root)
    cache = root / "__pycache__"
    cache.mkdir()
    index = cache / "fast.f-1.py311.nbi"
    index.write_bytes(b"")
    assert is_compile_cached(root)
    source = root / "fast.py"
    later = index.stat().st_mtime + 10
    os.utime(source, (later, later))  # an edited source: numba recompiles it
    assert not is_compile_cached(root)


def test_the_shipped_kernels_are_found() -> None:
    names = {p.name for p in find_kernel_sources()}
    assert {"ntt.py", "blake2s.py", "vrf_input.py"} <= names


def test_a_cold_cache_is_announced_before_a_run(capsys, monkeypatch) -> None:
    import rppsim.prover.jit

    monkeypatch.setattr(rppsim.prover.jit, "is_compile_cached", lambda: False)
    print_compile_notice()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "compiling" in out and "rppsim compile" in out
    monkeypatch.setattr(rppsim.prover.jit, "is_compile_cached", lambda: True)
    print_compile_notice()
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_rppsim_compile_leaves_the_cache_warm(capsys) -> None:
    assert main(["compile"]) == 0
    assert "done in" in capsys.readouterr().out
    assert is_compile_cached()

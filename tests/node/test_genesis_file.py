"""``rppsim validate`` of a genesis file (rppsim/node/genesis.py ``check_genesis_file``): a
chain must be able to start from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rppsim.cli import main
from rppsim.node.genesis import U128_MAX, compute_address, derive_dev_keypair

SHIPPED = Path(__file__).parents[2] / "node" / "genesis.toml"


def _account(seed: str, stake: int, validator: bool) -> str:
    address = compute_address(derive_dev_keypair(seed)[1])
    extra = (
        "validator = true\nzsi_validated = true\nuptime_hours = 24\nconsensus_success = 10\n"
        if validator
        else ""
    )
    return (
        f'[[genesis.accounts]]\naddress = "{address}"\nbalance = 1000\nstake = "{stake}"\n'
        f'key_seed = "{seed}"\n{extra}'
    )


def _validate(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ([("w0", 0, False), ("w1", 5, False)], "no validator"),
        ([("v0", U128_MAX, True), ("v1", 1, True)], "stakes summing to at most u128::MAX"),
    ],
)
def test_a_genesis_no_chain_can_start_from_is_one_line_exit_2(
    capsys, tmp_path, accounts, message
) -> None:
    path = tmp_path / "genesis.toml"
    body = "".join(_account(*a) for a in accounts)
    path.write_text(f'[genesis]\nchain_id = "t"\n\n{body}', encoding="utf-8")
    code, err = _validate(capsys, path)
    assert code == 2 and message in err and "genesis.accounts" in err
    assert len(err.strip().splitlines()) == 1


def test_one_seeded_validator_is_enough(capsys, tmp_path) -> None:
    path = tmp_path / "genesis.toml"
    path.write_text('[genesis]\nchain_id = "t"\n\n' + _account("v0", 7, True), encoding="utf-8")
    assert _validate(capsys, path)[0] == 0
    assert _validate(capsys, SHIPPED)[0] == 0

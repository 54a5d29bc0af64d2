"""benchmarks/dna_step_speed.py times the same function two ways, and writes its table."""

from __future__ import annotations

import torch

from tests.benchmarks.conftest import load_script


def test_the_conv_stem_peer_is_the_same_model() -> None:
    speed = load_script("dna_step_speed")
    folded, conv = speed.build("titans").eval(), speed.build("titans-conv-stem").eval()  # no dropout
    conv.load_state_dict(folded.state_dict())
    ids = torch.randint(1, 5, (8, 101), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(conv(ids), folded(ids), rtol=1e-4, atol=1e-5)


def test_writes_one_row_per_length(tmp_path) -> None:
    speed = load_script("dna_step_speed")
    assert speed.main(["--lengths", "24", "40", "--repeats", "1", "--output", str(tmp_path / "speed")]) == 0
    rows = [line for line in (tmp_path / "speed.md").read_text().splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows[1:]] == ["| 24", "| 40"]
    assert all(float(cell) > 0 for row in rows[1:] for cell in row.strip("| ").split(" | "))

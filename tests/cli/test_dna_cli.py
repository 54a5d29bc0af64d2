"""``titans-seq dna``: recipes parse, fit/test through LightningCLI, predict over FASTA + BED regions."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from titans_seq.cli import dna as dna_cli
from titans_seq.data.dna import reverse_complement
from titans_seq.data.dna_sources import GUE_TASKS
from titans_seq.estimators.classifier import TitansSequenceClassifier
from titans_seq.models import MemoryConfig, TitansConfig

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "dna"
TINY = TitansConfig(
    variant="lmm", dim=16, depth=1, ffn_expansion=2.0, memory=MemoryConfig(heads=2, chunk_size=8, depth=1)
)
CONTIGS = {"chrA": 300, "chrB": 120}


def random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), n))


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    rng = np.random.default_rng(0)
    records = {name: random_dna(rng, n) for name, n in CONTIGS.items()}
    path = tmp_path_factory.mktemp("genome") / "genome.fa"
    lines = []
    for name, seq in records.items():
        lines += [f">{name} test contig"] + [seq[i : i + 60] for i in range(0, len(seq), 60)]
    path.write_text("\n".join(lines) + "\n")
    return path, records


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(1)
    X = [random_dna(rng, 30) for _ in range(40)]
    y = ["bound" if i % 2 else "unbound" for i in range(40)]
    clf = TitansSequenceClassifier(backbone=TINY, max_epochs=1, validation_fraction=0).fit(X, y)
    return clf.save(tmp_path_factory.mktemp("models") / "model")


def write_bed(path: Path, rows: list[tuple]) -> Path:
    path.write_text("".join("\t".join(map(str, row)) + "\n" for row in rows))
    return path


# ---------------------------------------------------------------------------------- predict


def predict_argv(model_dir, fasta, bed, out) -> list[str]:
    """``titans-seq dna predict`` arguments for one FASTA + BED."""
    return [
        "predict",
        "--model",
        str(model_dir),
        "--fasta",
        str(fasta),
        "--bed",
        str(bed),
        "--output",
        str(out),
    ]


def test_predict_writes_one_row_per_region(genome, model_dir: Path, tmp_path: Path, capsys) -> None:
    fasta, records = genome
    rows = [("chrA", 10, 60, "r1", 0, "+"), ("chrA", 100, 141, "r2", 0, "-"), ("chrB", 0, 120, "r3", 0, "+")]
    bed = write_bed(tmp_path / "regions.bed", rows)
    out = tmp_path / "out" / "preds.tsv"
    out.parent.mkdir()
    argv = predict_argv(model_dir, fasta, bed, out)
    assert dna_cli.main([*argv, "--index-dir", str(tmp_path / "index"), "--quiet"]) == 0
    assert "wrote 3 predictions" in capsys.readouterr().err
    table = pd.read_csv(out, sep="\t")
    assert list(table.columns) == [
        "chrom",
        "start",
        "end",
        "name",
        "strand",
        "prediction",
        "p_bound",
        "p_unbound",
    ]
    assert table["name"].tolist() == ["r1", "r2", "r3"]
    # The same probabilities as the estimator on the sequences sliced by hand (minus strand reversed).
    seqs = [
        records[c][s:e] if strand == "+" else reverse_complement(records[c][s:e])
        for c, s, e, _, _, strand in rows
    ]
    expected = TitansSequenceClassifier.load(model_dir).predict_proba(seqs)
    np.testing.assert_allclose(table[["p_bound", "p_unbound"]].to_numpy(), expected, rtol=1e-5)
    assert sorted(p.name for p in out.parent.iterdir()) == ["preds.tsv"]  # no temporary file left
    assert not (fasta.parent / "genome.fa.fai").exists()  # the index went to --index-dir


def test_predict_takes_regions_of_any_length(model_dir: Path, tmp_path: Path, capsys) -> None:
    # the bundled chloroplast genome (154,478 bp): its whole length, a 100 kb region, short ones, both strands
    fasta = Path(__file__).resolve().parents[2] / "datasets" / "fasta" / "NC_000932.1.fasta"
    rows = [
        ("NC_000932.1", 0, 154_478, "whole", 0, "+"),
        ("NC_000932.1", 20, 90, "short", 0, "-"),
        ("NC_000932.1", 50_000, 150_000, "100kb", 0, "-"),
        ("NC_000932.1", 7, 1007, "1kb", 0, "+"),
    ]
    bed = write_bed(tmp_path / "regions.bed", rows)
    out = tmp_path / "preds.tsv"
    argv = predict_argv(model_dir, fasta, bed, out)
    assert dna_cli.main([*argv, "--index-dir", str(tmp_path / "index"), "--quiet"]) == 0
    assert "wrote 4 predictions" in capsys.readouterr().err
    table = pd.read_csv(out, sep="\t")
    assert table["name"].tolist() == ["whole", "short", "100kb", "1kb"]  # input order, not length order
    genome = "".join(line.strip() for line in fasta.read_text().splitlines()[1:]).upper()
    seqs = [
        g if strand == "+" else reverse_complement(g)
        for g, strand in ((genome[r[1] : r[2]], r[5]) for r in rows)
    ]
    expected = np.vstack([TitansSequenceClassifier.load(model_dir).predict_proba([seq]) for seq in seqs])
    np.testing.assert_allclose(table[["p_bound", "p_unbound"]].to_numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("chrC", 0, 10, "r1")], "contig 'chrC' is not in"),
        ([("chrB", 100, 121, "r1")], "ends past the end of contig 'chrB' (length 120)"),
        ([("chrA", 50, 50, "r1")], "has start >= end"),
    ],
    ids=["absent-contig", "past-the-end", "empty-interval"],
)
def test_predict_rejects_bad_regions_before_predicting(
    rows, message: str, genome, model_dir: Path, tmp_path: Path, capsys
) -> None:
    fasta, _ = genome
    bed = write_bed(tmp_path / "regions.bed", rows)
    out = tmp_path / "preds.tsv"
    argv = predict_argv(model_dir, fasta, bed, out)
    assert dna_cli.main([*argv, "--index-dir", str(tmp_path / "index")]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_predict_names_missing_files(genome, model_dir: Path, tmp_path: Path, capsys) -> None:
    fasta, _ = genome
    bed = write_bed(tmp_path / "regions.bed", [("chrA", 0, 10)])
    cases = {
        "model": (
            tmp_path / "nothing",
            fasta,
            bed,
            "is not a saved titans_seq model: config.json is missing",
        ),
        "fasta": (model_dir, tmp_path / "absent.fa", bed, "FASTA file not found"),
        "bed": (model_dir, fasta, tmp_path / "absent.bed", "BED file not found"),
    }
    for model, fa, regions, message in cases.values():
        argv = ["predict", "--model", str(model), "--fasta", str(fa), "--bed", str(regions)]
        assert dna_cli.main([*argv, "--output", str(tmp_path / "p.tsv")]) == 2
        assert message in capsys.readouterr().err


# ------------------------------------------------------------------------------ fit / test


def test_every_gue_task_has_a_recipe_that_parses(capsys, recwarn) -> None:
    assert sorted(p.stem for p in RECIPES.glob("*.yaml")) == sorted(GUE_TASKS)
    for recipe in sorted(RECIPES.glob("*.yaml")):
        with pytest.raises(SystemExit) as done:
            dna_cli.main(["fit", "--config", str(recipe), "--print_config"])
        assert done.value.code in (0, None)
        printed = yaml.safe_load(capsys.readouterr().out)
        assert printed["data"]["init_args"]["task"] == recipe.stem
        assert printed["model"]["init_args"]["backbone"]["variant"] == "lmm"
    assert not [w for w in recwarn if "args parameter" in str(w.message)]


def test_fit_then_test_a_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "sequence": [random_dna(rng, 24) for _ in range(60)],
            "label": [i % 2 for i in range(60)],
            "split": ["train"] * 40 + ["valid"] * 10 + ["test"] * 10,
        }
    )
    data = tmp_path / "tiny.csv.gz"
    with gzip.open(data, "wt") as handle:
        frame.to_csv(handle, index=False)
    config = yaml.safe_load((RECIPES / "gue_mouse_tf_3.yaml").read_text())
    config["trainer"].update(
        max_epochs=2, max_time=None, enable_progress_bar=False, enable_model_summary=False
    )
    root = tmp_path / "run"
    config["trainer"]["default_root_dir"] = str(root)
    config["trainer"]["logger"] = False
    config["trainer"]["callbacks"][1]["init_args"]["dirpath"] = str(root / "checkpoints")
    config["model"]["init_args"]["backbone"] = TINY.to_dict()
    config["data"]["init_args"].update(task=str(data), batch_size=16)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(config))
    monkeypatch.chdir(tmp_path)

    assert dna_cli.main(["fit", "--config", str(recipe)]) == 0
    assert "model saved to" in capsys.readouterr().out
    assert (root / "checkpoints" / "best.ckpt").is_file()
    clf = TitansSequenceClassifier.load(root / "model")
    assert clf.classes_.tolist() == [0, 1] and clf.rc_average is True  # the recipe's strand options
    assert clf.predict_proba(frame["sequence"][:3]).shape == (3, 2)

    assert dna_cli.main(["test", "--config", str(recipe)]) == 0
    assert "test_mcc" in capsys.readouterr().out
    assert not (tmp_path / "lightning_logs").exists()


def test_usage_and_unknown_commands(capsys) -> None:
    assert dna_cli.main([]) == 2
    assert dna_cli.main(["--help"]) == 0
    assert "titans-seq dna predict --model DIR" in capsys.readouterr().out
    assert dna_cli.main(["train"]) == 2
    assert "unknown command 'train'" in capsys.readouterr().err

"""``save`` never removes what it did not write: it refuses an existing file or a folder holding anything but
a model of ours, naming the path, and leaves that target exactly as it was."""

from __future__ import annotations

import pytest

from tests.estimators.test_forecaster import TINY, make_frame
from titans_seq import TitansForecaster


@pytest.fixture(scope="module")
def fitted() -> TitansForecaster:
    return TitansForecaster(**TINY).fit(make_frame({"a": 80, "b": 70}))


def _snapshot(path):
    if path.is_file():
        return path.read_bytes()
    return {p.relative_to(path): (p.read_bytes() if p.is_file() else None) for p in sorted(path.rglob("*"))}


def test_an_existing_file_is_refused_and_kept(tmp_path, fitted):
    target = tmp_path / "report.txt"
    target.write_text("my notes")
    with pytest.raises(FileExistsError, match="report.txt: it exists and is not a folder"):
        fitted.save(target)
    assert target.read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]  # no hidden leftovers


def test_a_folder_of_other_files_is_refused_and_kept(tmp_path, fitted):
    target = tmp_path / "project"
    (target / "sub").mkdir(parents=True)
    (target / "data.csv").write_text("a,b\n1,2\n")
    (target / "sub" / "x").write_text("x")
    before = _snapshot(target)
    with pytest.raises(FileExistsError, match="did not write \\(data.csv, sub\\)"):
        fitted.save(target)
    assert _snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


def test_a_model_folder_with_a_user_file_is_refused(tmp_path, fitted):
    target = tmp_path / "model"
    fitted.save(target)
    (target / "README.txt").write_text("trained on Monday")
    before = _snapshot(target)
    with pytest.raises(FileExistsError, match="README.txt"):
        fitted.save(target)
    assert _snapshot(target) == before


def test_a_folder_with_a_foreign_config_is_refused(tmp_path, fitted):
    target = tmp_path / "other"
    target.mkdir()
    (target / "config.json").write_text('{"format": "someone.else"}')
    with pytest.raises(FileExistsError, match="config.json"):
        fitted.save(target)
    assert (target / "config.json").read_text() == '{"format": "someone.else"}'


def test_an_empty_folder_and_an_own_model_folder_are_written(tmp_path, fitted):
    empty = tmp_path / "empty"
    empty.mkdir()
    fitted.save(empty)
    first = _snapshot(empty)
    fitted.save(empty)  # our own model folder: replaced in one step
    assert _snapshot(empty) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
    assert TitansForecaster.load(empty).predict().equals(fitted.predict())

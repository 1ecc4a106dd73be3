"""The trainer on templated prompts generated here: held-out accuracy, and the file routes as labeled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.cli import main
from sidecar.routing.learned.labeled import read_labeled
from sidecar.routing.learned.model import load_model
from sidecar.routing.learned.train import evaluate
from sidecar.routing.textview import TextView

from ..labeled_data import examples, write_jsonl
from ..requests import features


def test_train_prints_held_out_accuracy_per_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """router train prints held-out accuracy for each head and each label, and writes the file."""
    labeled = write_jsonl(tmp_path / "labeled.jsonl", examples(300, seed=2))
    assert main(["router", "train", str(labeled), "-o", str(tmp_path / "router.json")]) == 0
    out = capsys.readouterr().out
    assert "task: held-out accuracy" in out and "complexity: held-out accuracy" in out
    for label in ("extraction", "classification", "code", "math", "simple", "medium", "complex"):
        assert f"  {label} " in out
    assert (tmp_path / "router.json").exists()


def test_training_twice_writes_the_same_file(tmp_path: Path) -> None:
    """router train on the same examples writes the same bytes in two processes with different string
    hash seeds (the n-grams kept and their order do not follow set order), so a policy's version
    changes only when its router does."""
    labeled = write_jsonl(tmp_path / "labeled.jsonl", examples(300, seed=2))
    written = []
    for hash_seed in ("1", "2"):
        output = tmp_path / f"router-{hash_seed}.json"
        subprocess.run(
            [sys.executable, "-m", "sidecar", "router", "train", str(labeled), "-o", str(output)],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            check=True,
            capture_output=True,
            timeout=120,
        )
        written.append(output.read_bytes())
    assert written[0] == written[1]


def test_trained_file_classifies_as_the_labels_say(tmp_path: Path) -> None:
    """On fresh templated prompts (another seed), the trained file agrees with the labels on >= 95%."""
    labeled = write_jsonl(tmp_path / "labeled.jsonl", examples(400, seed=3))
    assert main(["router", "train", str(labeled), "-o", str(tmp_path / "router.json"), "--holdout", "0"]) == 0
    fresh = read_labeled(write_jsonl(tmp_path / "fresh.jsonl", examples(200, seed=4)))
    for report in evaluate(load_model(tmp_path / "router.json"), fresh):
        assert report.correct / report.total >= 0.95, report.head


def test_trained_file_routes_unseen_phrasings(router_file: Path) -> None:
    """Slots never seen in training still land in the right class (edge-character n-grams, bigrams)."""
    model = load_model(router_file)
    assert model.predict(TextView(features("Prove that the harmonic series diverges.")))["task"].label == "math"
    assert (
        model.predict(TextView(features("Extract the phone numbers from this letter: call 555-0100.")))["task"].label
        == "extraction"
    )


def test_eval_prints_a_confusion_matrix(router_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """router eval prints accuracy and a true-by-predicted matrix for each head."""
    labeled = write_jsonl(tmp_path / "other.jsonl", examples(50, seed=9))
    assert main(["router", "eval", "--model", str(router_file), str(labeled)]) == 0
    out = capsys.readouterr().out
    assert "task: eval accuracy" in out and "true \\ predicted" in out


def test_bad_labeled_file_exits_1_listing_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A labeled file with bad lines is not trained on: exit 1 and every bad line on stderr."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"text": "b", "task": "x"}\n[]\n')
    assert main(["router", "train", str(bad), "-o", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:1: no label" in err and f"{bad}:3:" in err
    assert not (tmp_path / "r.json").exists()


def test_one_label_only_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Examples that all share one label give nothing to learn: a clear error, exit 1."""
    labeled = write_jsonl(tmp_path / "one.jsonl", [{"text": f"q{i}", "task": "a"} for i in range(10)])
    assert main(["router", "train", str(labeled), "-o", str(tmp_path / "r.json")]) == 1
    assert "at least two distinct labels" in capsys.readouterr().err

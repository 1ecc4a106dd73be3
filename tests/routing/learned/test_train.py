"""The trainer on templated prompts generated here: held-out accuracy, and the file routes as labeled."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from sidecar.cli import main
from sidecar.routing.learned.labeled import read_labeled
from sidecar.routing.learned.model import load_model
from sidecar.routing.learned.train import TrainOptions, evaluate, fit
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


def test_the_learned_router_transcript_of_docs_routing_is_what_the_commands_print(tmp_path: Path) -> None:
    """docs/routing.md's `router train` / `router eval` transcript, run as written (in a directory with
    the repository's bench/): each command's output holds the lines shown, in order ("..." elides)."""
    root = Path(__file__).resolve().parents[3]
    text = (root / "docs" / "routing.md").read_text()
    transcript = re.search(r"```\n(\$ python -c .*?)```", text, re.S).group(1)  # type: ignore[union-attr]
    (tmp_path / "bench").symlink_to(root / "bench")
    commands = re.split(r"^\$ ", transcript, flags=re.M)[1:]
    assert len(commands) == 3
    for command in commands:
        line, *shown = command.splitlines()
        line = re.sub(r"\s+# .*$", "", line)
        line = re.sub(r"^python ", f"{sys.executable} ", line)
        line = re.sub(r"^llm-sidecar ", f"{sys.executable} -m sidecar ", line)
        result = subprocess.run(line, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        printed = iter(result.stdout.splitlines())
        missing = [want for want in shown if want.strip() != "..." and want not in printed]
        assert missing == [], line


def test_training_memory_grows_by_numbers_not_strings_per_example(tmp_path: Path) -> None:
    """fit keeps of each example the numbers of its n-grams (a 200 MB labeled file is about 1.5 million
    examples): the peak it allocates stays under 2 KB an example (as tuples of strings it was 6.4 KB,
    and 100,000 examples took 740 MB)."""
    labeled = read_labeled(write_jsonl(tmp_path / "labeled.jsonl", examples(1000, seed=1)))
    tracemalloc.start()
    try:
        fit(labeled, TrainOptions(epochs=1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2000 * len(labeled)

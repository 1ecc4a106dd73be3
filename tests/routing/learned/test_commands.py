"""``llm-sidecar router train`` as a user runs it: a process, a labeled file written by hand or by a
tool, what it prints and what it writes."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from ..labeled_data import examples, write_jsonl


def router(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidecar", "router", *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_each_mistake_of_a_labeled_line_is_named_with_its_line(tmp_path: Path) -> None:
    """A key the reader does not know (a misspelt label would be dropped), an empty text, a message
    that is not an object, a system prompt that is not a string, text and messages both, a dialect
    without a body: each is an error naming its line and what is wrong, exit 1, no file written."""
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"text": "Extract the date.", "task": "extraction", "complexty": "simple"}\n'
        '{"text": "", "task": "chat"}\n'
        '{"text": "   ", "task": "chat"}\n'
        '{"messages": [{"role": "user", "content": "hi"}, "bye"], "task": "chat"}\n'
        '{"messages": [], "task": "chat"}\n'
        '{"text": "hi", "system": 5, "task": "chat"}\n'
        '{"text": "hi", "messages": [{"role": "user", "content": "hi"}], "task": "chat"}\n'
        '{"text": "hi", "dialect": "anthropic", "task": "chat"}\n'
        '{"body": {"messages": []}, "operation": "dance", "task": "chat"}\n'
        '{"text": "hi", "task": "chat"\n'
    )
    result = router("train", labeled, "-o", tmp_path / "router.json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"{labeled}:1: unknown key 'complexty' (a line has text, system, messages or body, dialect, "
        "operation, task, complexity)",
        f"{labeled}:2: text is empty",
        f"{labeled}:3: text is empty",
        f"{labeled}:4: messages[1] is not an object with a role",
        f"{labeled}:5: messages is empty",
        f"{labeled}:6: system must be a string",
        f"{labeled}:7: text, messages and body are three forms of the request: give one",
        f"{labeled}:8: dialect and operation go with body",
        f"{labeled}:9: operation 'dance' is not one of chat, text_completion, embeddings, responses, "
        "generate_content, count_tokens",
        f"{labeled}:10: invalid JSON at column 30: unexpected end of data",
    ]
    assert not (tmp_path / "router.json").exists()


def test_a_label_that_cannot_name_a_class_is_refused_at_training(tmp_path: Path) -> None:
    """Labels become the policy's class and level names (lowercase): "Math" beside "math" is refused
    with its line and the name it could be, not trained as a third class the policy then rejects."""
    records = examples(40, seed=5)
    records[7]["task"] = "Math"
    records[9]["complexity"] = "very hard"
    labeled = write_jsonl(tmp_path / "labeled.jsonl", records)
    result = router("train", labeled, "-o", tmp_path / "router.json")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{labeled}:8: task 'Math' is not a class name (lowercase letters, digits, _ . -): 'math'?",
        f"{labeled}:10: complexity 'very hard' is not a level name (lowercase letters, digits, _ . -)",
    ]


def test_a_file_from_windows_tools_trains(tmp_path: Path) -> None:
    """A byte order mark, CRLF line ends and blank lines at the end (what Excel or PowerShell write)
    are read as the same examples."""
    records = examples(40, seed=5)
    plain = write_jsonl(tmp_path / "plain.jsonl", records)
    windows = tmp_path / "windows.jsonl"
    windows.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n") + b"\r\n\r\n")
    outputs = []
    for name in ("plain", "windows"):
        result = router("train", tmp_path / f"{name}.jsonl", "-o", tmp_path / f"{name}.json")
        assert result.returncode == 0, result.stderr
        outputs.append((tmp_path / f"{name}.json").read_bytes())
    assert outputs[0] == outputs[1]


def test_a_head_with_one_label_is_said_not_trained(tmp_path: Path) -> None:
    """Examples whose task is always "chat" train the complexity head only, and the command says so
    (a policy whose learned.decides lists task would then be refused at load)."""
    records = [{**r, "task": "chat"} for r in examples(40, seed=5)]
    labeled = write_jsonl(tmp_path / "labeled.jsonl", records)
    result = router("train", labeled, "-o", tmp_path / "router.json")
    assert result.returncode == 0, result.stderr
    assert (
        "task: not trained: every example has the label 'chat' (a head needs at least two labels)"
        in result.stdout.splitlines()
    )


def test_a_label_seen_only_in_the_held_out_share_is_named(tmp_path: Path) -> None:
    """A label with one example that the seeded shuffle holds out is a label the model can never
    answer: the command names it and how to keep it."""
    records = examples(40, seed=5)
    records.append({"text": "Translate 'good morning' into French.", "task": "translation"})
    labeled = write_jsonl(tmp_path / "labeled.jsonl", records)
    result = router("train", labeled, "-o", tmp_path / "router.json", "--seed", "10")
    assert result.returncode == 0, result.stderr
    assert (
        "task: label 'translation' is only in the held-out share (1 example): the model cannot answer it; "
        "add examples or lower --holdout" in result.stdout.splitlines()
    )


def test_labels_lost_to_the_held_out_share_are_explained(tmp_path: Path) -> None:
    """When holding out leaves a head one label, the error says the held-out share did it."""
    labeled = write_jsonl(tmp_path / "labeled.jsonl", [{"text": t, "task": t} for t in ("a", "b", "c")])
    result = router("train", labeled, "-o", tmp_path / "router.json", "--holdout", "0.5")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "llm-sidecar router train: every head needs at least two distinct labels in the training share "
        "(1 of 3 examples; --holdout 0.5 held out 2)"
    ]


def test_an_output_in_a_missing_directory_is_refused_before_training(tmp_path: Path) -> None:
    """-o in a directory that does not exist is one line and exit 1 (not a traceback after training)."""
    labeled = write_jsonl(tmp_path / "labeled.jsonl", examples(40, seed=5))
    result = router("train", labeled, "-o", tmp_path / "missing" / "router.json")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"llm-sidecar router train: cannot write {tmp_path / 'missing' / 'router.json'}: "
        f"{tmp_path / 'missing'} is not a directory"
    ]
    assert result.stdout == ""


def test_eval_names_a_label_the_model_does_not_have(router_file: Path, tmp_path: Path) -> None:
    """router eval on examples with a label the model was never trained on says so on that label's row,
    rather than leaving an accuracy of 0 to read as a model that is bad at it."""
    records = [*examples(20, seed=5), {"text": "Translate 'good morning' into French.", "task": "translation"}]
    labeled = write_jsonl(tmp_path / "labeled.jsonl", records)
    result = router("eval", "--model", router_file, labeled)
    assert result.returncode == 0, result.stderr
    assert "  translation              n=1     accuracy 0.000  (not a label of the model)" in result.stdout.splitlines()


def test_a_file_not_in_utf8_is_said_so(tmp_path: Path) -> None:
    """A UTF-16 file (what PowerShell 5's `>` writes) is one error naming its encoding, not one JSON
    error per line; a Latin-1 byte in a line names its column."""
    utf16 = tmp_path / "utf16.jsonl"
    utf16.write_bytes(write_jsonl(tmp_path / "plain.jsonl", examples(40, seed=5)).read_text().encode("utf-16"))
    result = router("train", utf16, "-o", tmp_path / "router.json")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"{utf16}: the file is UTF-16 (its byte order mark): save it as UTF-8"]
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"text": "caf\xe9 au lait", "task": "chat"}\n')
    result = router("train", latin, "-o", tmp_path / "router.json")
    assert result.stderr.splitlines() == [f"{latin}:1: not UTF-8: byte 0xe9 at column 14; save the file as UTF-8"]


def test_the_docs_router_loads_in_the_example_policy(tmp_path: Path) -> None:
    """The router docs/routing.md trains (bench/routing_data.py's 1,500 prompts), beside
    policies/routing.yaml with its commented learned block enabled, is a valid policy: every label the
    trainer learned is a class or level of the example."""
    root = Path(__file__).resolve().parents[3]
    sys.path.insert(0, str(root / "bench"))
    try:
        from routing_data import training_examples
    finally:
        sys.path.remove(str(root / "bench"))
    labeled = write_jsonl(tmp_path / "labeled.jsonl", training_examples(1500))
    assert router("train", labeled, "-o", tmp_path / "router.json").returncode == 0
    policy = (root / "policies" / "routing.yaml").read_text()
    enabled = re.sub(
        r"^  # (learned:.*)\n  #   (file:.*)\n  #   (min_confidence:.*)$", r"  \1\n    \2\n    \3", policy, flags=re.M
    )
    assert enabled != policy
    (tmp_path / "routing.yaml").write_text(enabled)
    result = subprocess.run(
        [sys.executable, "-m", "sidecar", "validate", str(tmp_path / "routing.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_interrupting_a_long_training_exits_quietly(tmp_path: Path) -> None:
    """Ctrl-C during a training that takes minutes stops it with exit 130 and one line, no traceback
    and no file."""
    source = write_jsonl(tmp_path / "source.jsonl", examples(200, seed=5))
    labeled = tmp_path / "labeled.jsonl"
    os.mkfifo(labeled)  # opened by the command itself: once it is, the process is past its start-up
    command = [sys.executable, "-m", "sidecar", "router", "train", str(labeled), "-o", str(tmp_path / "router.json")]
    process = subprocess.Popen(
        [*command, "--epochs", "1000000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        with open_for_writing(labeled, process) as pipe:
            pipe.write(source.read_bytes())  # 200 examples read in milliseconds, a million epochs never end
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert (process.returncode, err) == (130, "llm-sidecar: interrupted\n")
    assert not (tmp_path / "router.json").exists()


def open_for_writing(fifo: Path, reader: subprocess.Popen[str], timeout_s: float = 60) -> BinaryIO:
    """The named pipe ``fifo`` opened for writing once ``reader`` has opened it for reading (a signal
    sent before then would land in the interpreter's start-up, outside the command)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                raise
            assert reader.poll() is None, reader.communicate()
            assert time.monotonic() < deadline, f"{fifo} not opened within {timeout_s} s"
            time.sleep(0.01)
            continue
        os.set_blocking(fd, True)
        return os.fdopen(fd, "wb")


def test_a_body_read_in_the_wrong_dialect_is_refused(tmp_path: Path) -> None:
    """A Gemini body without "dialect": "gemini" is read as OpenAI and has no messages: an error naming
    the dialect it was read as, not an example with no text trained on silently."""
    labeled = tmp_path / "labeled.jsonl"
    labeled.write_text(
        '{"body": {"contents": [{"role": "user", "parts": [{"text": "Prove it."}]}]}, "task": "math"}\n'
        '{"body": {"contents": [{"role": "user", "parts": [{"text": "Prove it."}]}]}, "dialect": "gemini", '
        '"task": "math"}\n'
    )
    result = router("train", labeled, "-o", tmp_path / "router.json")
    assert result.stderr.splitlines() == [
        f"{labeled}:1: the body has no messages read as dialect openai, operation chat: is dialect right?"
    ]


def test_eval_says_a_head_the_model_does_not_have(tmp_path: Path) -> None:
    """router eval on examples labeled with a task, of a model trained without a task head, says the
    task labels were not scored instead of leaving them out without a word."""
    records = [{**r, "task": "chat"} for r in examples(40, seed=5)]
    labeled = write_jsonl(tmp_path / "labeled.jsonl", records)
    assert router("train", labeled, "-o", tmp_path / "router.json").returncode == 0
    result = router("eval", "--model", tmp_path / "router.json", labeled)
    assert result.returncode == 0, result.stderr
    assert "task: the model has no task head: 40 labels not scored" in result.stdout.splitlines()

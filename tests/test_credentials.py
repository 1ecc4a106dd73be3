"""Provider keys: a key that would split the upstream request is refused, naming its source only."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.credentials import CredentialError, Credentials
from sidecar.policy.spec import ApiKeySpec


@pytest.mark.parametrize("inside", ["\n", "\r", "\0"], ids=["LF", "CR", "NUL"])
def test_a_key_file_with_a_line_break_inside_is_refused(tmp_path: Path, inside: str) -> None:
    """A key file whose key holds CR, LF or NUL (not just a trailing newline) fails, naming the file."""
    path = tmp_path / "key"
    path.write_text(f"sk-first{inside}x-injected: 1\n")
    with pytest.raises(CredentialError, match=f"key file {path} holds a line break or NUL") as caught:
        Credentials({}).key_for(ApiKeySpec(file=str(path)), None)
    assert "sk-first" not in str(caught.value)


def test_a_key_variable_with_a_line_break_inside_is_refused() -> None:
    """An environment variable whose key holds a line break fails, naming the variable."""
    with pytest.raises(CredentialError, match="environment variable OPENAI_API_KEY holds a line break"):
        Credentials({"OPENAI_API_KEY": "sk-a\r\nx: y"}).key_for(ApiKeySpec(env="OPENAI_API_KEY"), None)


def test_a_trailing_newline_is_not_part_of_the_key(tmp_path: Path) -> None:
    """The newline an editor or `kubectl create secret --from-file` leaves at the end is stripped."""
    path = tmp_path / "key"
    path.write_text("sk-fine\n")
    assert Credentials({}).key_for(ApiKeySpec(file=str(path)), None) == "sk-fine"

"""Quality profiles: parsing from plain data, lookup by model name, built-ins, config integration."""

from __future__ import annotations

import dataclasses

import pytest

from sidecar.fake_provider import FakeConfig
from sidecar.fake_provider.config import updated
from sidecar.fake_provider.profiles import BUILTIN_PROFILES, PERFECT, QualityProfile, lookup, parse_profiles


def test_parse_plain_data():
    """A bare number for ``right`` is the default class; the other fields are read as given."""
    profiles = parse_profiles({"cheap-*": {"right": 0.7, "refusal": 0.01}, "big": {"right": {"math": 0.9}}})
    assert profiles["cheap-*"] == QualityProfile(right={"*": 0.7}, refusal=0.01)
    assert profiles["big"].accuracy("math") == 0.9
    assert profiles["big"].accuracy("other") == 1.0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"m": {"right": 1.5}}, r"quality\.m\.right: must be between 0 and 1"),
        ({"m": {"right": {"x": "high"}}}, r"quality\.m\.right\.x: must be a number"),
        ({"m": {"refusal": True}}, r"quality\.m\.refusal: must be a number"),
        ({"m": {"accuracy": 0.5}}, r"quality\.m\.accuracy: unknown field"),
        ({"m": 0.5}, r"quality\.m\.\(profile\): must be a mapping"),
        ([1], "must be a mapping"),
    ],
)
def test_bad_profiles_name_the_field(raw, message):
    """Errors name the model entry and the field."""
    with pytest.raises(ValueError, match=message):
        parse_profiles(raw)


def test_lookup_order():
    """Configured globs first, in order; then the built-ins by exact name; else the perfect profile."""
    first, second = QualityProfile(right={"*": 0.1}), QualityProfile(right={"*": 0.2})
    configured = {"gpt-*": first, "*": second}
    assert lookup(configured, "gpt-4o") is first
    assert lookup(configured, "claude") is second
    assert lookup({}, "fake-mini") is BUILTIN_PROFILES["fake-mini"]
    assert lookup({}, "anything-else") is PERFECT


def test_config_accepts_plain_profiles_and_updates_them():
    """FakeConfig parses plain-data profiles; a runtime update replaces them; a bad one is refused."""
    config = FakeConfig(quality={"m": {"right": 0.5}})
    assert config.quality["m"].accuracy("*") == 0.5
    assert dataclasses.asdict(config)["quality"] == {"m": dataclasses.asdict(QualityProfile(right={"*": 0.5}))}
    assert updated(config, {"quality": {"n": {"refusal": 1}}}).quality == {"n": QualityProfile(refusal=1.0)}
    with pytest.raises(ValueError, match="quality"):
        updated(config, {"quality": {"n": {"refusal": 2}}})

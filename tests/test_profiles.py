"""Site profiles load from TOML files written by the test; a retired field still loads."""

from __future__ import annotations

import logging

import pytest

from newsarchive.profiles import (
    ProfileError,
    SiteProfile,
    load_profile,
    profile_from_arguments,
)


def write(tmp_path, text: str):
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_profile_with_the_retired_platform_field_loads_with_a_warning(tmp_path, caplog):
    path = write(
        tmp_path,
        'name = "old"\nplatform = "rebelmouse"\ndomains = ["old.example"]\n',
    )
    with caplog.at_level(logging.WARNING, logger="newsarchive.profiles"):
        profile = load_profile(path)
    assert profile.name == "old" and profile.domains == ["old.example"]
    assert not hasattr(profile, "platform")
    assert any("platform" in r.getMessage() and "ignored" in r.getMessage() for r in caplog.records)


def test_a_platform_spider_argument_is_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="newsarchive.profiles"):
        profile = profile_from_arguments({"domains": "a.example", "platform": "wordpress"})
    assert profile.domains == ["a.example"]
    assert any("platform" in r.getMessage() for r in caplog.records)


def test_an_unknown_field_is_still_an_error(tmp_path):
    path = write(tmp_path, 'name = "x"\ndomains = ["x.example"]\nplatfrom = "typo"\n')
    with pytest.raises(ProfileError, match="unknown profile fields: platfrom"):
        load_profile(path)


def test_the_bundled_gzero_profile_loads_without_warnings(caplog):
    with caplog.at_level(logging.WARNING, logger="newsarchive.profiles"):
        profile = load_profile("gzero")
    assert isinstance(profile, SiteProfile) and profile.allows("https://www.gzeromedia.com/x")
    assert not caplog.records

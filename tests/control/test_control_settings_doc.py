"""docs/settings.md is generated from the Settings model and must not go stale."""

from __future__ import annotations

from emulator.settings import Settings
from emulator.settings_doc import field_docstrings, render
from tests.conftest import ROOT


def test_docs_settings_md_is_up_to_date() -> None:
    expected = render()
    current = (ROOT / "docs" / "settings.md").read_text()

    assert current == expected, "docs/settings.md is stale: run `.venv/bin/python -m emulator.settings_doc > " \
                                "docs/settings.md`"


def test_every_setting_has_a_docstring_env_var_and_row() -> None:
    page = render()
    docs = field_docstrings(Settings)

    missing = [name for name in Settings.model_fields if not docs.get(name)]
    assert missing == [], f"settings without a docstring: {missing}"
    for name in Settings.model_fields:
        assert f"| `{name}` (" in page and f"`MMEMU_{name.upper()}`" in page


def test_secret_defaults_are_not_written() -> None:
    secret = Settings().s3_secret_access_key.get_secret_value()

    assert secret not in render()

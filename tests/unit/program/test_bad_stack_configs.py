"""Every case of the corpus (tests/bad_stack_configs.py) is refused by load_config at its key path, in its words.

The same corpus goes through the real `pulumi preview` in tests/e2e/test_bad_configs_preview.py.
"""

from __future__ import annotations

import pytest

from hci_config.errors import ConfigError
from hci_config.loader import load_config
from tests.bad_stack_configs import CASES, BadConfig
from tests.unit.program.program_stacks import ENV, dev_raw


def test_the_corpus_has_at_least_sixty_cases_each_named_once() -> None:
    names = [case.name for case in CASES]
    assert len(names) >= 60
    assert len(set(names)) == len(names)


def test_the_dev_stack_itself_loads() -> None:
    load_config(dev_raw(), env=ENV)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_at_its_key_path_in_its_words(case: BadConfig) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(case.apply(dev_raw()), env=ENV)
    problems = {p.path: p.message for p in info.value.problems}
    assert case.path in problems, f"no problem at {case.path}; got {problems}"
    if not case.pulumi:  # Pulumi words those itself (the e2e test checks its words)
        assert case.says in problems[case.path], problems[case.path]

"""The lifecycle transition table, independent of any database."""

from __future__ import annotations

import pytest

from terraplan.errors import LifecycleError
from terraplan.scenarios.lifecycle import (
    EDITABLE,
    TRANSITIONS,
    ScenarioStatus,
    check_editable,
    check_transition,
)

S = ScenarioStatus

ALLOWED = {
    (S.DRAFT, S.SOLVED), (S.DRAFT, S.ARCHIVED),
    (S.SOLVED, S.DRAFT), (S.SOLVED, S.SOLVED), (S.SOLVED, S.IN_REVIEW), (S.SOLVED, S.ARCHIVED),
    (S.IN_REVIEW, S.SOLVED), (S.IN_REVIEW, S.APPROVED), (S.IN_REVIEW, S.ARCHIVED),
    (S.APPROVED, S.IN_REVIEW), (S.APPROVED, S.ACTIVE), (S.APPROVED, S.ARCHIVED),
    (S.ACTIVE, S.ARCHIVED),
}


@pytest.mark.parametrize("src", list(S))
@pytest.mark.parametrize("dst", list(S))
def test_every_pair_is_allowed_exactly_when_documented(src: S, dst: S) -> None:
    if (src, dst) in ALLOWED:
        check_transition("x", src, dst)
        assert dst in TRANSITIONS[src]
    else:
        with pytest.raises(LifecycleError, match=f"is {src.value}; it cannot become {dst.value}"):
            check_transition("x", src, dst)


def test_only_draft_and_solved_are_editable() -> None:
    assert {S.DRAFT, S.SOLVED} == EDITABLE
    check_editable("x", "draft", "edit")
    with pytest.raises(LifecycleError, match="copy it to a child scenario"):
        check_editable("x", "approved", "edit")
    with pytest.raises(LifecycleError, match="send it back"):
        check_editable("x", "in_review", "edit")


def test_archived_is_final_and_active_cannot_be_reopened() -> None:
    assert TRANSITIONS[S.ARCHIVED] == frozenset()
    with pytest.raises(LifecycleError, match=r"allowed from archived: none \(final\)"):
        check_transition("x", S.ARCHIVED, S.DRAFT)
    with pytest.raises(LifecycleError, match="allowed from active: archived"):
        check_transition("x", S.ACTIVE, S.IN_REVIEW)

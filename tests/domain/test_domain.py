import numpy as np
import pytest

from terraplan.domain import (
    Account,
    AccountBook,
    Categorical,
    Plan,
    Rep,
    ScenarioSpec,
    to_cents,
)
from terraplan.domain.money import format_cents
from terraplan.errors import SpecError


def test_family_root_follows_chains():
    book = AccountBook.from_accounts([
        Account("a"), Account("b", parent_id="a"), Account("c", parent_id="b"), Account("d"),
    ])
    assert book.family_root().tolist() == [0, 0, 0, 3]


def test_book_is_read_only(six_accounts):
    book, _ = six_accounts
    with pytest.raises(ValueError):
        book.potential[0] = 1


def test_plan_aligns_to_a_book_in_another_order(six_accounts):
    book, roster = six_accounts
    plan = Plan.from_mapping({"a6": "r1", "a1": "r2"}, rep_ids=["r2", "r1"])
    owner = plan.aligned(book, roster)
    assert owner.tolist() == [1, -1, -1, -1, -1, 0]


def test_current_plan_maps_owner_ids(six_accounts):
    book, roster = six_accounts
    assert Plan.current(book, roster).owner.tolist() == [0, 0, 0, 1, 1, 1]


def test_rep_eligibility_empty_means_any():
    r = Rep("r", segments=frozenset({"ENT"}))
    assert r.admits("ENT", "Health", "West")
    assert not r.admits("SMB", "Health", "West")
    assert Rep("s").admits(None, None, None)


def test_categorical_round_trip():
    c = Categorical.from_values(["x", None, "y", "x"])
    assert c.codes.tolist() == [0, -1, 1, 0]
    assert c.values() == ["x", None, "y", "x"]


@pytest.mark.parametrize(("text", "cents"), [("1,234.50", 123450), ("$0.005", 1), ("12", 1200)])
def test_to_cents(text, cents):
    assert to_cents(text) == cents


def test_format_cents():
    assert format_cents(123456789) == "$1,234,567.89"
    assert format_cents(-5) == "-$0.05"


def test_spec_rejects_unknown_keys_with_their_path():
    with pytest.raises(SpecError) as e:
        ScenarioSpec.from_dict({"rules": {"balanse": []}})
    assert "rules.balanse" in str(e.value)


def test_spec_rejects_duplicate_balance_metrics():
    with pytest.raises(SpecError):
        ScenarioSpec.from_dict({"rules": {"balance": [{"metric": "potential"},
                                                       {"metric": "potential"}]}})


def test_metric_accessor(six_accounts):
    book, _ = six_accounts
    assert book.metric("accounts").sum() == 6
    np.testing.assert_array_equal(book.metric("potential"), [100, 200, 300, 400, 500, 600])

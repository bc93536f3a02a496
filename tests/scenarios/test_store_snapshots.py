"""Content hashing and round trips of input snapshots and plan blobs."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from terraplan.domain import (
    Account,
    AccountBook,
    Categorical,
    Point,
    Rep,
    RepRoster,
    RepStatus,
    ScenarioSpec,
)
from terraplan.scenarios.repository import PlanArrays, decode_plan, encode_plan
from terraplan.scenarios.snapshots import (
    decode_accounts,
    decode_reps,
    decode_spec,
    encode_accounts,
    encode_reps,
    encode_spec,
    hash_accounts,
)


def _with(book: AccountBook, **changes: object) -> AccountBook:
    fields = {f.name: getattr(book, f.name) for f in dataclasses.fields(book)
              if f.name != "_index"}
    fields.update(changes)
    return AccountBook(**fields)  # type: ignore[arg-type]


def _same_book(a: AccountBook, b: AccountBook) -> bool:
    return list(a) == list(b) and a.coord_system == b.coord_system


def test_account_book_round_trips_every_column(six_accounts) -> None:  # type: ignore[no-untyped-def]
    book, _ = six_accounts
    enc = encode_accounts(book)
    back = decode_accounts(enc.payload)
    assert enc.n_rows == 6 and enc.kind == "accounts"
    assert _same_book(book, back)
    assert back.potential.dtype == np.int64 and back.potential.tolist() == [
        100, 200, 300, 400, 500, 600]
    assert back.current_owner.values() == ["r1", "r1", "r1", "r2", "r2", "r2"]
    assert hash_accounts(back) == enc.sha256


def test_hash_is_by_value_not_by_category_code_order(six_accounts) -> None:  # type: ignore[no-untyped-def]
    book, _ = six_accounts
    owners = book.current_owner
    # same owners, categories listed the other way round, plus an unused category
    flipped = Categorical.from_codes(1 - owners.codes, ("r2", "r1", "unused"))
    assert flipped.values() == owners.values()
    assert hash_accounts(_with(book, current_owner=flipped)) == hash_accounts(book)


def test_hash_changes_with_any_value(six_accounts) -> None:  # type: ignore[no-untyped-def]
    book, _ = six_accounts
    base = hash_accounts(book)
    pot = book.potential.copy()
    pot[5] += 1
    assert hash_accounts(_with(book, potential=pot)) != base
    ids = book.ids.copy()
    ids[0] = "a1x"
    assert hash_accounts(_with(book, ids=ids)) != base
    seg = Categorical.from_values(["SMB"] * 5 + [None])
    assert hash_accounts(_with(book, segment=seg)) != base
    assert hash_accounts(_with(book, extra={"visits": np.arange(6, dtype=np.float64)})) != base


ids_st = st.lists(st.text(min_size=1, max_size=6), min_size=0, max_size=25, unique=True)


@settings(max_examples=25, deadline=None)
@given(ids=ids_st, data=st.data())
def test_random_books_round_trip_and_hash_stably(ids: list[str], data: st.DataObject) -> None:
    n = len(ids)
    cats = st.one_of(st.none(), st.sampled_from(["A", "B", "é", "Z z"]))
    accounts = [
        Account(
            id=aid, name=data.draw(st.text(max_size=5)),
            location=data.draw(st.one_of(st.none(), st.builds(
                Point, st.floats(-180, 180), st.floats(-90, 90)))),
            segment=data.draw(cats), region=data.draw(cats), current_owner=data.draw(cats),
            potential=data.draw(st.integers(0, 10**12)),
            workload=data.draw(st.floats(0, 1e4)),
            pipeline=data.draw(st.integers(0, 10**9)),
        )
        for aid in ids
    ]
    book = AccountBook.from_accounts(accounts)
    enc = encode_accounts(book)
    back = decode_accounts(enc.payload)
    assert len(back) == n
    assert _same_book(book, back)
    assert hash_accounts(back) == enc.sha256 == encode_accounts(back).sha256


def test_roster_round_trips_and_hash_ignores_set_order() -> None:
    from datetime import date

    reps = RepRoster.of([
        Rep(id="r1", name="Ann", segments=frozenset({"SMB", "MM"}), home=Point(1.5, 2.0),
            capacity=1200.0, target_share=1.2, status=RepStatus.DEPARTING,
            end_date=date(2027, 3, 31), ote=15_000_000, base_share=0.5),
        Rep(id="tbh1", status=RepStatus.PLANNED_HIRE),
    ])
    enc = encode_reps(reps)
    back = decode_reps(enc.payload)
    assert back.reps == reps.reps
    same = RepRoster.of([dataclasses.replace(reps[0], segments=frozenset({"MM", "SMB"})),
                         reps[1]])
    assert encode_reps(same).sha256 == enc.sha256
    assert encode_reps(RepRoster.of([reps[1], reps[0]])).sha256 != enc.sha256  # order matters


def test_spec_snapshot_ignores_name_and_description() -> None:
    a = ScenarioSpec(name="a", description="first")
    b = ScenarioSpec(name="b", description="second")
    assert encode_spec(a).sha256 == encode_spec(b).sha256
    c = ScenarioSpec.from_dict({"name": "a", "rules": {"balance": [{"metric": "workload"}]}})
    assert encode_spec(c).sha256 != encode_spec(a).sha256
    back = decode_spec(encode_spec(c).payload, "renamed", "d")
    assert back.name == "renamed" and back.rules == c.rules


def test_plan_blob_round_trips() -> None:
    plan = PlanArrays(np.asarray(["b", "a", "c"], dtype=object),
                      np.asarray([1, -1, 0], dtype=np.int32), ("r1", "r2"),
                      np.asarray([3, -1, 0], dtype=np.int16))
    back = decode_plan(encode_plan(plan))
    assert back.account_ids.tolist() == ["b", "a", "c"]
    assert back.owner.tolist() == [1, -1, 0]
    assert back.rep_ids == ("r1", "r2")
    assert back.reasons.tolist() == [3, -1, 0]
    assert back.owner_ids().tolist() == ["r2", None, "r1"]


def test_payloads_are_arrow_ipc_and_early_parquet_payloads_still_read(six_accounts) -> None:  # type: ignore[no-untyped-def]
    import io

    import pyarrow.parquet as pq

    from terraplan.scenarios.snapshots import read_table

    book, _ = six_accounts
    enc = encode_accounts(book)
    assert enc.payload[:6] == b"ARROW1" and enc.fmt == "arrow-ipc-zstd-v1"
    table = read_table(enc.payload)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    legacy = decode_accounts(buf.getvalue())
    assert _same_book(book, legacy)

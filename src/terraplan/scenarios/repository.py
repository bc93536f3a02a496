"""Data access of the scenario store beyond plain ORM: snapshots, bulk plan I/O, lookups.

Everything here takes an open :class:`~sqlalchemy.orm.Session` inside the caller's transaction,
so a use case that writes a solve run, a plan and a status change commits them together or not
at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from terraplan.scenarios.models import PlanRow, Scenario, Snapshot
from terraplan.scenarios.snapshots import Encoded, read_table, write_table

#: Rows per ``executemany`` batch on SQLite (and per progress callback on PostgreSQL).
BATCH_ROWS = 50_000

BatchCallback = Callable[[int, int], None]
"""Called after each written batch with ``(rows_written, rows_total)``."""


@dataclass(frozen=True, slots=True, eq=False)
class PlanArrays:
    """A stored plan as columns, in the order it was written (usually its book's row order).

    ``owner[i]`` indexes ``rep_ids`` (``-1`` = unassigned); ``reasons[i]`` is a
    :class:`~terraplan.domain.Reason` code or ``-1`` when unknown.
    """

    account_ids: npt.NDArray[np.object_]
    owner: npt.NDArray[np.int32]
    rep_ids: tuple[str, ...]
    reasons: npt.NDArray[np.int16]

    def __len__(self) -> int:
        return int(self.account_ids.shape[0])

    def owner_ids(self, idx: npt.NDArray[np.intp] | None = None) -> npt.NDArray[np.object_]:
        """Owner rep id per account (``None`` when unassigned), optionally for rows ``idx``."""
        lut = np.asarray([*self.rep_ids, None], dtype=object)
        return lut[self.owner if idx is None else self.owner[idx]]


def encode_plan(plan: PlanArrays, *, ids_in_book_order: bool = False) -> bytes:
    """The plan columns as a zstd Arrow IPC file (rep ids in the schema metadata).

    With ``ids_in_book_order`` the caller has checked that the plan lists exactly its input
    book's accounts in book order: the account ids are then not stored again (the book has
    them), which halves what a compare of two million-account plans has to decode.
    """
    cols: dict[str, pa.Array] = {
        "owner": pa.array(np.asarray(plan.owner, dtype=np.int32)),
        "reason": pa.array(np.asarray(plan.reasons, dtype=np.int16)),
    }
    if not ids_in_book_order:
        cols["account_id"] = pa.array(plan.account_ids, type=pa.large_string())
    meta = {"rep_ids": list(plan.rep_ids), "ids": "book" if ids_in_book_order else "inline"}
    table = pa.table(cols).replace_schema_metadata({"terraplan": json.dumps(meta)})
    return write_table(table)


def decode_plan(payload: bytes,
                book_ids: Callable[[], npt.NDArray[np.object_]] | None = None) -> PlanArrays:
    """Inverse of :func:`encode_plan`; ``book_ids`` supplies the ids of a book-order plan."""
    table = read_table(payload)
    meta = json.loads((table.schema.metadata or {}).get(b"terraplan", b"{}"))
    if meta.get("ids") == "book":
        if book_ids is None:
            raise ValueError("this plan is stored in book order; pass the book's ids")
        account_ids = book_ids()
    else:
        account_ids = np.asarray(table.column("account_id").to_numpy(), dtype=object)
    owner = np.asarray(table.column("owner").to_numpy(), dtype=np.int32)
    if len(account_ids) != len(owner):
        raise ValueError(f"plan has {len(owner)} owners for {len(account_ids)} accounts")
    return PlanArrays(
        account_ids=account_ids, owner=owner, rep_ids=tuple(meta.get("rep_ids", ())),
        reasons=np.asarray(table.column("reason").to_numpy(), dtype=np.int16),
    )


def read_plan(session: Session, plan_id: int,
              book_ids: Callable[[], npt.NDArray[np.object_]] | None = None) -> PlanArrays:
    """A stored plan's columns (from its Arrow IPC payload)."""
    payload = session.scalar(select(PlanRow.payload).where(PlanRow.id == plan_id))
    if payload is None:
        raise KeyError(plan_id)
    return decode_plan(payload, book_ids)


def get_or_create_snapshot(session: Session, enc: Encoded, actor: str) -> tuple[Snapshot, bool]:
    """The snapshot with ``enc``'s content hash, inserting it when new.

    Returns ``(snapshot, created)``. Two concurrent imports of the same content race on the unique
    ``(kind, sha256)`` constraint; the loser reuses the winner's row (savepoint + re-select).
    """
    stmt = select(Snapshot).where(Snapshot.kind == enc.kind, Snapshot.sha256 == enc.sha256)
    found = session.scalars(stmt).one_or_none()
    if found is not None:
        return found, False
    snap = Snapshot(kind=enc.kind, sha256=enc.sha256, fmt=enc.fmt, n_rows=enc.n_rows,
                    payload=enc.payload, meta=enc.meta, created_by=actor)
    try:
        with session.begin_nested():
            session.add(snap)
            session.flush()
    except IntegrityError:
        return session.scalars(stmt).one(), False
    return snap, True


def latest_plan_id(session: Session, scenario_id: int) -> int | None:
    """Id of the newest plan of a scenario (its current plan), or ``None``."""
    return session.scalar(select(func.max(PlanRow.id)).where(PlanRow.scenario_id == scenario_id))


def write_assignments(
    session: Session, plan_id: int, plan: PlanArrays, on_batch: BatchCallback | None = None,
) -> None:
    """Bulk-insert a plan's assignments in the session's transaction.

    PostgreSQL: ``COPY ... FROM STDIN`` through psycopg; SQLite: ``executemany`` in batches of
    :data:`BATCH_ROWS`. Both run on the session's own connection, so they commit or roll back
    with the rest of the use case.
    """
    n = len(plan)
    acc = plan.account_ids.tolist()
    reps = plan.owner_ids().tolist()
    rsn: list[Any] = [None if r < 0 else r for r in plan.reasons.tolist()]
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(
            "COPY assignments (plan_id, account_id, rep_id, reason) FROM STDIN"
        ) as copy:
            for start in range(0, n, BATCH_ROWS):
                stop = min(start + BATCH_ROWS, n)
                for i in range(start, stop):
                    copy.write_row((plan_id, acc[i], reps[i], rsn[i]))
                if on_batch is not None:
                    on_batch(stop, n)
        return
    sql = "INSERT INTO assignments (plan_id, account_id, rep_id, reason) VALUES (?, ?, ?, ?)"
    for start in range(0, n, BATCH_ROWS):
        stop = min(start + BATCH_ROWS, n)
        rows = list(zip([plan_id] * (stop - start), acc[start:stop], reps[start:stop],
                        rsn[start:stop], strict=True))
        conn.exec_driver_sql(sql, rows)
        if on_batch is not None:
            on_batch(stop, n)


def _placeholder(session: Session) -> str:
    return "?" if session.get_bind().dialect.name == "sqlite" else "%s"


def _order_by(session: Session) -> str:
    # codepoint order on both databases (PostgreSQL's default collation sorts by locale), so
    # pages follow the same order everywhere and match numpy's string ordering
    return "account_id" if session.get_bind().dialect.name == "sqlite" else 'account_id COLLATE "C"'


def page_assignments(
    session: Session, plan_id: int, *, after: str | None, limit: int, rep_id: str | None,
) -> list[tuple[str, str | None, int | None]]:
    """One page of a plan's assignments in account id order (keyset pagination)."""
    ph = _placeholder(session)
    where = [f"plan_id = {ph}"]
    params: list[Any] = [plan_id]
    if after is not None:
        where.append(f"account_id > {ph}" if ph == "?" else f'account_id COLLATE "C" > {ph}')
        params.append(after)
    if rep_id is not None:
        where.append(f"rep_id = {ph}")
        params.append(rep_id)
    params.append(int(limit))
    raw = session.connection().connection.driver_connection
    assert raw is not None
    cur = raw.cursor()
    try:
        cur.execute(f"SELECT account_id, rep_id, reason FROM assignments WHERE "
                    f"{' AND '.join(where)} ORDER BY {_order_by(session)} LIMIT {ph}",
                    tuple(params))
        return [(a, r, c) for a, r, c in cur.fetchall()]
    finally:
        cur.close()


def scenarios_by_status(session: Session, cycle_id: int, status: str) -> Iterator[Scenario]:
    yield from session.scalars(
        select(Scenario).where(Scenario.cycle_id == cycle_id, Scenario.status == status))

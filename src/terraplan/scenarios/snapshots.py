"""Content-addressed, immutable input snapshots: account books, rosters and scenario specs.

Each snapshot is identified by the sha256 of a *canonical* serialisation that depends only on the
content, never on how it is encoded for storage (the encoded bytes may change with the pyarrow
version; the hash must not). Account books are stored as zstd-compressed Arrow IPC files; rosters
and specs as canonical JSON.

Canonical account serialisation, hashed column by column in a fixed order: the column name, then
for text columns the null mask, the int64 offsets and the UTF-8 bytes of the values (categoricals
are hashed by *value* — the sorted categories in use, then the codes renumbered to that order —
so two books whose category codes differ only in order hash alike); for
numeric columns the little-endian bytes of the array; extra metrics in name order.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from terraplan.domain import (
    AccountBook,
    Categorical,
    CoordSystem,
    Point,
    Rep,
    RepRoster,
    RepStatus,
    ScenarioSpec,
)

ACCOUNTS_FORMAT = "arrow-ipc-zstd-v1"
JSON_FORMAT = "json-v1"
_CATEGORICALS = ("country", "region", "postal_code", "segment", "vertical",
                 "current_owner", "locked_to")
_EXTRA_PREFIX = "extra:"


@dataclass(frozen=True, slots=True)
class Encoded:
    """A snapshot ready to store: its kind, content hash, row count and payload bytes."""

    kind: str
    sha256: str
    fmt: str
    n_rows: int
    payload: bytes
    meta: dict[str, Any]


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- accounts ---------------------------------------------------------------------------------
def _text_array(values: npt.NDArray[np.object_]) -> pa.LargeStringArray:
    return pa.array(values, type=pa.large_string(), from_pandas=False)


def _hash_text(h: Any, arr: pa.Array) -> None:
    arr = arr.cast(pa.large_string()) if arr.type != pa.large_string() else arr
    n = len(arr)
    h.update(np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_).tobytes())
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    h.update((offsets - offsets[0]).astype("<i8").tobytes() if n else b"")
    if n and bufs[2] is not None:
        h.update(memoryview(bufs[2])[int(offsets[0]): int(offsets[-1])])


def _hash_categorical(h: Any, c: Categorical) -> None:
    # by value and independent of code order: keep the categories in use, sort them, and
    # renumber the codes to that order (pure numpy; no per-row strings)
    codes = np.asarray(c.codes, dtype=np.int64)
    used = np.unique(codes[codes >= 0])
    cats = np.asarray(c.categories, dtype=object)[used] if len(used) else np.empty(0, object)
    order = np.argsort(np.asarray(cats, dtype=str), kind="stable") if len(cats) else used
    rank = np.full(len(c.categories) + 1, -1, dtype=np.int64)
    rank[used[order]] = np.arange(len(used))
    canon = rank[codes]  # code -1 picks the trailing -1
    _hash_text(h, _text_array(cats[order] if len(cats) else cats))
    h.update(canon.astype("<i4").tobytes())


def hash_ids(ids: npt.NDArray[np.object_]) -> str:
    """sha256 of an id column alone: tells whether a plan lists exactly a book's accounts in
    the book's order (then the plan need not store the ids again)."""
    h = hashlib.sha256(b"terraplan-ids-v1\0")
    _hash_text(h, _text_array(ids))
    return h.hexdigest()


def hash_accounts(book: AccountBook) -> str:
    """sha256 of the canonical serialisation of ``book`` (see module docstring)."""
    h = hashlib.sha256(b"terraplan-accounts-v1\0")
    h.update(book.coord_system.value.encode() + b"\0")

    def tag(name: str) -> None:
        h.update(b"\0col:" + name.encode() + b"\0")

    for name in ("ids", "names"):
        tag(name)
        _hash_text(h, _text_array(getattr(book, name)))
    for name in ("x", "y", "potential", "workload", "parent", "pipeline"):
        tag(name)
        a = getattr(book, name)
        h.update(np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes())
    for name in _CATEGORICALS:
        tag(name)
        _hash_categorical(h, getattr(book, name))
    for name in sorted(book.extra):
        tag(_EXTRA_PREFIX + name)
        h.update(np.ascontiguousarray(book.extra[name], dtype="<f8").tobytes())
    return h.hexdigest()


def _dict_array(c: Categorical) -> pa.DictionaryArray:
    codes = np.asarray(c.codes, dtype=np.int32)
    indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(c.categories), type=pa.string()))


def encode_accounts(book: AccountBook) -> Encoded:
    """Encode ``book`` as a zstd Arrow IPC file with its content hash."""
    cols: dict[str, pa.Array] = {
        "id": _text_array(book.ids), "name": _text_array(book.names),
        "x": pa.array(book.x), "y": pa.array(book.y),
        "potential": pa.array(book.potential), "workload": pa.array(book.workload),
        "parent": pa.array(book.parent), "pipeline": pa.array(book.pipeline),
    }
    for name in _CATEGORICALS:
        cols[name] = _dict_array(getattr(book, name))
    for name in sorted(book.extra):
        cols[_EXTRA_PREFIX + name] = pa.array(book.extra[name])
    meta = {"coord_system": book.coord_system.value, "extra": sorted(book.extra),
            "ids_sha256": hash_ids(book.ids)}
    table = pa.table(cols).replace_schema_metadata({"terraplan": json.dumps(meta)})
    return Encoded("accounts", hash_accounts(book), ACCOUNTS_FORMAT, len(book),
                   write_table(table), meta)


def write_table(table: pa.Table) -> bytes:
    """Serialise a table as a zstd-compressed Arrow IPC file.

    Arrow IPC rather than Parquet: about the same size with zstd, and a million-account book
    reads back 3-4x faster (no Parquet page decoding), which compare and every solve pay.
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema,
                         options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def read_table(payload: bytes) -> pa.Table:
    """Inverse of :func:`write_table`; also reads the Parquet payloads of early stores."""
    if payload[:4] == b"PAR1":
        return pq.read_table(io.BytesIO(payload))
    return pa.ipc.open_file(pa.BufferReader(payload)).read_all()


def decode_accounts(payload: bytes) -> AccountBook:
    """Inverse of :func:`encode_accounts`."""
    table = read_table(payload).unify_dictionaries()
    raw = (table.schema.metadata or {}).get(b"terraplan", b"{}")
    meta = json.loads(raw)

    def col(name: str) -> pa.Array:
        return table.column(name).combine_chunks()

    def num(name: str, dtype: Any) -> npt.NDArray[Any]:
        return np.array(col(name).to_numpy(zero_copy_only=False), dtype=dtype)

    def text(name: str) -> npt.NDArray[np.object_]:
        return np.asarray(col(name).to_numpy(zero_copy_only=False), dtype=object)

    def cat(name: str) -> Categorical:
        arr = col(name)
        if not isinstance(arr, pa.DictionaryArray):  # pragma: no cover - defensive
            arr = arr.dictionary_encode()
        codes = arr.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return Categorical.from_codes(codes, arr.dictionary.to_pylist())

    return AccountBook(
        ids=text("id"), names=text("name"), x=num("x", np.float64), y=num("y", np.float64),
        country=cat("country"), region=cat("region"), postal_code=cat("postal_code"),
        segment=cat("segment"), vertical=cat("vertical"),
        potential=num("potential", np.int64), workload=num("workload", np.float64),
        current_owner=cat("current_owner"), parent=num("parent", np.int64),
        locked_to=cat("locked_to"), pipeline=num("pipeline", np.int64),
        extra={k: num(_EXTRA_PREFIX + k, np.float64) for k in meta.get("extra", [])},
        coord_system=CoordSystem(meta.get("coord_system", CoordSystem.LATLON.value)),
    )


# -- reps ---------------------------------------------------------------------------------------
def rep_to_json(rep: Rep) -> dict[str, Any]:
    return {
        "id": rep.id, "name": rep.name, "role": rep.role,
        "segments": sorted(rep.segments), "verticals": sorted(rep.verticals),
        "regions": sorted(rep.regions),
        "home": None if rep.home is None else [rep.home.x, rep.home.y],
        "capacity": rep.capacity, "target_share": rep.target_share, "status": rep.status.value,
        "start_date": None if rep.start_date is None else rep.start_date.isoformat(),
        "end_date": None if rep.end_date is None else rep.end_date.isoformat(),
        "ote": rep.ote, "base_share": rep.base_share,
    }


def rep_from_json(d: dict[str, Any]) -> Rep:
    home = d.get("home")
    return Rep(
        id=d["id"], name=d.get("name", ""), role=d.get("role", "AE"),
        segments=frozenset(d.get("segments", ())), verticals=frozenset(d.get("verticals", ())),
        regions=frozenset(d.get("regions", ())),
        home=None if home is None else Point(float(home[0]), float(home[1])),
        capacity=d.get("capacity"), target_share=d.get("target_share", 1.0),
        status=RepStatus(d.get("status", RepStatus.ACTIVE.value)),
        start_date=None if d.get("start_date") is None else date.fromisoformat(d["start_date"]),
        end_date=None if d.get("end_date") is None else date.fromisoformat(d["end_date"]),
        ote=d.get("ote"), base_share=d.get("base_share"),
    )


def encode_reps(roster: RepRoster) -> Encoded:
    payload = canonical_json([rep_to_json(r) for r in roster])
    return Encoded("reps", hashlib.sha256(b"terraplan-reps-v1\0" + payload).hexdigest(),
                   JSON_FORMAT, len(roster), payload, {})


def decode_reps(payload: bytes) -> RepRoster:
    return RepRoster.of([rep_from_json(d) for d in json.loads(payload)])


# -- spec ---------------------------------------------------------------------------------------
def spec_rules(spec: ScenarioSpec) -> dict[str, Any]:
    """The spec without its name and description: what makes two scenarios plan alike."""
    d = spec.model_dump(mode="json")
    d.pop("name", None)
    d.pop("description", None)
    return d


def encode_spec(spec: ScenarioSpec) -> Encoded:
    payload = canonical_json(spec_rules(spec))
    return Encoded("spec", hashlib.sha256(b"terraplan-spec-v1\0" + payload).hexdigest(),
                   JSON_FORMAT, 1, payload, {})


def decode_spec(payload: bytes, name: str, description: str) -> ScenarioSpec:
    data = json.loads(payload)
    data["name"] = name
    data["description"] = description
    return ScenarioSpec.from_dict(data, source=f"stored spec of scenario '{name}'")

"""Map the columns of a CRM export onto terraplan's field names.

Resolution order for each file column: (1) the spec's mapping (``inputs.account_columns`` /
``inputs.rep_columns``, user name -> our field) matched exactly, then loosely; (2) our field name
itself; (3) a common alias (``Account ID``, ``Latitude``, ``Owner`` ...). "Loosely" means
case-insensitively and ignoring spaces, underscores, hyphens and dots, so ``Postal Code``,
``postal_code`` and ``POSTALCODE`` all match ``postal_code``. A field claimed by the spec is never
claimed again by a name or an alias (the spec wins); two columns claiming one field at the same
level are an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from terraplan.errors import Problem, Severity

ACCOUNT_FIELDS = (
    "id", "name", "lat", "lon", "x", "y", "country", "region", "postal_code", "segment",
    "vertical", "potential", "workload", "current_owner", "parent_id", "locked_to", "pipeline",
)
REP_FIELDS = (
    "id", "name", "role", "segments", "verticals", "regions", "home_lat", "home_lon", "home_x",
    "home_y", "capacity", "target_share", "status", "start_date", "end_date", "ote", "base_share",
)

ACCOUNT_ALIASES = {
    "accountid": "id", "accountnumber": "id",
    "accountname": "name", "company": "name", "companyname": "name",
    "latitude": "lat", "longitude": "lon", "lng": "lon", "long": "lon",
    "zip": "postal_code", "zipcode": "postal_code", "postcode": "postal_code",
    "postal": "postal_code",
    "owner": "current_owner", "ownerid": "current_owner", "repid": "current_owner",
    "currentrep": "current_owner", "accountowner": "current_owner",
    "parent": "parent_id", "parentaccountid": "parent_id", "parentaccount": "parent_id",
    "lockedrep": "locked_to", "lock": "locked_to",
    "openpipeline": "pipeline", "industry": "vertical",
}
REP_ALIASES = {
    "repid": "id", "employeeid": "id", "repname": "name", "title": "role",
    "segment": "segments", "vertical": "verticals", "region": "regions",
    "lat": "home_lat", "latitude": "home_lat", "lon": "home_lon", "lng": "home_lon",
    "longitude": "home_lon", "x": "home_x", "y": "home_y",
    "capacityhours": "capacity", "share": "target_share", "weight": "target_share",
    "start": "start_date", "end": "end_date",
}


def norm(name: str) -> str:
    """Loose form of a column name: lower case, without spaces, ``_``, ``-`` or ``.``."""
    return re.sub(r"[\s_\-.]+", "", name.strip().lower())


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which file column feeds each field, and which file columns are unused."""

    fields: dict[str, str]  # our field -> file column
    unused: tuple[str, ...]
    problems: tuple[Problem, ...]


def map_columns(columns: Iterable[str], known: Iterable[str], aliases: Mapping[str, str],
                spec_map: Mapping[str, str], *, source: str, spec_key: str) -> ColumnMap:
    """Resolve ``columns`` of a file against the ``known`` fields (see the module docstring).

    ``spec_map`` targets must be ``known`` fields; others are reported as errors. Problems are
    file-level (``row=None``).
    """
    cols = list(columns)
    known_t = tuple(known)
    known_set = set(known_t)
    problems: list[Problem] = []
    fields: dict[str, str] = {}
    used: set[str] = set()

    def claim(field: str, col: str, how: str) -> None:
        if field in fields:
            problems.append(Problem(
                f"columns '{fields[field]}' and '{col}' both map to field '{field}' ({how}); "
                "keep one or map the other in the spec", column=col, code="ambiguous_column",
                source=source))
            return
        fields[field] = col
        used.add(col)

    # 1. the spec's mapping: exact names, then loose names
    by_norm: dict[str, list[str]] = {}
    for c in cols:
        by_norm.setdefault(norm(c), []).append(c)
    for user, ours in spec_map.items():
        if ours not in known_set:
            problems.append(Problem(
                f"{spec_key} maps '{user}' to '{ours}', which is not a field; expected one of "
                f"{', '.join(known_t)}", column=user, code="bad_mapping", source=source))
            continue
        if user in cols:
            hit: str | None = user
        else:
            cands = [c for c in by_norm.get(norm(user), []) if c not in used]
            hit = cands[0] if len(cands) == 1 else None
        if hit is None:
            problems.append(Problem(
                f"{spec_key} names column '{user}', which is not in the file",
                column=user, code="mapped_column_missing", severity=Severity.WARNING,
                source=source))
            continue
        claim(ours, hit, f"{spec_key}")
    # 2. our own names, 3. aliases — only for fields the spec did not claim
    known_norm = {norm(k): k for k in known_t}
    for level, table in (("by name", known_norm), ("by alias", dict(aliases))):
        pending: dict[str, list[str]] = {}
        for c in cols:
            if c in used:
                continue
            f = table.get(norm(c))
            if f is not None and f not in fields:
                pending.setdefault(f, []).append(c)
        for f, cs in pending.items():
            for c in cs:
                claim(f, c, level)
    unused = tuple(c for c in cols if c not in used)
    return ColumnMap(fields, unused, tuple(problems))

"""``/v1/inputs``: upload an accounts file and a reps file (CSV, Parquet or Excel).

The files go through the same reader and validation as ``terraplan import``/``validate``
(:func:`terraplan.io.load_data`): a bad upload is refused with one 422 problem listing every
problem found, each with its file, row, column and value. Good inputs become immutable,
content-addressed snapshots (an identical re-upload reuses them).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, Depends, File, UploadFile, status

from terraplan.api import auth
from terraplan.api.deps import workspace
from terraplan.api.problems import ApiProblem
from terraplan.api.routers._common import problem_responses
from terraplan.api.schemas import ImportOut, InputProblemOut, SnapshotOut
from terraplan.errors import InputValidationError, Problem, SpecError
from terraplan.services.workspace import Workspace

router = APIRouter(prefix="/v1/inputs", tags=["inputs"])

_SUFFIXES = {".csv", ".txt", ".tsv", ".parquet", ".pq", ".xlsx"}
_CHUNK = 1 << 20


def _save(upload: UploadFile, folder: Path, stem: str) -> tuple[Path, str]:
    name = upload.filename or f"{stem}.csv"
    suffix = Path(name).suffix.lower()
    if suffix not in _SUFFIXES:
        suffix = ".csv"  # unknown suffixes are read as CSV, as by the CLI
    path = folder / f"{stem}{suffix}"
    with path.open("wb") as f:
        shutil.copyfileobj(upload.file, f, _CHUNK)
    return path, Path(name).name


def _item(p: Problem, names: dict[str, str]) -> dict[str, Any]:
    # report the client's file names, never the server's temporary paths
    src = names.get(p.source or "", p.source)
    return InputProblemOut(severity=p.severity.value, code=p.code, source=src, row=p.row,
                           column=p.column, value=p.value, reason=p.reason).model_dump()


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ImportOut,
    summary="Upload accounts and reps",
    description="Multipart form with `accounts` and `reps` files (CSV, Parquet or .xlsx, by "
                "file name suffix) and an optional scenario `spec` (YAML) for column mappings "
                "and units. 422 lists every problem of both files (row, column, value).",
    responses=problem_responses("forbidden", "validation", "payload-too-large"),
)
def upload_inputs(
    accounts: UploadFile = File(description="Accounts file"),
    reps: UploadFile = File(description="Reps file"),
    spec: UploadFile | None = File(None, description="Scenario spec YAML (column mapping)"),
    p: auth.Principal = Depends(auth.planner),
    ws: Workspace = Depends(workspace),
) -> ImportOut:
    from terraplan.domain import ScenarioSpec
    from terraplan.io import load_data

    with tempfile.TemporaryDirectory(prefix="terraplan-upload-") as tmp:
        folder = Path(tmp)
        a_path, a_name = _save(accounts, folder, "accounts")
        r_path, r_name = _save(reps, folder, "reps")
        names = {str(a_path): a_name, str(r_path): r_name}
        sp = None
        if spec is not None:
            try:
                data = yaml.safe_load(spec.file.read().decode("utf-8")) or {}
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise SpecError(f"spec is not valid YAML: {exc}") from None
            sp = ScenarioSpec.from_dict(data, source=spec.filename or "spec")
        try:
            book, roster, report = load_data(a_path, r_path, sp, on_error="raise")
        except InputValidationError as exc:
            errors = [_item(x, names) for x in exc.errors]
            raise ApiProblem("validation", f"{len(errors)} problem(s) found in the input",
                             errors=errors) from None
        info = ws.import_inputs(book, roster, actor=p.actor, why="API upload")
        warnings = [InputProblemOut(**_item(w, names)) for w in report.warnings]
    return ImportOut(accounts=SnapshotOut.from_info(info.accounts),
                     reps=SnapshotOut.from_info(info.reps),
                     accounts_created=info.accounts_created, reps_created=info.reps_created,
                     warnings=warnings)


@router.get("", response_model=list[SnapshotOut], summary="List input snapshots",
            responses=problem_responses("forbidden"))
def list_inputs(
    _p: auth.Principal = Depends(auth.viewer), ws: Workspace = Depends(workspace),
) -> list[SnapshotOut]:
    return [SnapshotOut.from_info(s) for s in ws.list_snapshots() if s.kind != "spec"]

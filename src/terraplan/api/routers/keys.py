"""``/v1/keys`` (admin): create, list and revoke API keys — the same operations as
``terraplan keys``. The secret of a new key is in the creation response only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from terraplan.api import auth
from terraplan.api.deps import MAX_ID
from terraplan.api.routers._common import WRITE, problem_responses
from terraplan.api.schemas import KeyCreate, KeyCreatedOut, KeyListOut, KeyOut
from terraplan.services.keys import KeyStore

router = APIRouter(prefix="/v1/keys", tags=["keys"])


async def _keys(request: Request) -> KeyStore:
    ks: KeyStore = request.app.state.keys
    return ks


@router.get("", response_model=KeyListOut, summary="List API keys (never their secrets)",
            responses=problem_responses("forbidden"))
def list_keys(_p: auth.Principal = Depends(auth.admin),
              ks: KeyStore = Depends(_keys)) -> KeyListOut:
    return KeyListOut(items=[KeyOut.from_info(k) for k in ks.list()])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KeyCreatedOut,
             summary="Create an API key", description="The `secret` is shown once.",
             responses=problem_responses("forbidden", "validation"))
def create_key(body: KeyCreate, response: Response, p: auth.Principal = Depends(auth.admin),
               ks: KeyStore = Depends(_keys)) -> KeyCreatedOut:
    new = ks.create(body.name, body.role, actor=p.actor)
    response.headers["Location"] = f"/v1/keys/{new.info.id}"
    return KeyCreatedOut(**KeyOut.from_info(new.info).model_dump(), secret=new.secret)


@router.delete("/{key_id}", response_model=KeyOut, summary="Revoke an API key",
               description="Takes effect within a few seconds on every server process.",
               responses=problem_responses(*WRITE))
def revoke_key(key_id: Annotated[int, Path(ge=1, le=MAX_ID)], request: Request,
               p: auth.Principal = Depends(auth.admin),
               ks: KeyStore = Depends(_keys)) -> KeyOut:
    info = ks.revoke(key_id, actor=p.actor)
    request.app.state.auth.forget()
    return KeyOut.from_info(info)

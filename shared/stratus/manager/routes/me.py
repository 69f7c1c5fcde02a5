"""Who the bearer is: the console asks once after sign-in, to show what the role may see."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from stratus.adapters.sql.tokens import Role
from stratus.manager.auth import Reader
from stratus.manager.bodies import StrictJsonRoute

router = APIRouter(tags=["auth"], route_class=StrictJsonRoute)


class Me(BaseModel):
    name: str
    role: Role


@router.get("/me", response_model=Me)
def me(principal: Reader) -> Me:
    return Me(name=principal.name, role=principal.role)

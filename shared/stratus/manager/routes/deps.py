"""FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stratus.manager.kept import Kept
from stratus.manager.store import Store
from stratus.service.services import Services


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _kept(request: Request) -> Kept:
    kept: Kept = request.app.state.kept
    return kept


ServicesDep = Annotated[Services, Depends(_services)]
StoreDep = Annotated[Store, Depends(_store)]
KeptDep = Annotated[Kept, Depends(_kept)]

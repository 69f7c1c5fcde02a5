"""Accounts (admin manages them; credentials go in, never out but to services) and
their balances."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, SecretStr

from stratus.domain.accounts import Account, Balance, BalanceSnapshot
from stratus.domain.common import Identifier
from stratus.domain.records import Conflict
from stratus.manager.auth import Admin, Executor, Reader, Trader
from stratus.manager.bodies import StrictJsonRoute
from stratus.manager.numbers import Money
from stratus.manager.routes.deps import ServicesDep, StoreDep
from stratus.manager.schemas import (
    AccountIn,
    AccountPatch,
    Amount,
    Asset,
    Currency,
    Paged,
    Paging,
    paged,
)

router = APIRouter(tags=["accounts"], route_class=StrictJsonRoute)

AccountPath = Annotated[Identifier, Path(description="account id")]


class Credentials(BaseModel):
    account: str
    exchange_id: str
    api_key: str
    secret: str
    sandbox: bool
    demo: bool


class EquityOut(BaseModel):
    account: str
    currency: str
    equity: Money | None  # None: no balance in the account's currency yet


class BalanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    free: Amount
    used: Amount = Decimal(0)


@router.get("/accounts", response_model=Paged[Account])
def list_accounts(store: StoreDep, _: Reader, page: Paging) -> Paged[Account]:
    return paged(*store.accounts.find(page), page)


@router.post("/accounts", response_model=Account, status_code=201)
def create_account(body: AccountIn, store: StoreDep, principal: Admin) -> Account:
    return store.accounts.create(
        body.account,
        body.api_key.get_secret_value(),
        body.secret.get_secret_value(),
        actor=principal.name,
        **body.public(),
    )


@router.get("/accounts/{account}", response_model=Account)
def get_account(account: AccountPath, store: StoreDep, _: Reader) -> Account:
    return store.accounts.get(account)


@router.patch("/accounts/{account}", response_model=Account)
def update_account(
    account: AccountPath, body: AccountPatch, store: StoreDep, principal: Admin
) -> Account:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    for name in ("api_key", "secret"):
        if isinstance(changes.get(name), SecretStr):
            changes[name] = changes[name].get_secret_value()
    return store.accounts.update(account, changes, body.version, actor=principal.name)


@router.delete("/accounts/{account}", status_code=204)
def delete_account(account: AccountPath, store: StoreDep, principal: Admin) -> Response:
    store.accounts.delete(account, actor=principal.name)
    return Response(status_code=204)


@router.get("/accounts/{account}/credentials", response_model=Credentials)
def credentials(account: AccountPath, store: StoreDep, principal: Executor) -> Credentials:
    """Decrypted exchange credentials, for the executor's service identity only (the
    functions' service account); people, admins included, never get them back. Every
    read is audited."""
    try:
        found = store.accounts.exchange_account(account, reader=principal.name)
    except KeyError:
        raise HTTPException(404, f"account {account!r} not found") from None
    return Credentials(
        account=found.account,
        exchange_id=found.exchange_id,
        api_key=found.api_key,
        secret=found.secret,
        sandbox=found.sandbox,
        demo=found.demo,
    )


@router.get("/balances", response_model=Paged[Balance], tags=["balances"])
def list_balances(
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    asset: Asset | None = None,
) -> Paged[Balance]:
    return paged(*store.funds.balances(page, account, asset), page)


@router.get("/balances/snapshots", response_model=Paged[BalanceSnapshot], tags=["balances"])
def list_balance_snapshots(
    store: StoreDep,
    _: Reader,
    page: Paging,
    account: Identifier | None = None,
    asset: Currency | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Paged[BalanceSnapshot]:
    """Exchange balances as the scheduled snapshots recorded them (POST
    /positions/snapshots), taken in [since, until), newest first."""
    found = store.funds.balance_snapshots(page, account, asset, since, until)
    return paged(*found, page)


@router.get("/accounts/{account}/equity", response_model=EquityOut, tags=["balances"])
def account_equity(account: AccountPath, store: StoreDep, _: Reader) -> EquityOut:
    """What allocations and the order-to-balance risk ratio are checked against: the
    account's balance in its currency (from the exchange, or by hand on paper)."""
    found = store.accounts.get(account)
    return EquityOut(account=account, currency=found.currency, equity=store.funds.equity(account))


@router.get("/accounts/{account}/balances", response_model=Paged[Balance], tags=["balances"])
def account_balances(
    account: AccountPath, store: StoreDep, _: Reader, page: Paging
) -> Paged[Balance]:
    store.accounts.get(account)
    return paged(*store.funds.balances(page, account), page)


@router.put("/accounts/{account}/balances/{asset}", response_model=Balance, tags=["balances"])
def put_balance(
    account: AccountPath,
    asset: Asset,
    body: BalanceIn,
    store: StoreDep,
    services: ServicesDep,
    principal: Trader,
) -> Balance:
    """Set a paper account's balance by hand (source "manual": the paper venue's own
    balances never replace it). A real exchange account's balances come from its
    exchange only: 409 balance_from_exchange."""
    found = store.accounts.get(account)
    if services.settings.exchange != "paper" and found.exchange_id != "paper":
        raise Conflict(
            "balance_from_exchange",
            f"{account} trades on {found.exchange_id}: its balances come from the exchange",
        )
    return store.funds.put_balance(account, asset, body.free, body.used, actor=principal.name)

"""Accounts (admin manages them; credentials go in, never out but to services) and
their balances."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Self

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    model_validator,
)

from stratus.domain.accounts import Account, Balance, BalanceSnapshot
from stratus.domain.common import Identifier
from stratus.manager.auth import Admin, Executor, Reader, Trader
from stratus.manager.routes.deps import StoreDep
from stratus.manager.schemas import Amount, Asset, Currency, Paged, Paging, Text, paged

router = APIRouter(tags=["accounts"])

ExchangeId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")]
Credential = Annotated[SecretStr, Field(min_length=1, max_length=512)]
AccountPath = Annotated[Identifier, Path(description="account id")]


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: Identifier
    exchange_id: ExchangeId = Field(description='ccxt exchange id, or "paper"')
    label: Text = ""
    currency: Asset = Field(default="USDT", description="equity and allocations are in it")
    sandbox: bool = False
    demo: bool = False
    api_key: Credential
    secret: Credential


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exchange_id: ExchangeId | None = None
    label: Text | None = None
    currency: Asset | None = None
    sandbox: bool | None = None
    demo: bool | None = None
    api_key: Credential | None = None
    secret: Credential | None = None
    version: int | None = Field(default=None, ge=1, le=2**31 - 1, description="expected version")

    @model_validator(mode="after")
    def _omitted_not_null(self) -> Self:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls and nulls != ["version"]:
            raise ValueError(f"fields may be omitted but not null: {', '.join(sorted(nulls))}")
        return self


class Credentials(BaseModel):
    account: str
    exchange_id: str
    api_key: str
    secret: str
    sandbox: bool
    demo: bool


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
        exchange_id=body.exchange_id,
        label=body.label,
        currency=body.currency,
        sandbox=body.sandbox,
        demo=body.demo,
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


@router.get("/accounts/{account}/balances", response_model=Paged[Balance], tags=["balances"])
def account_balances(
    account: AccountPath, store: StoreDep, _: Reader, page: Paging
) -> Paged[Balance]:
    store.accounts.get(account)
    return paged(*store.funds.balances(page, account), page)


@router.put("/accounts/{account}/balances/{asset}", response_model=Balance, tags=["balances"])
def put_balance(
    account: AccountPath, asset: Asset, body: BalanceIn, store: StoreDep, principal: Trader
) -> Balance:
    return store.funds.put_balance(account, asset, body.free, body.used, actor=principal.name)

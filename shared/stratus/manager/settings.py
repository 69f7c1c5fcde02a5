"""The manager's own settings (STRATUS_MANAGER_*), beside the shared Settings."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from stratus.config import DEV_PLACEHOLDER

DEV_TOKEN_ID = "dev-admin"


class ManagerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STRATUS_MANAGER_", extra="ignore")

    audience: str = Field(
        default="",
        description="expected audience of Google ID tokens (the manager's URL); empty: "
        "ID tokens are not accepted",
    )
    service_accounts: dict[str, str] = Field(
        default_factory=dict,
        description="service account e-mail -> role (reader, trader or admin)",
    )
    dev_token: SecretStr = Field(
        default=SecretStr(f"stx_{DEV_PLACEHOLDER}"),
        description="admin token seeded in the local environment only",
    )

"""Terraform's IAM wiring of production sign-in (docs/deploy.md, "Sign-in"): the people
terraform names reach the manager through Cloud Run's IAM and get exactly the role they
are listed under; no hand-made token secret remains."""

from __future__ import annotations

import re

from tests.infra.test_terraform_structure import (
    _declared_secrets,
    expr,
    for_each,
    locals_,
    resource,
    variables,
)

ROLES = {"admins": "admin", "traders": "trader", "readers": "reader"}


def test_each_role_is_a_list_of_people() -> None:
    for name in ROLES:
        variable = variables()[name]
        assert expr(variable, "type") == "${list(string)}"
        assert expr(variable, "default") == "[]"
        condition = str(variable["validation"][0]["condition"])
        assert "^user:" in condition, f"{name} accepts only user: members"


def test_people_map_to_their_roles_the_highest_winning() -> None:
    people = expr(locals_(), "manager_people")
    entries = re.findall(
        r"forminvar\.(\w+):lower\(trimprefix\(m\w*,\"user:\"\)\)=>\"(\w+)\"",
        people.replace("member", "m"),
    )
    assert entries == [("readers", "reader"), ("traders", "trader"), ("admins", "admin")]
    assert people.startswith("${merge(")  # later wins: admin over trader over reader


def test_the_manager_reads_the_people_and_each_may_invoke_it() -> None:
    env = expr(locals_(), "manager_env")
    assert "STRATUS_MANAGER_PEOPLE=jsonencode(local.manager_people)" in env
    invoker = resource("google_cloud_run_v2_service_iam_member", "manager_people_invoker")
    assert for_each(invoker) == "${toset(concat(var.admins,var.traders,var.readers))}"
    assert expr(invoker, "role") == "roles/run.invoker"
    assert expr(invoker, "name") == "${google_cloud_run_v2_service.manager.name}"
    assert expr(invoker, "member") == "${each.key}"


def test_no_hand_made_token_secret() -> None:
    assert "manager-api-token" not in _declared_secrets()


def test_the_manager_may_throw_the_kill_switch() -> None:
    grant = resource("google_project_iam_member", "manager_firestore_user")
    assert expr(grant, "role") == "roles/datastore.user"
    assert "google_service_account.manager.member" in expr(grant, "member")

"""Structural checks of terraform/ against topology.yaml, schemas/ and functions/main.py.

Offline (no providers, no credentials): terraform is parsed with python-hcl2, functions/main.py
with `ast`. Terraform drives topics, functions and schedules with for_each over locals read
from topology.yaml, so these tests check two things:

1. the terraform resources really are driven by those locals (and wired to each other the
   right way: push subscription -> function, dead-letter policy -> dead-letter topic, ...);
2. the topology data itself is consistent with the code: every functions-framework target in
   functions/main.py is a topology function with the matching trigger kind and vice versa,
   every topic has a schema file, every schedule targets a scheduler-invoked function, every
   secret the code reads is declared.

Set STRATUS_FUNCTIONS_MAIN to check another main.py (e.g. a draft) instead of functions/main.py.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

hcl2 = pytest.importorskip("hcl2")

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "terraform"
TOPOLOGY_FILE = ROOT / "topology.yaml"
SCHEMAS = ROOT / "schemas"
MAIN_PY = Path(os.environ.get("STRATUS_FUNCTIONS_MAIN", ROOT / "functions" / "main.py"))
CODE_DIRS = [ROOT / "shared" / "stratus", ROOT / "functions", ROOT / "manager"]

# Secrets the Python side is known to read (contract with shared/stratus; see docs/deploy.md).
KNOWN_CODE_SECRETS = {"webhook-secrets", "master-key"}

# Secrets the code reads that production deliberately does not declare. Each needs a reason;
# delete the entry (and add the secret to the reading function's `secrets:` in topology.yaml)
# the day production reads it.
LOCAL_ONLY_SECRETS = {
    "exchange-accounts": "plain-JSON exchange keys for the local/emulator stack; production "
    "reads keys sealed with master-key from the manager (stratus.adapters.exchange_accounts)",
}

TRIGGER_SIGNATURE = {
    "topic": "cloud_event",
    "topics": "cloud_event",
    "public": "http",
    "scheduler": "http",
}


# --- loading ----------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    # python-hcl2 >= 7 keeps the quotes of string literals and block labels; older versions
    # strip them. Normalise to the unquoted form.
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            _unquote(key): _clean(item)
            for key, item in value.items()
            if not (key.startswith("__") and key.endswith("__"))
        }
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, str):
        return _unquote(value)
    return value


def _squash(text: str) -> str:
    """An expression without whitespace, for comparisons that ignore formatting."""
    return re.sub(r"\s+", "", text)


@cache
def terraform_files() -> dict[str, dict[str, Any]]:
    files = sorted(TERRAFORM.glob("*.tf"))
    assert files, f"no terraform files in {TERRAFORM}"
    parsed = {}
    for path in files:
        with path.open() as handle:
            parsed[path.name] = _clean(hcl2.load(handle))
    return parsed


@cache
def resources() -> dict[str, dict[str, dict[str, Any]]]:
    """{resource type: {resource name: body}} over all files."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in terraform_files().values():
        for entry in doc.get("resource", []):
            for rtype, named in entry.items():
                for rname, body in named.items():
                    assert rname not in found.get(rtype, {}), f"duplicate {rtype}.{rname}"
                    found.setdefault(rtype, {})[rname] = body
    return found


@cache
def locals_() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for doc in terraform_files().values():
        for block in doc.get("locals", []):
            for key, value in block.items():
                assert key not in merged, f"local.{key} defined twice"
                merged[key] = value
    return merged


@cache
def variables() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for doc in terraform_files().values():
        for entry in doc.get("variable", []):
            out.update(entry)
    return out


@cache
def topology() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(TOPOLOGY_FILE.read_text())
    return data


def resource(rtype: str, rname: str) -> dict[str, Any]:
    named = resources().get(rtype, {})
    assert rname in named, f"terraform has no {rtype}.{rname} (has: {sorted(named)})"
    return named[rname]


def block(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """The (first) nested block at `path`, e.g. block(fn, "build_config")."""
    current = body
    for key in path:
        value = current.get(key)
        assert value, f"missing block {'.'.join(path)} (at {key})"
        current = value[0] if isinstance(value, list) else value
    return current


def expr(body: dict[str, Any], key: str) -> str:
    assert key in body, f"missing attribute {key}"
    value = body[key]
    return _squash(value if isinstance(value, str) else json.dumps(value))


def for_each(body: dict[str, Any]) -> str:
    return expr(body, "for_each")


# --- functions/main.py --------------------------------------------------------------------


def _decorator_kind(node: ast.expr, aliases: set[str], imported: dict[str, str]) -> str | None:
    """The kind ("http" or "cloud_event") if `node` is functions_framework's decorator."""
    if isinstance(node, ast.Call):  # e.g. @functions_framework.http() would be a mistake,
        node = node.func  # but classify it anyway so the signature test reports it
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr in {"http", "cloud_event"}
    ):
        return node.attr
    if isinstance(node, ast.Name) and node.id in imported:
        return imported[node.id]
    return None


@cache
def main_py_targets() -> dict[str, str] | None:
    """{target name: "http" | "cloud_event"} from functions/main.py, or None if it is missing."""
    if not MAIN_PY.is_file():
        return None
    tree = ast.parse(MAIN_PY.read_text(), filename=str(MAIN_PY))
    module_aliases: set[str] = set()
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "functions_framework":
                    module_aliases.add(alias.asname or alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module == "functions_framework":
            for alias in node.names:
                if alias.name in {"http", "cloud_event"}:
                    imported[alias.asname or alias.name] = alias.name
    targets: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            kinds = {
                kind
                for decorator in node.decorator_list
                if (kind := _decorator_kind(decorator, module_aliases, imported))
            }
            if kinds:
                assert len(kinds) == 1, f"{node.name} has both http and cloud_event decorators"
                targets[node.name] = kinds.pop()
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            # on_signal = functions_framework.cloud_event(_handler)
            kind = _decorator_kind(node.value.func, module_aliases, imported)
            if kind:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        targets[target.id] = kind
    return targets


def trigger_kind(function: dict[str, Any]) -> str:
    """The trigger kind: "topic", "topics", "public" or "scheduler"; fails on anything
    else."""
    trigger = function.get("trigger") or {}
    kinds = [k for k in ("topic", "topics", "http") if k in trigger]
    assert len(kinds) == 1, f"trigger must have exactly one of topic/topics/http, got {trigger}"
    if kinds[0] in ("topic", "topics"):
        return kinds[0]
    assert trigger["http"] in {"public", "scheduler"}, f"unknown http trigger {trigger['http']!r}"
    return str(trigger["http"])


def _function_names() -> list[str]:
    names = set(topology()["functions"])
    targets = main_py_targets()
    if targets:
        names |= set(targets)
    return sorted(names)


# --- topology -> terraform locals ---------------------------------------------------------


def test_topology_locals_are_read_from_topology_yaml() -> None:
    loc = locals_()
    assert expr(loc, "topology") == '${yamldecode(file("${path.module}/../topology.yaml"))}'
    for key in ("topics", "functions", "schedules", "retry"):
        want = "${local.topology." + key + "}"
        assert expr(loc, key) == want, f"local.{key} must come from local.topology"


def test_trigger_partition_locals_select_on_the_trigger() -> None:
    loc = locals_()
    assert "trigger.topic" in expr(loc, "topic_functions")
    assert "trigger.http" in expr(loc, "public_functions")
    assert '"public"' in expr(loc, "public_functions")
    assert "trigger.http" in expr(loc, "scheduled_functions")
    assert '"scheduler"' in expr(loc, "scheduled_functions")
    assert "-dead-letter" in expr(loc, "dead_letter_topics")
    assert "local.topics" in expr(loc, "dead_letter_topics")
    assert "topic.schema" in expr(loc, "schema_names")


def test_every_function_has_exactly_one_known_trigger_kind() -> None:
    for name, function in topology()["functions"].items():
        try:
            trigger_kind(function)
        except AssertionError as error:
            pytest.fail(f"topology function {name}: {error}")


def test_topology_references_exist() -> None:
    topo = topology()
    for name, function in topo["functions"].items():
        for topic in function.get("publishes", []):
            assert topic in topo["topics"], f"{name} publishes to unknown topic {topic}"
        heard = [function["trigger"].get("topic"), *function["trigger"].get("topics", [])]
        for topic in filter(None, heard):
            assert topic in topo["topics"], f"{name} triggers on unknown topic {topic}"


def test_no_topology_name_is_retyped_in_terraform() -> None:
    topo = topology()
    names = set(topo["topics"]) | set(topo["functions"]) | set(topo["schedules"])
    names |= {f"{topic}-dead-letter" for topic in topo["topics"]}
    names |= {name.replace("_", "-") for name in topo["functions"]}
    offenders = []
    for path in TERRAFORM.glob("*.tf"):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            code = re.sub(r"(#|//).*$", "", line)
            for literal in re.findall(r'"([^"$]*)"', code):
                if literal in names:
                    offenders.append(f"{path.name}:{lineno}: {literal!r}")
    assert not offenders, "topology names typed as literals:\n" + "\n".join(offenders)


# --- functions ----------------------------------------------------------------------------


def test_functions_main_py_exists() -> None:
    assert main_py_targets() is not None, f"{MAIN_PY} not found: cannot check function targets"
    assert main_py_targets(), f"{MAIN_PY} defines no functions_framework targets"


@pytest.mark.parametrize("name", _function_names())
def test_function_target_matches_topology(name: str) -> None:
    functions = topology()["functions"]
    targets = main_py_targets()
    if targets is None:
        pytest.fail(f"{MAIN_PY} not found")
    assert name in functions, f"{MAIN_PY.name} target {name} is not in topology.yaml (not deployed)"
    assert name in targets, (
        f"topology.yaml deploys {name} but {MAIN_PY.name} has no @functions_framework target {name}"
    )
    want = TRIGGER_SIGNATURE[trigger_kind(functions[name])]
    assert targets[name] == want, (
        f"{name} is triggered by {functions[name]['trigger']} so it must be "
        f"@functions_framework.{want}, not .{targets[name]}"
    )


def test_cloud_function_resource_is_driven_by_topology() -> None:
    functions = resources().get("google_cloudfunctions2_function", {})
    assert list(functions) == ["function"], "exactly one for_each'd google_cloudfunctions2_function"
    assert not resources().get("google_cloudfunctions_function"), "no gen1 functions"
    body = functions["function"]
    assert for_each(body) == "${local.functions}"
    assert expr(block(body, "build_config"), "entry_point") == "${each.key}"
    assert "local.function_resource_names[each.key]" in expr(body, "name")
    assert "event_trigger" not in body, "topic triggers are explicit push subscriptions (pubsub.tf)"
    service = block(body, "service_config")
    assert "google_service_account.function[each.key]" in expr(service, "service_account_email")
    ingress = expr(service, "ingress_settings")
    assert "local.public_functions" in ingress
    assert "local.public_ingress" in ingress
    assert '"ALLOW_INTERNAL_ONLY"' in ingress
    assert "local.pushed_functions" in expr(service, "timeout_seconds")
    assert "local.retry.ack_deadline_seconds" in expr(service, "timeout_seconds")


@pytest.mark.parametrize("name", sorted(topology()["functions"]))
def test_function_is_wired_to_its_trigger(name: str) -> None:
    function = topology()["functions"][name]
    kind = trigger_kind(function)
    if kind == "topic":
        sub = resource("google_pubsub_subscription", "function")
        assert for_each(sub) == "${local.topic_functions}"
        assert expr(sub, "topic") == "${google_pubsub_topic.topic[each.value.trigger.topic].id}"
        push = block(sub, "push_config")
        assert "google_cloudfunctions2_function.function[each.key]" in expr(push, "push_endpoint")
        oidc = block(push, "oidc_token")
        assert "google_service_account.pubsub_push" in expr(oidc, "service_account_email")
        assert "google_cloudfunctions2_function.function[each.key]" in expr(oidc, "audience")
        dead = block(sub, "dead_letter_policy")
        assert expr(dead, "dead_letter_topic") == (
            "${google_pubsub_topic.dead_letter[each.value.trigger.topic].id}"
        )
        assert expr(dead, "max_delivery_attempts") == "${local.retry.max_delivery_attempts}"
        # Publishers key messages by account and symbol; delivery must keep that order.
        assert sub["enable_message_ordering"] is True, "ordering keys need ordered delivery"
        retry = block(sub, "retry_policy")
        assert "local.retry.minimum_backoff_seconds" in expr(retry, "minimum_backoff")
        assert "local.retry.maximum_backoff_seconds" in expr(retry, "maximum_backoff")
        invoker = resource("google_cloud_run_v2_service_iam_member", "push_invoker")
        assert for_each(invoker) == "${local.pushed_functions}"
        assert "google_service_account.pubsub_push" in expr(invoker, "member")
        # The Pub/Sub service agent can forward to the DLQ and ack the source subscription.
        dlq_publisher = resource("google_pubsub_topic_iam_member", "dead_letter_publisher")
        assert for_each(dlq_publisher) == "${local.dead_letter_topics}"
        dlq_subscriber = resource("google_pubsub_subscription_iam_member", "dead_letter_subscriber")
        assert for_each(dlq_subscriber) == "${local.topic_functions}"
    elif kind == "topics":
        loc = locals_()
        assert "trigger.topics" in expr(loc, "listening_functions")
        heard = expr(loc, "listening_subscriptions")
        assert "fn.trigger.topics" in heard
        assert "trigger.dead_letters" in heard
        assert "local.dead_letter_topics" in heard
        sub = resource("google_pubsub_subscription", "listening")
        assert for_each(sub) == "${local.listening_subscriptions}"
        push = block(sub, "push_config")
        assert "google_cloudfunctions2_function.function[each.value.function]" in expr(
            push, "push_endpoint"
        )
        assert "/topics/${each.value.topic}" in expr(push, "push_endpoint")
        oidc = block(push, "oidc_token")
        assert "google_service_account.pubsub_push" in expr(oidc, "service_account_email")
        dead = sub["dynamic"][0]["dead_letter_policy"]
        assert "each.value.flow" in dead["for_each"]
        invoker = resource("google_cloud_run_v2_service_iam_member", "push_invoker")
        assert "local.listening_functions" in expr(loc, "pushed_functions")
        assert for_each(invoker) == "${local.pushed_functions}"
        publisher = resource("google_pubsub_topic_iam_member", "listening_dead_letter_publisher")
        assert "local.listening_subscriptions" in for_each(publisher)
        concurrency = function.get("concurrency", 1)
        service = block(resource("google_cloudfunctions2_function", "function"), "service_config")
        assert "each.value.concurrency" in expr(service, "max_instance_request_concurrency")
        assert concurrency > 1, "a listening function gathers bursts by serving them at once"
    elif kind == "public":
        invoker = resource("google_cloud_run_v2_service_iam_member", "public_invoker")
        assert for_each(invoker) == "${local.public_functions}"
        assert expr(invoker, "member") == "allUsers"
    else:
        schedules = [s for s, spec in topology()["schedules"].items() if spec["function"] == name]
        assert schedules, f"{name} is scheduler-invoked but no schedule in topology.yaml targets it"
        invoker = resource("google_cloud_run_v2_service_iam_member", "scheduler_invoker")
        assert "local.schedules" in for_each(invoker)
        assert "google_service_account.scheduler" in expr(invoker, "member")


@pytest.mark.parametrize("name", sorted(topology()["functions"]))
def test_function_publishes_and_reads_only_what_topology_says(name: str) -> None:
    publisher = resource("google_pubsub_topic_iam_member", "function_publisher")
    assert for_each(publisher) == "${local.function_publishes}"
    assert expr(publisher, "topic") == "${google_pubsub_topic.topic[each.value.topic].name}"
    assert "google_service_account.function[each.value.function]" in expr(publisher, "member")
    accessor = resource("google_secret_manager_secret_iam_member", "function_accessor")
    assert for_each(accessor) == "${local.function_secrets}"
    assert "google_secret_manager_secret.secret[each.value.secret]" in expr(accessor, "secret_id")
    function = topology()["functions"][name]
    assert isinstance(function.get("publishes", []), list)
    assert isinstance(function.get("secrets", []), list)
    assert "fn.publishes" in expr(locals_(), "function_publishes")
    assert "fn.secrets" in expr(locals_(), "function_secrets")


def test_one_service_account_per_function() -> None:
    sa = resource("google_service_account", "function")
    assert for_each(sa) == "${local.functions}"
    for name in topology()["functions"]:
        account_id = "fn-" + name.replace("_", "-")
        assert re.fullmatch(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", account_id), (
            f"{name} gives an invalid service account id {account_id}"
        )


# --- topics -------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", sorted(topology()["topics"]))
def test_topic_has_schema_and_dead_letter_topic(topic: str) -> None:
    spec = topology()["topics"][topic]
    schema_name = spec["schema"]
    schema_file = SCHEMAS / f"{schema_name}.avsc"
    assert schema_file.is_file(), f"topic {topic}: schema file {schema_file} missing"
    schema = json.loads(schema_file.read_text())
    assert schema.get("type") == "record", f"{schema_file.name} must be an Avro record"
    assert schema.get("name") == schema_name, f"{schema_file.name} must be named {schema_name}"
    assert not topic.endswith("-dead-letter"), "dead-letter topics are derived, not listed"
    assert f"{topic}-dead-letter" not in topology()["topics"]

    schemas = resource("google_pubsub_schema", "schema")
    assert for_each(schemas) == "${local.schema_names}"
    assert expr(schemas, "type") == "AVRO"
    assert expr(schemas, "definition") == '${file("${path.module}/../schemas/${each.key}.avsc")}'

    main = resource("google_pubsub_topic", "topic")
    assert for_each(main) == "${local.topics}"
    assert expr(main, "name") == "${each.key}"
    settings = block(main, "schema_settings")
    assert expr(settings, "schema") == "${google_pubsub_schema.schema[each.value.schema].id}"
    assert expr(settings, "encoding") == "JSON"  # stratus.contracts.codec sends Avro JSON

    dead = resource("google_pubsub_topic", "dead_letter")
    assert for_each(dead) == "${local.dead_letter_topics}"
    assert expr(dead, "name") == "${each.value}"
    assert "schema_settings" not in dead, "dead-letter topics are schemaless"
    holding = resource("google_pubsub_subscription", "dead_letter")
    assert for_each(holding) == "${local.dead_letter_topics}"


# --- secrets ------------------------------------------------------------------------------


def _declared_secrets() -> set[str]:
    loc = locals_()
    secret_ids = expr(loc, "secret_ids")
    assert "fn.secrets" in secret_ids
    assert "local.manager_secrets" in secret_ids
    manager = loc["manager_secrets"]
    assert isinstance(manager, list), "local.manager_secrets must be a literal list"
    topology_secrets = {s for fn in topology()["functions"].values() for s in fn.get("secrets", [])}
    return topology_secrets | {str(s) for s in manager}


def _module_name(path: Path) -> str:
    """Dotted module name: shared/stratus/crypto.py -> stratus.crypto, functions/main.py -> main."""
    base = ROOT / "shared" if path.is_relative_to(ROOT / "shared") else path.parent
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "literal" assignments."""
    constants: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = value.value
    return constants


def _imports(tree: ast.Module) -> dict[str, tuple[str, str | None]]:
    """Local name -> (module, attribute) for `import m as x` (attribute None) and
    `from m import a as x` (a module or an attribute of m; both are recorded)."""
    names: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name] = (alias.name, None)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = (node.module, alias.name)
    return names


def _secrets_read_by_code() -> Iterator[tuple[str, str]]:
    """Names passed to `<...secrets>.get(...)` or `get_secret(...)` anywhere in the code, as a
    literal or as a string constant (WEBHOOK_SECRETS = "webhook-secrets"), resolved through
    the module's own constants and its imports (from stratus.crypto import SECRET_NAME)."""
    trees = {
        path: ast.parse(path.read_text(errors="replace"), filename=str(path))
        for directory in CODE_DIRS
        if directory.is_dir()
        for path in directory.rglob("*.py")
    }
    constants = {_module_name(path): _string_constants(tree) for path, tree in trees.items()}

    def resolve(arg: ast.expr, module: str, imports: dict[str, tuple[str, str | None]]) -> str:
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
        if isinstance(arg, ast.Name):
            if arg.id in constants.get(module, {}):
                return constants[module][arg.id]
            source, attribute = imports.get(arg.id, ("", None))
            if attribute and attribute in constants.get(source, {}):
                return constants[source][attribute]
        if isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
            source, attribute = imports.get(arg.value.id, ("", None))
            owner = f"{source}.{attribute}" if attribute else source
            if arg.attr in constants.get(owner, {}):
                return constants[owner][arg.attr]
        return ""  # a computed name: nothing to check statically

    for path, tree in trees.items():
        module, imports = _module_name(path), _imports(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "get":
                if not ast.unparse(func.value).lower().endswith("secrets"):
                    continue
            elif not (isinstance(func, ast.Name) and func.id in {"get_secret", "read_secret"}):
                continue
            name = resolve(node.args[0], module, imports)
            if name:
                yield name, f"{path.relative_to(ROOT)}:{node.lineno}"


def test_secret_resource_is_driven_by_declared_secrets() -> None:
    secrets = resource("google_secret_manager_secret", "secret")
    assert for_each(secrets) == "${local.secret_ids}"
    assert expr(secrets, "secret_id") == "${each.key}"
    assert not resources().get("google_secret_manager_secret_version"), (
        "secret values must not pass through terraform state"
    )
    manager = resource("google_secret_manager_secret_iam_member", "manager_accessor")
    assert "local.manager_secrets" in for_each(manager)


def test_only_the_manager_reads_the_master_key() -> None:
    """Functions get exchange keys decrypted by the manager, as their service identity:
    none of them may read the key that decrypts them all."""
    readers = [
        name
        for name, fn in topology()["functions"].items()
        if "master-key" in fn.get("secrets", [])
    ]
    assert readers == []
    assert "master-key" in locals_()["manager_secrets"]


def test_every_secret_the_code_reads_is_declared() -> None:
    declared = _declared_secrets()
    topology_secrets = {s for fn in topology()["functions"].values() for s in fn.get("secrets", [])}
    assert topology_secrets <= declared
    assert declared >= KNOWN_CODE_SECRETS, f"missing {KNOWN_CODE_SECRETS - declared}"
    assert not declared & set(LOCAL_ONLY_SECRETS), "a declared secret cannot be local-only"
    read = list(_secrets_read_by_code())
    missing = {
        f"{name} ({where})"
        for name, where in read
        if name not in declared and name not in LOCAL_ONLY_SECRETS
    }
    assert not missing, f"code reads undeclared secrets: {sorted(missing)}"


# --- schedules ----------------------------------------------------------------------------


@pytest.mark.parametrize("schedule", sorted(topology()["schedules"]))
def test_schedule_targets_a_scheduler_invoked_function(schedule: str) -> None:
    spec = topology()["schedules"][schedule]
    functions = topology()["functions"]
    assert spec["function"] in functions, f"{schedule} targets unknown function {spec['function']}"
    assert trigger_kind(functions[spec["function"]]) == "scheduler", (
        f"{schedule} targets {spec['function']}, which is not an http: scheduler function"
    )
    assert len(str(spec["cron"]).split()) == 5, f"{schedule}: cron must have 5 fields"

    job = resource("google_cloud_scheduler_job", "job")
    assert for_each(job) == "${local.schedules}"
    assert expr(job, "schedule") == "${each.value.cron}"
    target = block(job, "http_target")
    assert "google_cloudfunctions2_function.function[each.value.function]" in expr(target, "uri")
    oidc = block(target, "oidc_token")
    assert "google_service_account.scheduler" in expr(oidc, "service_account_email")
    assert "google_cloudfunctions2_function.function[each.value.function]" in expr(oidc, "audience")


# --- module hygiene -----------------------------------------------------------------------


def test_variables_have_description_type_and_validation() -> None:
    for name, body in variables().items():
        assert body.get("description"), f"variable {name} needs a description"
        assert body.get("type"), f"variable {name} needs a type"
        if expr(body, "type") not in {"${bool}", "bool"}:
            assert body.get("validation"), f"variable {name} needs a validation block"


# Function memory is sized from measurement (docs/performance.md#memory-per-function-instance):
# the largest peak of a function instance that `make bench-emulator` measured, doubled for
# what it does not exercise, and never under the second-generation environment's floor.
# A new measurement updates the peak here and in the doc; the rule stays.
MEASURED_FUNCTION_PEAK_MIB = 132
GEN2_MEMORY_FLOOR_MIB = 512


def _mib(quantity: str) -> int:
    number, unit = re.fullmatch(r"([0-9]+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_function_memory_is_sized_from_the_measured_peak() -> None:
    memory = variables()["function_memory"]
    assert _mib(_unquote(str(memory["default"]))) >= max(
        GEN2_MEMORY_FLOOR_MIB, 2 * MEASURED_FUNCTION_PEAK_MIB
    )
    assert len(memory["validation"]) >= 2, "any value is held to the floor, not the default only"
    function = resource("google_cloudfunctions2_function", "function")
    assert expr(block(function, "service_config"), "available_memory") == "${var.function_memory}"


def test_providers_are_pinned() -> None:
    doc = terraform_files()["versions.tf"]
    settings = doc["terraform"][0]
    assert ">=1.5" in _squash(settings["required_version"])
    providers = settings["required_providers"][0]
    for provider in ("google", "google-beta"):
        assert provider in providers, f"{provider} provider not pinned"
        assert providers[provider]["version"].startswith("~>")


def test_cloud_sql_is_private_protected_and_iam_authenticated() -> None:
    sql = resource("google_sql_database_instance", "main")
    assert expr(sql, "deletion_protection") in {"true", "True"}
    settings = block(sql, "settings")
    ip = block(settings, "ip_configuration")
    assert expr(ip, "ipv4_enabled") in {"false", "False"}
    backup = block(settings, "backup_configuration")
    assert expr(backup, "point_in_time_recovery_enabled") in {"true", "True"}
    flags = {flag["name"]: flag["value"] for flag in settings["database_flags"]}
    assert flags.get("cloudsql.iam_authentication") == "on"
    assert expr(resource("google_sql_user", "manager"), "type") == "CLOUD_IAM_SERVICE_ACCOUNT"


# --- environment of the deployables -> settings -------------------------------------------


def _env_names(expression: str) -> set[str]:
    return set(re.findall(r"\b(STRATUS_[A-Z0-9_]+)\s*=", expression))


def _env_literals(expression: str) -> dict[str, str]:
    return dict(re.findall(r"\b(STRATUS_[A-Z0-9_]+)\s*=\s*\"([^\"$]*)\"", expression))


def _function_env() -> str:
    function = resource("google_cloudfunctions2_function", "function")
    return str(block(function, "service_config")["environment_variables"])


def test_every_deployed_variable_is_a_setting_with_a_valid_literal() -> None:
    """A misspelt or retired STRATUS_* variable is silently ignored by pydantic-settings."""
    from stratus.config import Settings

    loc = locals_()
    common = loc["common_env"]
    deployed = str(common) + str(loc["manager_env"]) + _function_env()
    known = {f"STRATUS_{name.upper()}" for name in Settings.model_fields}
    assert _env_names(deployed) - known == set()
    literals = {**_env_literals(str(loc["manager_env"])), **_env_literals(_function_env())}
    literals.update({k: v for k, v in common.items() if "${" not in v})
    fields: dict[str, Any] = {  # Any: Settings validates (and converts) each value
        name.removeprefix("STRATUS_").lower(): value
        for name, value in literals.items()
        if name.removeprefix("STRATUS_").lower() in Settings.model_fields
    }
    fields["gcp_project"] = "p"  # interpolated from a variable
    Settings(**{**fields, "manager_url": "https://m"})  # raises on a bad value


def test_functions_and_manager_agree_on_the_manager_url() -> None:
    manager = str(locals_()["manager_env"])
    url = re.search(r"STRATUS_MANAGER_URL\s*=\s*([\w.]+)", _function_env())
    audience = re.search(r"STRATUS_MANAGER_AUDIENCE\s*=\s*([\w.]+)", manager)
    assert url is not None
    assert audience is not None
    assert url.group(1) == audience.group(1) == "local.manager_url"
    assert re.search(r"STRATUS_MANAGER_SERVICE_ACCOUNTS\s*=.*local\.manager_roles", manager)


def test_the_public_function_only_reads_the_manager() -> None:
    roles = expr(locals_(), "manager_roles")
    assert roles.startswith("${{forname,fninlocal.functions:")
    assert 'contains(keys(local.public_functions),name)?"reader":"trader"' in roles
    invoker = resource("google_cloud_run_v2_service_iam_member", "manager_function_invoker")
    assert for_each(invoker) == "${local.manager_roles}"


def test_the_webhook_edge_is_cloud_armor_in_front_of_the_public_function() -> None:
    loc = locals_()
    assert expr(loc, "edge") == '${var.webhook_domain!=""}'
    assert expr(loc, "edge_functions") == "${local.edge?local.public_functions:{}}"
    # With the edge, the run.app URL no longer takes internet traffic: no way around it.
    assert expr(loc, "public_ingress") == '${local.edge?"ALLOW_INTERNAL_AND_GCLB":"ALLOW_ALL"}'
    neg = resource("google_compute_region_network_endpoint_group", "webhook")
    assert for_each(neg) == "${local.edge_functions}"
    assert neg["network_endpoint_type"] == "SERVERLESS"
    assert "google_cloudfunctions2_function.function[each.key]" in expr(
        block(neg, "cloud_run"), "service"
    )
    backend = resource("google_compute_backend_service", "webhook")
    assert for_each(backend) == "${local.edge_functions}"
    assert "google_compute_security_policy.webhook" in expr(backend, "security_policy")
    assert "google_compute_region_network_endpoint_group.webhook[each.key]" in expr(
        block(backend, "backend"), "group"
    )
    policy = resource("google_compute_security_policy", "webhook")
    rules = {rule["action"]: rule for rule in policy["rule"]}
    throttle = block(rules["throttle"], "rate_limit_options")
    assert throttle["exceed_action"] == "deny(429)"
    assert throttle["enforce_on_key"] == "IP"
    limit = block(throttle, "rate_limit_threshold")
    assert expr(limit, "count") == "${var.webhook_requests_per_ip_per_minute}"
    assert rules["allow"]["priority"] == 2147483647
    assert block(policy, "adaptive_protection_config", "layer_7_ddos_defense_config")["enable"]
    proxy = resource("google_compute_target_https_proxy", "webhook")
    assert "google_compute_ssl_policy.webhook" in expr(proxy, "ssl_policy")
    tls = resource("google_compute_ssl_policy", "webhook")
    assert (tls["profile"], tls["min_tls_version"]) == ("MODERN", "TLS_1_2")
    rule = resource("google_compute_global_forwarding_rule", "webhook")
    assert (rule["port_range"], rule["load_balancing_scheme"]) == ("443", "EXTERNAL_MANAGED")


def test_manager_opens_cloud_sql_with_an_iam_user() -> None:
    names = _env_names(str(locals_()["manager_env"]))
    assert {"STRATUS_CLOUDSQL_INSTANCE", "STRATUS_CLOUDSQL_USER"} <= names


def test_package_copies_of_topology_and_schemas_match() -> None:
    """shared/stratus reads its own copies; they must not drift from what terraform deploys."""
    copies = ROOT / "shared" / "stratus"
    checked = 0
    topology_copy = copies / "topology.yaml"
    if topology_copy.is_file():
        copy = yaml.safe_load(topology_copy.read_text())
        assert copy == topology(), "shared/stratus/topology.yaml differs from topology.yaml"
        checked += 1
    for schema_copy in sorted((copies / "contracts" / "schemas").glob("*.avsc")):
        original = SCHEMAS / schema_copy.name
        assert original.is_file(), f"{schema_copy} has no counterpart in schemas/"
        assert json.loads(schema_copy.read_text()) == json.loads(original.read_text()), (
            f"{schema_copy.name} differs from schemas/{schema_copy.name}"
        )
        checked += 1
    if not checked:
        pytest.skip("no package copies of topology.yaml or schemas yet")


# --- the console (console.tf) -------------------------------------------------------------


def test_the_recorder_is_pushed_every_topic_the_topology_names_and_every_dead_letter() -> None:
    local = locals_()
    assert "local.topology.manager" in expr(local, "manager")
    records = expr(local, "manager_records")
    assert "local.manager.records" in records
    assert "values(local.dead_letter_topics)" in records
    subscription = resource("google_pubsub_subscription", "manager")
    assert for_each(subscription) == "${local.manager_records}"
    push = block(subscription, "push_config")
    assert expr(push, "push_endpoint").startswith("${local.manager_url}/api/v1/pubsub/")
    oidc = block(push, "oidc_token")
    assert "google_service_account.pubsub_push" in expr(oidc, "service_account_email")
    assert expr(oidc, "audience") == "${local.manager_url}"
    assert "dead_letter_policy" in expr(subscription, "dynamic")
    topology_manager = topology()["manager"]
    assert set(topology_manager["records"]) <= set(topology()["topics"])


def test_the_pubsub_push_identity_calls_the_manager_as_a_reader_service() -> None:
    invoker = resource("google_cloud_run_v2_service_iam_member", "push_manager_invoker")
    assert expr(invoker, "role") == "roles/run.invoker"
    assert "google_service_account.pubsub_push" in expr(invoker, "member")
    env = expr(locals_(), "manager_env")
    assert '(google_service_account.pubsub_push.email)="reader"' in env  # squashed


def test_each_manager_instance_may_keep_its_own_stream_subscriptions_only() -> None:
    attach = resource("google_pubsub_topic_iam_member", "manager_stream_subscriber")
    assert for_each(attach) == "${toset(local.manager.streams)}"
    role = resource("google_project_iam_custom_role", "console_streams")
    assert sorted(role["permissions"]) == [
        "pubsub.subscriptions.consume",
        "pubsub.subscriptions.create",
        "pubsub.subscriptions.delete",
        "pubsub.subscriptions.get",
    ]
    publisher = resource("google_pubsub_topic_iam_member", "manager_publisher")
    assert for_each(publisher) == "${toset(local.manager.publishes)}"


def test_a_console_websocket_may_stay_open_an_hour() -> None:
    template = block(resource("google_cloud_run_v2_service", "manager"), "template")
    assert expr(template, "timeout") == "3600s"


def test_the_watcher_is_one_always_on_instance_publishing_what_the_topology_says() -> None:
    assert expr(locals_(), "watcher") == "${local.topology.watcher}"
    service = resource("google_cloud_run_v2_service", "watcher")
    template = block(service, "template")
    scaling = block(template, "scaling")
    assert (scaling["min_instance_count"], scaling["max_instance_count"]) == (1, 1)
    container = block(template, "containers")
    assert container["args"] == ["watch"]
    assert block(container, "resources")["cpu_idle"] is False  # streams run between requests
    assert service["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    publisher = resource("google_pubsub_topic_iam_member", "watcher_publisher")
    assert for_each(publisher) == "${toset(local.watcher.publishes)}"
    assert "google_service_account.watcher.email" in expr(locals_(), "manager_env")

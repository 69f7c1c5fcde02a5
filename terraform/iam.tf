# Identities and least-privilege grants. Every grant below is scoped to the one resource the
# principal uses (topic, secret, service) unless the service only offers project-level roles,
# in which case an IAM condition narrows it to the one database / instance.

# --- service accounts ---------------------------------------------------------------------

# One runtime identity per function, so a compromised function can only do what its
# topology entry says (publish to its topics, read its secrets).
resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = "fn-${local.function_resource_names[each.key]}"
  display_name = "Stratus function ${each.key}"
  description  = "Runtime identity of the ${each.key} function (topology.yaml)."

  lifecycle {
    precondition {
      condition     = length("fn-${local.function_resource_names[each.key]}") <= 30
      error_message = "Function name ${each.key} is too long for a service account id (max 27 chars)."
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_service_account" "manager" {
  account_id   = "stratus-manager"
  display_name = "Stratus manager"
  description  = "Runtime identity of the manager (Cloud Run) and of the migration job; the Cloud SQL IAM database user."

  depends_on = [google_project_service.api]
}

resource "google_service_account" "scheduler" {
  account_id   = "stratus-scheduler"
  display_name = "Stratus scheduler"
  description  = "Identity in the OIDC token Cloud Scheduler sends to the scheduled functions."

  depends_on = [google_project_service.api]
}

resource "google_service_account" "pubsub_push" {
  account_id   = "stratus-pubsub-push"
  display_name = "Stratus Pub/Sub push"
  description  = "Identity in the OIDC token Pub/Sub push subscriptions send to the functions."

  depends_on = [google_project_service.api]
}

resource "google_service_account" "functions_builder" {
  account_id   = "stratus-fn-builder"
  display_name = "Stratus functions builder"
  description  = "Cloud Build identity that turns the functions source archive into images."

  depends_on = [google_project_service.api]
}

# --- Pub/Sub ------------------------------------------------------------------------------

# Publisher only on the topics each function writes (topology: publishes).
resource "google_pubsub_topic_iam_member" "function_publisher" {
  for_each = local.function_publishes

  topic  = google_pubsub_topic.topic[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.value.function].member
}

# A topic-triggered function that meets a message which can never succeed publishes it to
# its trigger topic's dead-letter topic itself, with the reason as an attribute (design
# rule 7), instead of letting it burn through max_delivery_attempts.
resource "google_pubsub_topic_iam_member" "function_dead_letter_publisher" {
  for_each = local.topic_functions

  topic  = google_pubsub_topic.dead_letter[each.value.trigger.topic].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.key].member
}

# A listening function gives up on a flow message by publishing it to that topic's
# dead-letter topic, with the reason (notify: a destination that kept failing).
resource "google_pubsub_topic_iam_member" "listening_dead_letter_publisher" {
  for_each = { for key, sub in local.listening_subscriptions : key => sub if sub.flow }

  topic  = google_pubsub_topic.dead_letter[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.value.function].member
}

# Pub/Sub signs push OIDC tokens as stratus-pubsub-push through its service agent (needed
# explicitly on projects created before April 2021; harmless after).
resource "google_service_account_iam_member" "pubsub_push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# --- Secret Manager -----------------------------------------------------------------------

resource "google_secret_manager_secret_iam_member" "function_accessor" {
  for_each = local.function_secrets

  secret_id = google_secret_manager_secret.secret[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.value.function].member
}

resource "google_secret_manager_secret_iam_member" "manager_accessor" {
  for_each = toset(local.manager_secrets)

  secret_id = google_secret_manager_secret.secret[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.manager.member
}

# --- Firestore (functions' per-message state) ---------------------------------------------

# Firestore only has project-level roles; the condition limits it to the one database.
resource "google_project_iam_member" "function_firestore" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member

  condition {
    title      = "stratus-firestore-only"
    expression = "resource.name == \"${google_firestore_database.main.id}\""
  }
}

# --- Cloud SQL (manager only) -------------------------------------------------------------

# cloudsql.client opens connector tunnels; cloudsql.instanceUser allows IAM database login.
# Both are project-level roles: conditions pin them to the Stratus instance.
resource "google_project_iam_member" "manager_sql" {
  for_each = toset(["roles/cloudsql.client", "roles/cloudsql.instanceUser"])

  project = var.project_id
  role    = each.key
  member  = google_service_account.manager.member

  condition {
    title      = "stratus-sql-instance-only"
    expression = "resource.name == \"projects/${var.project_id}/instances/${google_sql_database_instance.main.name}\" && resource.service == \"sqladmin.googleapis.com\""
  }
}

# --- invoker bindings (who may call which Cloud Run service) ------------------------------

# Pub/Sub push -> topic-triggered and listening functions.
resource "google_cloud_run_v2_service_iam_member" "push_invoker" {
  for_each = local.pushed_functions

  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.pubsub_push.member
}

# Cloud Scheduler -> the functions that schedules target (and only those).
resource "google_cloud_run_v2_service_iam_member" "scheduler_invoker" {
  for_each = toset([for schedule in values(local.schedules) : schedule.function])

  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

# The internet -> the webhook. Authentication is the HMAC signature checked in code
# (X-Stratus-Signature over "<timestamp>.<body>", replay window), not IAM: TradingView-style
# senders cannot mint Google ID tokens.
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  #checkov:skip=CKV_GCP_102:The webhook must be callable by external senders; every request is authenticated by an HMAC signature with a replay window in ingest_signal.
  for_each = local.public_functions

  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# Functions -> manager API (ID token for the manager's URL); local.manager_roles says what
# each may do there.
resource "google_cloud_run_v2_service_iam_member" "manager_function_invoker" {
  for_each = local.manager_roles

  location = google_cloud_run_v2_service.manager.location
  name     = google_cloud_run_v2_service.manager.name
  role     = "roles/run.invoker"
  member   = google_service_account.function[each.key].member
}

# Operators running the stratus CLI against the manager.
resource "google_cloud_run_v2_service_iam_member" "manager_operator_invoker" {
  for_each = toset(var.manager_invokers)

  location = google_cloud_run_v2_service.manager.location
  name     = google_cloud_run_v2_service.manager.name
  role     = "roles/run.invoker"
  member   = each.key
}

# --- functions build ----------------------------------------------------------------------

# The roles Google documents for a custom Cloud Functions build service account, each on the
# narrowest scope the service allows: build logs (project-only role), the image repository,
# and the buckets holding the source (ours, and the one Cloud Functions stages it into).
resource "google_project_iam_member" "functions_builder_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.functions_builder.member
}

resource "google_artifact_registry_repository_iam_member" "functions_builder" {
  location   = google_artifact_registry_repository.stratus.location
  repository = google_artifact_registry_repository.stratus.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.functions_builder.member
}

resource "google_project_iam_member" "functions_builder_sources" {
  project = var.project_id
  role    = "roles/storage.objectAdmin"
  member  = google_service_account.functions_builder.member

  condition {
    title      = "stratus-function-source-buckets"
    expression = "resource.name.startsWith(\"projects/_/buckets/${google_storage_bucket.functions_source.name}\") || resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${local.project_number}-${var.region}\")"
  }
}

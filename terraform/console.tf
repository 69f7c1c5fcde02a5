# The operator console (docs/console.md): what the manager subscribes to.
#
# 1. The recorder: one push subscription "<topic>-to-manager" per topic of topology.yaml
#    `manager.records` and per dead-letter topic, to POST /api/v1/pubsub/<topic> with an
#    OIDC token of stratus-pubsub-push (a reader service identity to the manager). Each message reaches one
#    instance; signal fates, dead letters and reconciliation reports land in Cloud SQL.
# 2. The live streams: every message of `manager.streams` must reach EVERY instance with
#    a console open, so each instance creates its own subscriptions ("console-<id>-..."),
#    only while a console is connected, and deletes them when the last one leaves. A dead
#    instance's subscriptions expire after a day unused. Terraform grants the right to do
#    so; the subscriptions themselves are not Terraform's.
locals {
  manager = local.topology.manager

  # Recorded topic -> the flow topic whose dead-letter topic its subscription gives up to
  # ("" for the dead-letter topics themselves: their failures are retried, not nested).
  manager_records = merge(
    { for topic in local.manager.records : topic => topic },
    { for topic in values(local.dead_letter_topics) : topic => "" },
  )
  # Where each recorded topic lives: the flow's topics or the dead-letter topics.
  manager_record_topic_ids = merge(
    { for topic in local.manager.records : topic => google_pubsub_topic.topic[topic].id },
    { for name, topic in local.dead_letter_topics : topic => google_pubsub_topic.dead_letter[name].id },
  )
}

resource "google_pubsub_subscription" "manager" {
  for_each = local.manager_records

  name                       = "${each.key}-to-manager"
  topic                      = local.manager_record_topic_ids[each.key]
  ack_deadline_seconds       = local.retry.ack_deadline_seconds
  message_retention_duration = local.retry.message_retention

  retry_policy {
    minimum_backoff = "${local.retry.minimum_backoff_seconds}s"
    maximum_backoff = "${local.retry.maximum_backoff_seconds}s"
  }

  dynamic "dead_letter_policy" {
    for_each = each.value == "" ? [] : [each.value]
    content {
      dead_letter_topic     = google_pubsub_topic.dead_letter[each.value].id
      max_delivery_attempts = local.retry.max_delivery_attempts
    }
  }

  push_config {
    push_endpoint = "${local.manager_url}/api/v1/pubsub/${each.key}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = local.manager_url # Cloud Run and the manager both check it
    }
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.push_manager_invoker]
}

# Pub/Sub push -> the manager (the token is also a reader service identity in its env).
resource "google_cloud_run_v2_service_iam_member" "push_manager_invoker" {
  location = google_cloud_run_v2_service.manager.location
  name     = google_cloud_run_v2_service.manager.name
  role     = "roles/run.invoker"
  member   = google_service_account.pubsub_push.member
}

# The Pub/Sub service agent dead-letters from the recorder's subscriptions.
resource "google_pubsub_subscription_iam_member" "manager_dead_letter_subscriber" {
  for_each = { for topic, dead in local.manager_records : topic => dead if dead != "" }

  subscription = google_pubsub_subscription.manager[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# The recorder republishes each signal's fate for the live console.
resource "google_pubsub_topic_iam_member" "manager_publisher" {
  for_each = toset(local.manager.publishes)

  topic  = google_pubsub_topic.topic[each.key].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.manager.member
}

# Live streams: attach subscriptions to the streamed topics only...
resource "google_pubsub_topic_iam_member" "manager_stream_subscriber" {
  for_each = toset(local.manager.streams)

  topic  = google_pubsub_topic.topic[each.key].name
  role   = "roles/pubsub.subscriber"
  member = google_service_account.manager.member
}

# ...and create, read, consume and delete its own. Creating a subscription is a
# project-level permission, so this custom role holds exactly those four permissions and
# nothing about topics, snapshots or IAM.
resource "google_project_iam_custom_role" "console_streams" {
  role_id     = "stratusConsoleStreams"
  title       = "Stratus console streams"
  description = "Per-instance Pub/Sub subscriptions of the manager's live console."
  permissions = [
    "pubsub.subscriptions.create",
    "pubsub.subscriptions.get",
    "pubsub.subscriptions.consume",
    "pubsub.subscriptions.delete",
  ]
}

resource "google_project_iam_member" "manager_console_streams" {
  project = var.project_id
  role    = google_project_iam_custom_role.console_streams.id
  member  = google_service_account.manager.member
}

# The kill switch and the order documents live in Firestore: the console shows them, and
# flatten throws the kill switch to `reducing` (docs/control.md), so the manager writes too.
resource "google_project_iam_member" "manager_firestore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.manager.member

  condition {
    title      = "stratus-firestore-only"
    expression = "resource.name == \"${google_firestore_database.main.id}\""
  }
}

# /ready asks the bus for a topic the manager publishes to (stratus.adapters.pubsub_bus).
resource "google_pubsub_topic_iam_member" "manager_bus_viewer" {
  for_each = toset(local.manager.publishes)

  topic  = google_pubsub_topic.topic[each.key].name
  role   = "roles/pubsub.viewer"
  member = google_service_account.manager.member
}

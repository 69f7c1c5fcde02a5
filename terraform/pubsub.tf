# Pub/Sub: one schema per message type, one topic per arrow of the flow, a dead-letter topic
# per topic, and one push subscription per topic-triggered function.
#
# Why explicit push subscriptions instead of Eventarc triggers
# -------------------------------------------------------------
# A gen2 function's Eventarc Pub/Sub trigger creates and owns its subscription. That
# subscription has no dead-letter policy and Eventarc retries a failing message for up to
# 24 hours with a fixed backoff; adding a dead-letter topic means patching an Eventarc-managed
# resource out of band, which Terraform cannot own and Eventarc may revert. Rule 7 of the
# design (a message that can never succeed goes to the dead-letter topic instead of retrying
# forever) needs max_delivery_attempts, so we create the subscriptions ourselves:
#   topic --(push, OIDC as stratus-pubsub-push)--> function URL (Cloud Run run.app URI)
# with the retry policy and dead-letter policy from topology.yaml. functions-framework turns
# the Pub/Sub push envelope into the same CloudEvent Eventarc would deliver
# (type google.cloud.pubsub.topic.v1.messagePublished, data.message.{data,attributes,
# messageId,publishTime}); the push path /projects/<p>/topics/<t> makes the CloudEvent source
# name the topic. The functions stay @functions_framework.cloud_event.

resource "google_pubsub_schema" "schema" {
  for_each = local.schema_names

  name       = each.key
  type       = "AVRO"
  definition = file("${path.module}/../schemas/${each.key}.avsc")

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is accepted for message payloads (no CMEK requirement; see docs/deploy.md "Encryption").
  for_each = local.topics

  name                       = each.key
  message_retention_duration = local.retry.message_retention

  # Messages travel as Avro's JSON encoding (stratus.contracts.codec); Pub/Sub rejects any
  # publish that does not match the schema.
  schema_settings {
    schema   = google_pubsub_schema.schema[each.value.schema].id
    encoding = "JSON"
  }
}

# Schemaless: it holds whatever could not be processed, with the reason in the attributes.
resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is accepted for message payloads (no CMEK requirement; see docs/deploy.md "Encryption").
  for_each = local.dead_letter_topics

  name                       = each.value
  message_retention_duration = local.retry.message_retention

  depends_on = [google_project_service.api]
}

# A topic without subscriptions drops what is published to it: hold dead letters in a pull
# subscription (same name as the topic) so they can be inspected and replayed.
resource "google_pubsub_subscription" "dead_letter" {
  for_each = local.dead_letter_topics

  name                       = each.value
  topic                      = google_pubsub_topic.dead_letter[each.key].id
  ack_deadline_seconds       = local.retry.ack_deadline_seconds
  message_retention_duration = local.retry.message_retention
  retain_acked_messages      = false

  expiration_policy {
    ttl = "" # never expire for inactivity
  }
}

# One push subscription per topic-triggered function.
resource "google_pubsub_subscription" "function" {
  for_each = local.topic_functions

  name                       = "${each.value.trigger.topic}-to-${local.function_resource_names[each.key]}"
  topic                      = google_pubsub_topic.topic[each.value.trigger.topic].id
  ack_deadline_seconds       = local.retry.ack_deadline_seconds
  message_retention_duration = local.retry.message_retention
  # Publishers set each topic's ordering key (topology.yaml ordered_by); keep that order.
  enable_message_ordering = true

  retry_policy {
    minimum_backoff = "${local.retry.minimum_backoff_seconds}s"
    maximum_backoff = "${local.retry.maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter[each.value.trigger.topic].id
    max_delivery_attempts = local.retry.max_delivery_attempts
  }

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.function[each.key].service_config[0].uri}/projects/${var.project_id}/topics/${each.value.trigger.topic}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      # Cloud Run checks the audience against the service URL (without the path).
      audience = google_cloudfunctions2_function.function[each.key].service_config[0].uri
    }
  }

  expiration_policy {
    ttl = ""
  }

  # The invoker grant must exist before Pub/Sub starts pushing, or the first deliveries 403.
  depends_on = [google_cloud_run_v2_service_iam_member.push_invoker]
}

# Dead-lettering is done by the Pub/Sub service agent: it must be able to publish to the
# dead-letter topics and to ack (subscribe) on the source subscriptions.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  for_each = local.dead_letter_topics

  topic  = google_pubsub_topic.dead_letter[each.key].name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  for_each = local.topic_functions

  subscription = google_pubsub_subscription.function[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# One push subscription per topic a listening function hears (notify): flow topics with
# their dead-letter policy, dead-letter topics without one. Unordered: each message is told
# on its own, and a burst is gathered by the function (topology `concurrency`).
resource "google_pubsub_subscription" "listening" {
  for_each = local.listening_subscriptions

  name                       = "${each.value.topic}-to-${local.function_resource_names[each.value.function]}"
  topic                      = each.value.flow ? google_pubsub_topic.topic[each.value.topic].id : google_pubsub_topic.dead_letter[trimsuffix(each.value.topic, "-dead-letter")].id
  ack_deadline_seconds       = local.retry.ack_deadline_seconds
  message_retention_duration = local.retry.message_retention

  retry_policy {
    minimum_backoff = "${local.retry.minimum_backoff_seconds}s"
    maximum_backoff = "${local.retry.maximum_backoff_seconds}s"
  }

  dynamic "dead_letter_policy" {
    for_each = each.value.flow ? [each.value.topic] : []
    content {
      dead_letter_topic     = google_pubsub_topic.dead_letter[dead_letter_policy.value].id
      max_delivery_attempts = local.retry.max_delivery_attempts
    }
  }

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.function[each.value.function].service_config[0].uri}/projects/${var.project_id}/topics/${each.value.topic}"

    oidc_token {
      service_account_email = google_service_account.pubsub_push.email
      audience              = google_cloudfunctions2_function.function[each.value.function].service_config[0].uri
    }
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_v2_service_iam_member.push_invoker]
}

resource "google_pubsub_subscription_iam_member" "listening_dead_letter_subscriber" {
  for_each = { for key, sub in local.listening_subscriptions : key => sub if sub.flow }

  subscription = google_pubsub_subscription.listening[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# Alert policies: dead letters (something could not be processed), function errors (5xx:
# Pub/Sub will retry, or a scheduled run failed), a stuck backlog, and manager errors.
resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  display_name = "Stratus alerts ${each.key}"
  type         = "email"
  labels = {
    email_address = each.key
  }

  depends_on = [google_project_service.api]
}

locals {
  notification_channels = [for channel in google_monitoring_notification_channel.email : channel.id]

  # Monitoring filter fragments built from the topology, e.g. one_of("a", "b").
  dead_letter_subscription_filter = join(", ", [for name in values(local.dead_letter_topics) : "\"${name}\""])
  function_service_filter         = join(", ", [for name in values(local.function_resource_names) : "\"${name}\""])
  push_subscription_filter        = join(", ", [for name, fn in local.topic_functions : "\"${fn.trigger.topic}-to-${local.function_resource_names[name]}\""])
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name = "Stratus: messages in a dead-letter topic"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "Undelivered dead letters > 0"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.labels.subscription_id = one_of(${local.dead_letter_subscription_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A message reached `$${resource.label.subscription_id}`: it failed every delivery
      attempt or a function dead-lettered it on purpose (reason in the message attributes).
      Inspect with `gcloud pubsub subscriptions pull $${resource.label.subscription_id} --limit 10`
      (without --auto-ack), fix the cause, then replay or ack. See docs/deploy.md.
    EOT
  }

  notification_channels = local.notification_channels
  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "function_errors" {
  display_name = "Stratus: function errors"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "5xx responses per function"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\" AND resource.labels.service_name = one_of(${local.function_service_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.function_error_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.labels.service_name"]
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Function `$${resource.label.service_name}` returned 5xx responses. Topic-triggered functions are retried by Pub/Sub (then dead-lettered); scheduled ones wait for the next tick. Check the function logs."
  }

  notification_channels = local.notification_channels
  alert_strategy {
    auto_close = "3600s"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "backlog" {
  display_name = "Stratus: function subscription backlog is stuck"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "Oldest unacked message age"
    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.labels.subscription_id = one_of(${local.push_subscription_filter})"
      comparison      = "COMPARISON_GT"
      threshold_value = var.backlog_age_threshold_seconds
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Messages on `$${resource.label.subscription_id}` are not being acknowledged: the function is failing, throttled (max instances) or unreachable. Signals are ageing out (max event age)."
  }

  notification_channels = local.notification_channels
  alert_strategy {
    auto_close = "3600s"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "manager_errors" {
  display_name = "Stratus: manager errors"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "Manager 5xx responses"
    condition_threshold {
      filter          = "resource.type = \"cloud_run_revision\" AND metric.type = \"run.googleapis.com/request_count\" AND metric.labels.response_code_class = \"5xx\" AND resource.labels.service_name = \"${google_cloud_run_v2_service.manager.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.function_error_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }

      trigger {
        count = 1
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "The manager (system of record) returned 5xx responses; functions calling it will retry. Check the stratus-manager logs and Cloud SQL health."
  }

  notification_channels = local.notification_channels
  alert_strategy {
    auto_close = "3600s"
  }
}

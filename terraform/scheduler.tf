# Cloud Scheduler: one job per topology schedule, calling its (private) function's run.app
# URL with an OIDC token for stratus-scheduler, which is the only invoker of those functions.
resource "google_cloud_scheduler_job" "job" {
  for_each = local.schedules

  name             = each.key
  region           = var.region
  description      = "Stratus: ${each.key} -> ${each.value.function}"
  schedule         = each.value.cron
  time_zone        = "Etc/UTC"
  attempt_deadline = "${min(var.scheduled_function_timeout_seconds + 20, 1800)}s"

  # No retries: the next tick is minutes away and both jobs are idempotent catch-ups; a
  # failure shows up in the function error alert instead.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.function[each.value.function].service_config[0].uri
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ schedule = each.key }))

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.function[each.value.function].service_config[0].uri
    }
  }

  depends_on = [
    google_project_service.api,
    google_cloud_run_v2_service_iam_member.scheduler_invoker,
  ]
}

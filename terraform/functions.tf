# Cloud Functions gen2, one per topology function. All share one source archive
# (functions/main.py + the stratus package unpacked from its wheel + a pinned
# requirements.txt, built by Cloud Build's package-functions step) and differ
# only in entry point (= the functions-framework target = the topology key), identity,
# ingress and timeout. How each is invoked is wired elsewhere from the same locals:
#   topic trigger    -> google_pubsub_subscription.function (pubsub.tf)
#   topics trigger   -> google_pubsub_subscription.listening (pubsub.tf)
#   http: public     -> google_cloud_run_v2_service_iam_member.public_invoker (iam.tf)
#   http: scheduler  -> google_cloud_scheduler_job.job (scheduler.tf)
resource "google_cloudfunctions2_function" "function" {
  for_each = local.functions

  name        = local.function_resource_names[each.key]
  location    = var.region
  description = "Stratus ${each.key} (${try("topic ${each.value.trigger.topic}", "http ${each.value.trigger.http}")})"

  build_config {
    runtime           = var.python_runtime
    entry_point       = each.key
    service_account   = google_service_account.functions_builder.id
    docker_repository = google_artifact_registry_repository.stratus.id

    source {
      storage_source {
        bucket = google_storage_bucket.functions_source.name
        object = google_storage_bucket_object.functions_source.name
      }
    }
  }

  service_config {
    service_account_email = google_service_account.function[each.key].email
    available_memory      = var.function_memory
    max_instance_count    = lookup(var.function_max_instances_overrides, each.key, var.function_max_instances)
    min_instance_count    = 0
    # Deliveries served at once by one instance (topology `concurrency`): notify gathers a
    # burst into one message that way. More than one needs a whole vCPU.
    max_instance_request_concurrency = try(each.value.concurrency, 1)
    available_cpu                    = try(each.value.concurrency, 1) > 1 ? "1" : null

    # A push delivery that outlives the ack deadline is redelivered while still running, so
    # topic-triggered functions time out at the ack deadline.
    timeout_seconds = contains(keys(local.pushed_functions), each.key) ? local.retry.ack_deadline_seconds : var.scheduled_function_timeout_seconds

    # Only the webhook is reachable from the internet, through its edge when there is one
    # (edge.tf). Pub/Sub push and Cloud Scheduler in the same project count as internal
    # traffic on the run.app URL.
    ingress_settings               = contains(keys(local.public_functions), each.key) ? local.public_ingress : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true

    environment_variables = merge(local.common_env, {
      STRATUS_MANAGER_URL = local.manager_url
      LOG_EXECUTION_ID    = "true"
    })
  }

  labels = { function = local.function_resource_names[each.key] }

  lifecycle {
    precondition {
      condition     = alltrue([for name in keys(var.function_max_instances_overrides) : contains(keys(local.functions), name)])
      error_message = "function_max_instances_overrides has keys that are not topology functions."
    }
  }

  depends_on = [
    google_project_service.api,
    google_project_iam_member.functions_builder_logs,
    google_project_iam_member.functions_builder_sources,
    google_artifact_registry_repository_iam_member.functions_builder,
  ]
}

output "webhook_urls" {
  description = "Internet-facing function URLs (POST signed signals here): the edge's when webhook_domain is set."
  value       = { for name, fn in local.public_functions : name => local.edge ? "https://${var.webhook_domain}/" : google_cloudfunctions2_function.function[name].service_config[0].uri }
}

output "webhook_edge_ip" {
  description = "Address to point webhook_domain's DNS A record at (null without an edge)."
  value       = local.edge ? google_compute_global_address.webhook[0].address : null
}

output "function_urls" {
  description = "run.app URL of every function, by topology name."
  value       = { for name, fn in google_cloudfunctions2_function.function : name => fn.service_config[0].uri }
}

output "manager_url" {
  description = "Manager API URL (IAM-protected; call with an ID token)."
  value       = google_cloud_run_v2_service.manager.uri
}

output "topic_names" {
  description = "Pub/Sub topic names, by topology topic."
  value       = { for name, topic in google_pubsub_topic.topic : name => topic.name }
}

output "dead_letter_topic_names" {
  description = "Dead-letter topic (and holding subscription) names, by topology topic."
  value       = { for name, topic in google_pubsub_topic.dead_letter : name => topic.name }
}

output "push_subscription_names" {
  description = "Push subscription feeding each topic-triggered function."
  value       = { for name, sub in google_pubsub_subscription.function : name => sub.name }
}

output "scheduler_jobs" {
  description = "Cloud Scheduler job ids, by topology schedule."
  value       = { for name, job in google_cloud_scheduler_job.job : name => job.id }
}

output "cloudsql_connection_name" {
  description = "Cloud SQL instance connection name (STRATUS_CLOUDSQL_INSTANCE)."
  value       = google_sql_database_instance.main.connection_name
}

output "manager_db_user" {
  description = "IAM database user of the manager (owner of the schema)."
  value       = google_sql_user.manager.name
}

output "migrate_job" {
  description = "Cloud Run job that runs `stratus db upgrade`."
  value       = google_cloud_run_v2_job.migrate.name
}

output "artifact_registry" {
  description = "Docker repository for images, e.g. <this>/manager:<sha>."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.stratus.repository_id}"
}

output "secret_ids" {
  description = "Secret Manager secrets whose versions must be added out of band."
  value       = sort(tolist(local.secret_ids))
}

output "service_accounts" {
  description = "Service account e-mails: one per function, plus manager, scheduler and push identities."
  value = merge(
    { for name, sa in google_service_account.function : name => sa.email },
    {
      manager     = google_service_account.manager.email
      scheduler   = google_service_account.scheduler.email
      pubsub_push = google_service_account.pubsub_push.email
    },
  )
}

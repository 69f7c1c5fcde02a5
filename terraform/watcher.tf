# The watcher (docs/live.md): `stratus watch` on an always-on Cloud Run service. Between
# the schedules it keeps marks fresh (the exchanges' WebSocket ticker streams), follows
# resting orders to their fills and refreshes balances, publishing on the topics of
# topology.yaml `watcher.publishes`. One instance, CPU always allocated (a stream is no
# request): Cloud Run's smallest such instance is 1 vCPU (below that it only bills per
# request). It reaches the system of record through the manager, as the functions do.
locals {
  watcher = local.topology.watcher
}

resource "google_service_account" "watcher" {
  account_id   = "stratus-watcher"
  display_name = "Stratus watcher (marks, resting orders, balances)"
}

resource "google_cloud_run_v2_service" "watcher" {
  name                = "stratus-watcher"
  location            = var.region
  description         = "Stratus watcher: live marks, resting orders, balances"
  deletion_protection = false # it keeps no state of its own
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  template {
    service_account = google_service_account.watcher.email

    scaling {
      # Exactly one: two would publish every mark twice and list every order twice.
      min_instance_count = 1
      max_instance_count = 1
    }

    containers {
      image   = var.manager_image
      command = ["stratus"]
      args    = ["watch"]

      ports {
        container_port = 8080 # /live and /ready for the probes
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = false # the streams run between requests
      }

      dynamic "env" {
        for_each = merge(local.common_env, { STRATUS_MANAGER_URL = local.manager_url })
        content {
          name  = env.key
          value = env.value
        }
      }

      startup_probe {
        http_get {
          path = "/live"
        }
        period_seconds    = 3
        failure_threshold = 20
      }

      liveness_probe {
        http_get {
          path = "/live"
        }
        period_seconds    = 30
        failure_threshold = 3
      }
    }
  }

  depends_on = [google_project_service.api]
}

# Publisher on exactly the topics the topology gives the watcher.
resource "google_pubsub_topic_iam_member" "watcher_publisher" {
  for_each = toset(local.watcher.publishes)

  topic  = google_pubsub_topic.topic[each.key].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.watcher.member
}

# Working order documents live in Firestore (project-level role, pinned to the database).
resource "google_project_iam_member" "watcher_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.watcher.member

  condition {
    title      = "stratus-firestore-only"
    expression = "resource.name == \"${google_firestore_database.main.id}\""
  }
}

# The manager: positions, and the accounts' keys, as a trader service (run.tf).
resource "google_cloud_run_v2_service_iam_member" "manager_watcher_invoker" {
  location = google_cloud_run_v2_service.manager.location
  name     = google_cloud_run_v2_service.manager.name
  role     = "roles/run.invoker"
  member   = google_service_account.watcher.member
}

# The manager: FastAPI on Cloud Run, the only writer of the system of record (Cloud SQL).
# It reaches Cloud SQL's private IP through direct VPC egress and the Cloud SQL Python
# connector (IAM database auth as its own service account), and reads its secrets from
# Secret Manager at runtime (STRATUS_SECRETS=secretmanager).
locals {
  # Cloud SQL IAM user of a service account = its e-mail without ".gserviceaccount.com".
  manager_db_user = trimsuffix(google_service_account.manager.email, ".gserviceaccount.com")

  manager_env = merge(local.common_env, {
    # The connector opens every connection (IAM database auth, no password).
    STRATUS_CLOUDSQL_INSTANCE = google_sql_database_instance.main.connection_name
    STRATUS_CLOUDSQL_USER     = local.manager_db_user
    STRATUS_CLOUDSQL_DATABASE = google_sql_database.stratus.name
    STRATUS_CLOUDSQL_IP_TYPE  = "private"
    # One uvicorn worker process per vCPU (manager/Dockerfile): a process runs Python on
    # one core at a time, so a second core is idle without a second worker.
    WEB_CONCURRENCY = tostring(var.manager_cpu)
    # Functions authenticate with Google ID tokens for this audience; their service
    # accounts trade (fills, orders, quotas) and may read the keys of their accounts, but
    # the public ingest_signal only reads (local.manager_roles).
    STRATUS_MANAGER_AUDIENCE = local.manager_url
    # Pub/Sub push (the console's recorder, console.tf) is a reader service: its route takes
    # any service identity, and as a reader it can never read exchange keys.
    # The watcher trades like the functions: it follows orders to their fills.
    STRATUS_MANAGER_SERVICE_ACCOUNTS = jsonencode(merge(
      { for name, role in local.manager_roles : google_service_account.function[name].email => role },
      { (google_service_account.pubsub_push.email) = "reader" },
      { (google_service_account.watcher.email) = "trader" },
    ))
    # People: e-mail -> role from var.admins/traders/readers (people.tf).
    STRATUS_MANAGER_PEOPLE = jsonencode(local.manager_people)
  })
}

resource "google_cloud_run_v2_service" "manager" {
  name                = "stratus-manager"
  location            = var.region
  description         = "Stratus manager API (system of record)"
  deletion_protection = false # state is in Cloud SQL, which has its own protection

  # Callers are the functions (no VPC egress) and operators, so the URL is reachable, but
  # IAM (roles/run.invoker) gates every request; there is no allUsers binding.
  ingress = "INGRESS_TRAFFIC_ALL"

  template {
    service_account = google_service_account.manager.email
    # Requests in flight per instance, shared by its WEB_CONCURRENCY workers: 40 per vCPU.
    # A request holds a database connection only for its one short transaction, so each
    # worker's pool (STRATUS_CLOUDSQL_POOL_SIZE + 2 overflow) serves many; a console's
    # WebSocket counts here but holds no connection. Cloud SQL must allow
    # max instances x workers x (pool + 2) connections (docs/performance.md).
    max_instance_request_concurrency = 40 * var.manager_cpu
    # A console's WebSocket is one request: it lasts up to this long, then the browser
    # reconnects (and gets a fresh snapshot). API calls finish in well under a second.
    timeout = "3600s"

    scaling {
      min_instance_count = var.manager_min_instances
      max_instance_count = var.manager_max_instances
    }

    vpc_access {
      egress = "PRIVATE_RANGES_ONLY" # only Cloud SQL's private range goes through the VPC
      network_interfaces {
        network    = google_compute_network.vpc.id
        subnetwork = google_compute_subnetwork.run.id
      }
    }

    containers {
      image = var.manager_image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = tostring(var.manager_cpu)
          memory = "${512 * var.manager_cpu}Mi" # each worker is its own Python process
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.manager_env
        content {
          name  = env.key
          value = env.value
        }
      }

      # /live answers once the process serves; /ready also checks dependencies and would
      # block a rollout on a database hiccup, so probes use /live.
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

  depends_on = [
    google_project_service.api,
    google_project_iam_member.manager_sql,
    google_secret_manager_secret_iam_member.manager_accessor,
  ]
}

# Migrations (`stratus db upgrade`, Alembic) run as a Cloud Run job: it is inside the VPC
# (Cloud Build's default pool cannot reach a private IP) and runs as the manager's IAM
# database user, so the manager owns the tables it migrates.
#
# The pipeline moves the job's image forward itself (gcloud run jobs update --image, then
# execute --wait) BEFORE terraform apply rolls out the new manager, so the schema is always
# migrated before the code that needs it; hence Terraform ignores the image after creation.
resource "google_cloud_run_v2_job" "migrate" {
  name                = "stratus-migrate"
  location            = var.region
  deletion_protection = false

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.manager.email
      max_retries     = 0 # a failed migration needs a human, not a retry
      timeout         = "900s"

      vpc_access {
        egress = "PRIVATE_RANGES_ONLY"
        network_interfaces {
          network    = google_compute_network.vpc.id
          subnetwork = google_compute_subnetwork.run.id
        }
      }

      containers {
        image   = var.manager_image
        command = ["stratus"]
        args    = ["db", "upgrade"]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        dynamic "env" {
          for_each = local.manager_env
          content {
            name  = env.key
            value = env.value
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].template[0].containers[0].image]
  }

  depends_on = [
    google_project_service.api,
    google_project_iam_member.manager_sql,
    google_secret_manager_secret_iam_member.manager_accessor,
  ]
}

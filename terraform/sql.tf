# Cloud SQL for PostgreSQL: the system of record. Private IP only, IAM database auth (no
# passwords anywhere), daily backups with point-in-time recovery, deletion protection at both
# the Terraform and the API level.
resource "google_sql_database_instance" "main" {
  name                = "stratus"
  database_version    = var.db_version
  region              = var.region
  deletion_protection = true

  settings {
    # db-custom-* tiers are Enterprise edition (PostgreSQL 16+ otherwise defaults to
    # Enterprise Plus, which needs different tiers).
    edition                     = "ENTERPRISE"
    tier                        = var.db_tier
    availability_type           = var.db_availability_type
    disk_type                   = "PD_SSD"
    disk_autoresize             = true
    deletion_protection_enabled = true

    ip_configuration {
      ipv4_enabled    = false
      private_network = google_compute_network.vpc.id
      # The Cloud SQL connector always presents a client certificate.
      ssl_mode = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    }

    backup_configuration {
      enabled                        = true
      start_time                     = "02:00" # UTC
      point_in_time_recovery_enabled = true
      transaction_log_retention_days = var.db_log_retention_days

      backup_retention_settings {
        retained_backups = var.db_backup_retention_count
        retention_unit   = "COUNT"
      }
    }

    maintenance_window {
      day          = 7 # Sunday
      hour         = 3 # UTC
      update_track = "stable"
    }

    insights_config {
      query_insights_enabled  = true
      record_application_tags = true
      record_client_address   = false
    }

    database_flags {
      name  = "cloudsql.iam_authentication"
      value = "on"
    }

    # Connection and lock logging for audits and incident analysis (CIS PostgreSQL).
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }
    database_flags {
      name  = "log_connections"
      value = "on"
    }
    database_flags {
      name  = "log_disconnections"
      value = "on"
    }
    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }
    database_flags {
      name  = "log_min_messages"
      value = "error"
    }
    database_flags {
      name  = "log_temp_files"
      value = "0"
    }
    database_flags {
      name  = "log_min_duration_statement"
      value = "-1" # never log statement text (it carries account data)
    }
    database_flags {
      name  = "log_duration"
      value = "on" # durations only, no statement text
    }
    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }
    database_flags {
      name  = "log_statement"
      value = "ddl"
    }
    database_flags {
      name  = "log_hostname"
      value = "on"
    }
    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }

    user_labels = local.labels
  }

  depends_on = [
    google_project_service.api,
    google_service_networking_connection.private_services,
  ]
}

resource "google_sql_database" "stratus" {
  name     = "stratus"
  instance = google_sql_database_instance.main.name
}

# The manager's service account as an IAM database user (logs in with an OAuth token).
resource "google_sql_user" "manager" {
  name     = local.manager_db_user
  instance = google_sql_database_instance.main.name
  type     = "CLOUD_IAM_SERVICE_ACCOUNT"
}

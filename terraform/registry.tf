# Artifact Registry for the manager image and the functions' built images, and the bucket
# the functions source archive is uploaded to.
resource "google_artifact_registry_repository" "stratus" {
  #checkov:skip=CKV_GCP_84:Images hold no secrets or customer data; Google-managed encryption is accepted (see docs/deploy.md "Encryption").
  location      = var.region
  repository_id = "stratus"
  description   = "Stratus manager image and Cloud Functions images"
  format        = "DOCKER"

  docker_config {
    immutable_tags = false # Cloud Functions re-tags its images on every deploy
  }

  # Keep the 20 most recent versions of every image (rollback window) and drop anything
  # older than 90 days beyond that.
  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "7776000s"
    }
  }

  depends_on = [google_project_service.api]
}

resource "google_storage_bucket" "functions_source" {
  #checkov:skip=CKV_GCP_62:Access logs of a build-artifact bucket add nothing: only Terraform writes and only Cloud Build reads it, both audited by Cloud Audit Logs.
  name                        = "${var.project_id}-stratus-functions-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # Old archives are only needed to redeploy an old revision; keep 30 days of history.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.api]
}

# Content-addressed object name: a new archive means a new object, which redeploys every
# function; an unchanged archive is a no-op.
resource "google_storage_bucket_object" "functions_source" {
  name   = "functions/${filesha256(local.functions_source_zip)}.zip"
  bucket = google_storage_bucket.functions_source.name
  source = local.functions_source_zip
}

locals {
  functions_source_zip = startswith(var.functions_source_zip, "/") ? var.functions_source_zip : "${path.module}/${var.functions_source_zip}"
}

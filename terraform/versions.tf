# Provider and Terraform pins. google-beta is needed only for google_project_service_identity
# (to materialise the Pub/Sub service agent before granting it dead-letter permissions).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.20"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.20"
    }
  }

  # State lives in a versioned GCS bucket created once by hand (docs/deploy.md, step 3):
  #   terraform init -backend-config="bucket=<project>-tfstate"
  # Partial configuration keeps the bucket name out of the code, so the same module deploys
  # any number of projects (one project per environment).
  backend "gcs" {
    prefix = "stratus"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}

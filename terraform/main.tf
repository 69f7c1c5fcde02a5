# Stratus on Google Cloud: one project per environment. Resources are split by concern:
#   apis.tf       service enablement          iam.tf        service accounts and grants
#   network.tf    VPC + private services      pubsub.tf     schemas, topics, subscriptions
#   functions.tf  Cloud Functions gen2        run.tf        manager service + migration job
#   sql.tf        Cloud SQL PostgreSQL        firestore.tf  Firestore (native)
#   secrets.tf    Secret Manager containers   scheduler.tf  Cloud Scheduler jobs
#   registry.tf   Artifact Registry + source  monitoring.tf alert policies
#   topology.tf   ../topology.yaml as locals  edge.tf       load balancer + Cloud Armor
data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = merge({ app = "stratus", managed-by = "terraform" }, var.labels)

  project_number = data.google_project.this.number

  # The manager's deterministic run.app URL. Functions call it and the manager checks it as
  # the audience of their ID tokens: one value for both ends (a service cannot read its
  # own uri).
  manager_url = "https://stratus-manager-${local.project_number}.${var.region}.run.app"

  # Settings shared by every deployable (pydantic-settings, prefix STRATUS_). Production mode
  # refuses embedded backends and placeholder secrets.
  common_env = {
    STRATUS_ENVIRONMENT = "production"
    STRATUS_GCP_PROJECT = var.project_id
    STRATUS_BUS         = "pubsub"
    STRATUS_STATE       = "firestore"
    STRATUS_SECRETS     = "secretmanager"
    STRATUS_EXCHANGE    = var.exchange
    STRATUS_DRY_RUN     = tostring(var.dry_run)
    STRATUS_JSON_LOGS   = "true"
  }
}

# Private networking: Cloud SQL has only a private IP, so the manager reaches it through
# Cloud Run direct VPC egress into this subnet. Functions never talk to Cloud SQL and need
# no VPC access.
resource "google_compute_network" "vpc" {
  name                    = "stratus"
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"

  depends_on = [google_project_service.api]
}

resource "google_compute_subnetwork" "run" {
  name                     = "stratus-${var.region}"
  network                  = google_compute_network.vpc.id
  region                   = var.region
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true # Google APIs (Secret Manager, SQL Admin) without public egress

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Nothing in the VPC serves traffic. GCP's implied rule already denies ingress; this explicit,
# logged rule documents the intent and shows up in firewall logs if anything probes the VPC.
resource "google_compute_firewall" "deny_all_ingress" {
  name      = "stratus-deny-all-ingress"
  network   = google_compute_network.vpc.id
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Private services access: the peering Cloud SQL private IP lives behind.
resource "google_compute_global_address" "private_services" {
  name          = "stratus-private-services"
  purpose       = "VPC_PEERING"
  address_type  = "INTERNAL"
  prefix_length = var.private_services_prefix_length
  network       = google_compute_network.vpc.id
}

resource "google_service_networking_connection" "private_services" {
  network                 = google_compute_network.vpc.id
  service                 = "servicenetworking.googleapis.com"
  reserved_peering_ranges = [google_compute_global_address.private_services.name]
}

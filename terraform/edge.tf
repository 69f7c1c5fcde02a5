# The webhook's edge: a global external Application Load Balancer with a Cloud Armor policy
# in front of the public function, at https://<webhook_domain>/. Cloud Armor
# throttles each client IP before a request costs a function instance, drops non-POST
# traffic and Log4Shell probes at Google's edge, and adaptive protection watches for L7
# floods. With the edge the functions accept only internal and load-balancer traffic, so
# their run.app URLs cannot be used to go around it. ingest_signal still authenticates,
# rate-limits each signing source and validates every request itself (docs/pipeline.md).
#
# Without a webhook_domain (a development project) there is no edge and the public
# functions answer on their run.app URLs. docs/deploy.md says why Cloud Armor and not API
# Gateway.
locals {
  edge           = var.webhook_domain != ""
  edge_functions = local.edge ? local.public_functions : {}
  public_ingress = local.edge ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL"
}

resource "google_compute_security_policy" "webhook" {
  count = local.edge ? 1 : 0

  name        = "stratus-webhook"
  description = "Cloud Armor in front of the Stratus webhook."
  type        = "CLOUD_ARMOR"

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  rule {
    description = "Log4j JNDI lookups (CVE-2021-44228): nothing here runs Java, but refuse them at the edge."
    action      = "deny(403)"
    priority    = 100
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  rule {
    description = "Signals are POSTed; anything else never reaches a function."
    action      = "deny(403)"
    priority    = 200
    match {
      expr {
        expression = "request.method != 'POST'"
      }
    }
  }

  rule {
    description = "At most var.webhook_requests_per_ip_per_minute per client IP; 429 beyond."
    action      = "throttle"
    priority    = 1000
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action = "allow"
      exceed_action  = "deny(429)"
      enforce_on_key = "IP"
      rate_limit_threshold {
        count        = var.webhook_requests_per_ip_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    description = "Default: allow (the rules above and the function's own checks decide)."
    action      = "allow"
    priority    = 2147483647
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  depends_on = [google_project_service.api]
}

# Cloud Run functions (gen2) are Cloud Run services of the same name: a Cloud Run NEG.
resource "google_compute_region_network_endpoint_group" "webhook" {
  for_each = local.edge_functions

  name                  = "stratus-${local.function_resource_names[each.key]}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = google_cloudfunctions2_function.function[each.key].name
  }
}

resource "google_compute_backend_service" "webhook" {
  for_each = local.edge_functions

  name                  = "stratus-${local.function_resource_names[each.key]}"
  description           = "Public function ${each.key} behind Cloud Armor."
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.webhook[0].id

  backend {
    group = google_compute_region_network_endpoint_group.webhook[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1
  }
}

resource "google_compute_url_map" "webhook" {
  count = local.edge ? 1 : 0

  name            = "stratus-webhook"
  description     = "Every path of https://<webhook_domain> goes to the public function."
  default_service = one(values(google_compute_backend_service.webhook)[*].id)

  lifecycle {
    precondition {
      condition     = length(local.edge_functions) == 1
      error_message = "The edge serves one public function; a second needs its own host or path rule."
    }
  }
}

resource "google_compute_managed_ssl_certificate" "webhook" {
  count = local.edge ? 1 : 0

  name = "stratus-webhook"
  managed {
    domains = [var.webhook_domain]
  }
}

resource "google_compute_ssl_policy" "webhook" {
  count = local.edge ? 1 : 0

  name            = "stratus-webhook"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

resource "google_compute_target_https_proxy" "webhook" {
  count = local.edge ? 1 : 0

  name             = "stratus-webhook"
  url_map          = google_compute_url_map.webhook[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.webhook[0].id]
  ssl_policy       = google_compute_ssl_policy.webhook[0].id
}

resource "google_compute_global_address" "webhook" {
  count = local.edge ? 1 : 0

  name = "stratus-webhook"
}

resource "google_compute_global_forwarding_rule" "webhook" {
  count = local.edge ? 1 : 0

  name                  = "stratus-webhook"
  target                = google_compute_target_https_proxy.webhook[0].id
  ip_address            = google_compute_global_address.webhook[0].address
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}

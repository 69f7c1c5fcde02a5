# Inputs. Everything that differs between two Stratus projects is a variable; everything
# that describes the message flow (topics, functions, schedules) is in ../topology.yaml.

variable "project_id" {
  description = "Google Cloud project id that hosts one Stratus environment."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a valid GCP project id (6-30 chars, lowercase letters, digits, hyphens)."
  }
}

variable "region" {
  description = "Region for functions, Cloud Run, Cloud SQL, Scheduler and Artifact Registry."
  type        = string
  default     = "europe-west1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must look like a GCP region, e.g. europe-west1."
  }
}

variable "firestore_location" {
  description = "Firestore location (a region such as europe-west1 or a multi-region such as eur3). Null means var.region. Cannot be changed after creation."
  type        = string
  default     = null

  validation {
    condition     = var.firestore_location == null || can(regex("^([a-z]+-[a-z]+[0-9]|nam[0-9]+|eur[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be a region (europe-west1) or a multi-region (nam5, eur3)."
  }
}

variable "manager_image" {
  description = "Full reference of the manager container image, e.g. europe-west1-docker.pkg.dev/<project>/stratus/manager:<git-sha>. Cloud Build passes the image it just pushed."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9.-]+(:[0-9]+)?/[^ ]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$", var.manager_image))
    error_message = "manager_image must be a registry path with an explicit tag or digest (no implicit :latest)."
  }
}

variable "functions_source_zip" {
  description = "Local path of the functions source archive (main.py + stratus wheel + requirements.txt) built by Cloud Build. Relative paths are relative to the terraform/ directory."
  type        = string
  default     = "../dist/functions-source.zip"

  validation {
    condition     = endswith(var.functions_source_zip, ".zip")
    error_message = "functions_source_zip must point at a .zip archive."
  }
}

variable "exchange" {
  description = "Exchange backend for the functions: \"ccxt\" trades for real, \"paper\" simulates fills (a staging project)."
  type        = string
  default     = "ccxt"

  validation {
    condition     = contains(["ccxt", "paper"], var.exchange)
    error_message = "exchange must be \"ccxt\" or \"paper\"."
  }
}

variable "dry_run" {
  description = "When true the functions run the whole pipeline but never send an order to the exchange."
  type        = bool
  default     = false
}

variable "python_runtime" {
  description = "Cloud Functions runtime id."
  type        = string
  default     = "python311"

  validation {
    condition     = can(regex("^python3[0-9]{2}$", var.python_runtime))
    error_message = "python_runtime must be a Cloud Functions Python runtime id such as python311."
  }
}

variable "function_memory" {
  description = "Memory of each function instance: at least twice the largest measured peak (make bench-emulator: 132 MiB, execute_order on paper venues; importing ccxt adds 44 MiB before markets), and never under 512Mi, the floor of the second-generation execution environment. See docs/performance.md#memory-per-function-instance."
  type        = string
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function_memory))
    error_message = "function_memory must be a quantity such as 512Mi or 1Gi."
  }

  validation {
    condition     = try(tonumber(trimsuffix(trimsuffix(var.function_memory, "Gi"), "Mi")) * (endswith(var.function_memory, "Gi") ? 1024 : 1) >= 512, false)
    error_message = "function_memory must be at least 512Mi: the second-generation execution environment's floor, and about 4x the measured peak of a function instance."
  }
}

variable "function_max_instances" {
  description = "Default maximum instances per function (caps exchange and manager load)."
  type        = number
  default     = 10

  validation {
    condition     = var.function_max_instances >= 1 && var.function_max_instances <= 1000
    error_message = "function_max_instances must be between 1 and 1000."
  }
}

variable "function_max_instances_overrides" {
  description = "Per-function maximum instances, keyed by topology function name (e.g. { execute_order = 3 })."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.function_max_instances_overrides) : v >= 1 && v <= 1000])
    error_message = "Every override must be between 1 and 1000."
  }
}

variable "scheduled_function_timeout_seconds" {
  description = "Timeout of the scheduler-invoked HTTP functions (snapshot, reconcile, sweep). Topic-triggered functions use the topology ack deadline instead."
  type        = number
  default     = 300

  validation {
    condition     = var.scheduled_function_timeout_seconds >= 30 && var.scheduled_function_timeout_seconds <= 3600
    error_message = "scheduled_function_timeout_seconds must be between 30 and 3600."
  }
}

variable "manager_cpu" {
  description = "vCPUs per manager instance; the manager runs one worker process per vCPU."
  type        = number
  default     = 2

  validation {
    condition     = contains([1, 2, 4], var.manager_cpu)
    error_message = "manager_cpu must be 1, 2 or 4."
  }
}

variable "manager_min_instances" {
  description = "Minimum Cloud Run instances of the manager (>= 1 avoids cold starts on the order path)."
  type        = number
  default     = 1

  validation {
    condition     = var.manager_min_instances >= 0 && var.manager_min_instances <= 100
    error_message = "manager_min_instances must be between 0 and 100."
  }
}

variable "manager_max_instances" {
  description = "Maximum Cloud Run instances of the manager (bounded by Cloud SQL connections)."
  type        = number
  default     = 5

  validation {
    condition     = var.manager_max_instances >= 1 && var.manager_max_instances <= 100
    error_message = "manager_max_instances must be between 1 and 100."
  }
}

variable "admins" {
  description = "People who administer Stratus (accounts, exchange keys, tokens, flatten, sync), as [\"user:me@example.com\"]; they sign in with their Google identity."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.admins : can(regex("^user:[^@\\s]+@[^@\\s]+$", m))])
    error_message = "Each admin is user:<e-mail> (an ID token names a person, never a group)."
  }
}

variable "traders" {
  description = "People who trade (manual orders, cancels, closes) and read everything, as [\"user:trader@example.com\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.traders : can(regex("^user:[^@\\s]+@[^@\\s]+$", m))])
    error_message = "Each trader is user:<e-mail> (an ID token names a person, never a group)."
  }
}

variable "readers" {
  description = "People who read everything but exchange keys, as [\"user:viewer@example.com\"]."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.readers : can(regex("^user:[^@\\s]+@[^@\\s]+$", m))])
    error_message = "Each reader is user:<e-mail> (an ID token names a person, never a group)."
  }
}

variable "manager_invokers" {
  description = "Extra IAM principals allowed through Cloud Run to the manager (e.g. [\"group:ops@example.com\"]); they still need a role there: admins/traders/readers, or a machine token."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.manager_invokers : can(regex("^(user|group|serviceAccount|domain):", m))])
    error_message = "Each manager invoker must start with user:, group:, serviceAccount: or domain: (allUsers is not allowed)."
  }
}

variable "db_version" {
  description = "Cloud SQL PostgreSQL major version (the newest is the default; major upgrades are in-place but need a maintenance window)."
  type        = string
  default     = "POSTGRES_18"

  validation {
    condition     = contains(["POSTGRES_16", "POSTGRES_17", "POSTGRES_18"], var.db_version)
    error_message = "db_version must be POSTGRES_16, POSTGRES_17 or POSTGRES_18."
  }
}

variable "db_tier" {
  description = "Cloud SQL machine tier (Enterprise edition), e.g. db-custom-1-3840."
  type        = string
  default     = "db-custom-1-3840"

  validation {
    condition     = can(regex("^db-(custom-[0-9]+-[0-9]+|g1-small|f1-micro)$", var.db_tier))
    error_message = "db_tier must be an Enterprise-edition tier such as db-custom-2-7680."
  }
}

variable "db_availability_type" {
  description = "REGIONAL gives a hot standby in a second zone; ZONAL is cheaper for staging."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "ZONAL"], var.db_availability_type)
    error_message = "db_availability_type must be REGIONAL or ZONAL."
  }
}

variable "db_backup_retention_count" {
  description = "Number of daily automated Cloud SQL backups to keep."
  type        = number
  default     = 14

  validation {
    condition     = var.db_backup_retention_count >= 7 && var.db_backup_retention_count <= 365
    error_message = "db_backup_retention_count must be between 7 and 365."
  }
}

variable "db_log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery."
  type        = number
  default     = 7

  validation {
    condition     = var.db_log_retention_days >= 1 && var.db_log_retention_days <= 7
    error_message = "db_log_retention_days must be between 1 and 7."
  }
}

variable "subnet_cidr" {
  description = "CIDR of the regional subnet used by Cloud Run direct VPC egress."
  type        = string
  default     = "10.10.0.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be a valid IPv4 CIDR."
  }
}

variable "private_services_prefix_length" {
  description = "Prefix length of the range reserved for private services access (Cloud SQL private IP)."
  type        = number
  default     = 20

  validation {
    condition     = var.private_services_prefix_length >= 16 && var.private_services_prefix_length <= 24
    error_message = "private_services_prefix_length must be between 16 and 24."
  }
}

variable "alert_emails" {
  description = "E-mail addresses notified by the alert policies. Empty means alerts only show in the console."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alert_emails must be e-mail addresses."
  }
}

variable "function_error_threshold" {
  description = "Alert when a function returns more than this many 5xx responses in 5 minutes (each 5xx is a Pub/Sub retry or a failed scheduled run)."
  type        = number
  default     = 0

  validation {
    condition     = var.function_error_threshold >= 0
    error_message = "function_error_threshold must be >= 0."
  }
}

variable "backlog_age_threshold_seconds" {
  description = "Alert when the oldest unacknowledged message of a function subscription is older than this."
  type        = number
  default     = 600

  validation {
    condition     = var.backlog_age_threshold_seconds >= 60
    error_message = "backlog_age_threshold_seconds must be at least 60."
  }
}

variable "labels" {
  description = "Extra labels applied to every resource that supports labels."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))])
    error_message = "Label keys/values must be lowercase letters, digits, _ or - (keys start with a letter)."
  }
}

variable "webhook_domain" {
  description = "Host name of the webhook's edge (load balancer + Cloud Armor, edge.tf), e.g. hooks.example.com; its DNS A record must point at the webhook_edge_ip output. Empty: no edge, the webhook answers on its run.app URL (development projects only)."
  type        = string
  default     = ""

  validation {
    condition     = var.webhook_domain == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.webhook_domain))
    error_message = "webhook_domain must be empty or a lower-case DNS name such as hooks.example.com."
  }
}

variable "webhook_requests_per_ip_per_minute" {
  description = "Cloud Armor's throttle per client IP at the edge (429 beyond). Keep it above the application's per-source limit (STRATUS_WEBHOOK_RATE_LIMIT): TradingView sends every customer's alerts from a few addresses."
  type        = number
  default     = 600

  validation {
    condition     = var.webhook_requests_per_ip_per_minute >= 10 && var.webhook_requests_per_ip_per_minute <= 100000
    error_message = "webhook_requests_per_ip_per_minute must be between 10 and 100000."
  }
}

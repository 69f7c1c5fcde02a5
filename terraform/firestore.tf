# Firestore (native mode): the functions' fast per-message state (idempotency ledger, order
# lifecycle documents, kill switch, cached markets) and, with var.exchange = "paper", the
# paper venues every function trades on.
resource "google_firestore_database" "main" {
  name        = "(default)" # the client libraries' default database: no extra setting needed
  location_id = coalesce(var.firestore_location, var.region)
  type        = "FIRESTORE_NATIVE"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON" # terraform destroy never deletes data

  depends_on = [google_project_service.api]
}

# Webhook replay claims (stratus.adapters.firestore_state.CLAIMS) only matter for the
# signature's tolerance window: Firestore deletes them after `expires_at`.
resource "google_firestore_field" "claims_ttl" {
  database   = google_firestore_database.main.name
  collection = "claims"
  field      = "expires_at"

  ttl_config {}
}

# Finished paper orders (stratus.adapters.firestore_paper_venues.ORDERS) are kept for
# lookups by clientOrderId for a week (`expires_at`), then Firestore deletes them.
resource "google_firestore_field" "paper_orders_ttl" {
  database   = google_firestore_database.main.name
  collection = "paper_orders"
  field      = "expires_at"

  ttl_config {}
}

# The paper venues' JSON documents are only ever read whole: no index on them (an empty
# index_config disables the automatic single-field indexes), which keeps writes cheap.
resource "google_firestore_field" "paper_documents_unindexed" {
  for_each   = toset(["paper_venues", "paper_orders"])
  database   = google_firestore_database.main.name
  collection = each.key
  field      = "document"

  index_config {}
}

# Webhook rate-limit counters (stratus.adapters.firestore_state.COUNTERS), one per source and
# window: Firestore deletes them after `expires_at` (two windows).
resource "google_firestore_field" "counters_ttl" {
  database   = google_firestore_database.main.name
  collection = "counters"
  field      = "expires_at"

  ttl_config {}
}

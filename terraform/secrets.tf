# Secret Manager: containers only. Values never pass through Terraform (they would land in
# the state); operators add versions out of band (docs/deploy.md, "Secrets"):
#   webhook-secrets    JSON map {"<source>": "<hmac secret>"} read by ingest_signal
#   master-key         AES-256 key (base64) for envelope encryption of exchange API keys
# The code reads the "latest" version at runtime, so rotation is "add a version".
resource "google_secret_manager_secret" "secret" {
  for_each = local.secret_ids

  secret_id = each.key

  replication {
    auto {}
  }

  depends_on = [google_project_service.api]
}

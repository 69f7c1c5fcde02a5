# People sign in with their Google identity (docs/deploy.md, "Sign-in"): the stratus CLI
# and curl send `gcloud auth print-identity-token`, a Google-signed ID token. Cloud Run's
# IAM lets each listed person reach the manager (roles/run.invoker), and the manager
# verifies the same token and gives the person the role these variables say. No secret is
# made by hand: the first admin is whoever `admins` names at the first apply.
locals {
  # e-mail -> role; someone listed twice gets the highest role.
  manager_people = merge(
    { for member in var.readers : lower(trimprefix(member, "user:")) => "reader" },
    { for member in var.traders : lower(trimprefix(member, "user:")) => "trader" },
    { for member in var.admins : lower(trimprefix(member, "user:")) => "admin" },
  )
}

resource "google_cloud_run_v2_service_iam_member" "manager_people_invoker" {
  for_each = toset(concat(var.admins, var.traders, var.readers))

  location = google_cloud_run_v2_service.manager.location
  name     = google_cloud_run_v2_service.manager.name
  role     = "roles/run.invoker"
  member   = each.key
}

# The message flow as data. ../topology.yaml is the one description of topics, functions and
# schedules (also read by the local stack and the tests); nothing here retypes a topic,
# function or schedule name. tests/infra checks that the resources below are driven by
# these locals and agree with functions/main.py.
locals {
  topology = yamldecode(file("${path.module}/../topology.yaml"))

  retry     = local.topology.retry
  topics    = local.topology.topics
  functions = local.topology.functions
  schedules = local.topology.schedules

  # Distinct Avro schemas (two topics may carry the same message type).
  schema_names = toset([for topic in values(local.topics) : topic.schema])

  # Every topic has a schemaless "<topic>-dead-letter" topic (see topology.yaml).
  dead_letter_topics = { for name, topic in local.topics : name => "${name}-dead-letter" }

  # Functions partitioned by how they are invoked.
  #   topic_functions:     Pub/Sub push subscription -> function (CloudEvent signature)
  #   listening_functions: one push subscription per topic they hear, dead-letter topics
  #                        too (notify: trigger.topics, trigger.dead_letters)
  #   public_functions:    internet-facing HTTP (allUsers invoker; HMAC checked in code)
  #   scheduled_functions: private HTTP, invoked by Cloud Scheduler with an OIDC token
  topic_functions     = { for name, fn in local.functions : name => fn if try(fn.trigger.topic, null) != null }
  listening_functions = { for name, fn in local.functions : name => fn if length(try(fn.trigger.topics, [])) > 0 }
  public_functions    = { for name, fn in local.functions : name => fn if try(fn.trigger.http, null) == "public" }
  scheduled_functions = { for name, fn in local.functions : name => fn if try(fn.trigger.http, null) == "scheduler" }

  # Every function Pub/Sub pushes to.
  pushed_functions = merge(local.topic_functions, local.listening_functions)

  # The listening functions' subscriptions, "<topic>/<function>" -> what it hears and where
  # it gives up (flow: a flow topic, with its own dead-letter topic; else a dead-letter topic,
  # whose failures are retried until they expire, as the manager's recorder does).
  listening_subscriptions = merge([
    for name, fn in local.listening_functions : merge(
      { for topic in fn.trigger.topics : "${topic}/${name}" => { function = name, topic = topic, flow = true } },
      { for topic in(try(fn.trigger.dead_letters, false) ? values(local.dead_letter_topics) : []) : "${topic}/${name}" => { function = name, topic = topic, flow = false } },
    )
  ]...)

  # Cloud resource names cannot contain "_"; the Python target keeps its name as entry point.
  function_resource_names = { for name, fn in local.functions : name => replace(name, "_", "-") }

  # (function, topic) pairs for publisher grants, and (function, secret) pairs for
  # secret accessor grants: exactly what the topology says each function touches.
  function_publishes = merge([
    for name, fn in local.functions : {
      for topic in try(fn.publishes, []) : "${name}/${topic}" => { function = name, topic = topic }
    }
  ]...)
  function_secrets = merge([
    for name, fn in local.functions : {
      for secret in try(fn.secrets, []) : "${name}/${secret}" => { function = name, secret = secret }
    }
  ]...)

  # Secrets the manager reads: the master key (envelope-encrypts exchange API keys). People
  # sign in with their Google identity and machine tokens live hashed in the database, so
  # no token secret exists. Not in topology.yaml: the manager is no function of the flow.
  manager_secrets = ["master-key"]

  # Every secret container Terraform declares (values are added out of band).
  secret_ids = toset(concat(
    flatten([for fn in values(local.functions) : try(fn.secrets, [])]),
    local.manager_secrets,
  ))

  # The manager API role of each function. Everything behind the public edge trades; the
  # internet-facing ingest_signal only reads whether a signal's account exists and is
  # enabled (never exchange keys, never a write).
  manager_roles = { for name, fn in local.functions : name => contains(keys(local.public_functions), name) ? "reader" : "trader" }
}

# A first stack: variables, locals, references, count and for_each, with no cloud at all.

variable "environment" {
  type        = string
  default     = "dev"
  description = "The environment these values belong to."
}

locals {
  prefix = "lane-${var.environment}"
  shards = {
    train = 4
    eval  = 1
  }
}

resource "lanestack_data" "base" {
  input = {
    name = local.prefix
    tags = { environment = var.environment }
  }
}

# Refers to the base: planned after it, and its input follows base's id.
resource "lanestack_data" "derived" {
  input = {
    parent = lanestack_data.base.id
    label  = format("%s-derived", local.prefix)
  }
  triggers_replace = var.environment
}

resource "lanestack_data" "worker" {
  count = 3
  input = {
    index = count.index
    name  = "${local.prefix}-worker-${count.index}"
  }
}

resource "lanestack_data" "shard" {
  for_each = local.shards
  input = merge(lanestack_data.base.output.tags, {
    role     = each.key
    replicas = each.value
  })
}

output "summary" {
  value = {
    base    = lanestack_data.base.id
    derived = lanestack_data.derived.output.label
    workers = join(",", [
      lanestack_data.worker[0].output.name,
      lanestack_data.worker[1].output.name,
      lanestack_data.worker[2].output.name,
    ])
  }
}

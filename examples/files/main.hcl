# Renders configuration files into out/, one of them holding a secret. Paths (lanestack_file's
# path, templatefile's file) are relative to this stack's directory.

variable "service_name" {
  type    = string
  default = "trainer"
}

variable "api_token" {
  type      = string
  default   = "not-a-real-token"
  sensitive = true
}

locals {
  settings = {
    service = var.service_name
    workers = 4
    labels  = ["lanes", "tusimple"]
  }
}

resource "lanestack_file" "settings" {
  path    = "out/settings.json"
  content = jsonencode(local.settings)
}

resource "lanestack_file" "service" {
  path = "out/${var.service_name}.conf"
  content = templatefile("templates/service.conf.tftpl", {
    name     = var.service_name
    settings = lanestack_file.settings.path
    labels   = join(" ", local.settings.labels)
  })
}

resource "lanestack_file" "credentials" {
  path              = "out/credentials.env"
  sensitive_content = format("API_TOKEN=%s\n", var.api_token)
  file_permission   = "0600"
}

output "settings_sha256" {
  value = lanestack_file.settings.sha256
}

locals {
  prefix = "web"
}

output "name" {
  value = local.prefx
}

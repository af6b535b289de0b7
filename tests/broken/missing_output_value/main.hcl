output "name" {
  description = "no value"
}

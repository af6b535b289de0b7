terraform {
  required_version = ">= 1.0"
}

resorce "lanestack_data" "a" {
  input = 1
}

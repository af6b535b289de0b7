resource "lanestack_data" "a" {
  input = 1
  lifecycle {
    ignore_changes  = [input, "output"]
    prevent_destroy = "yes"
  }
}

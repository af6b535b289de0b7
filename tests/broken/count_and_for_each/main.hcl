resource "lanestack_data" "x" {
  count    = 2
  for_each = toset(["a", "b"])
  input    = 1
}

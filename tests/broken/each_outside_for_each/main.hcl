resource "lanestack_data" "x" {
  count = 2
  input = each.value
}

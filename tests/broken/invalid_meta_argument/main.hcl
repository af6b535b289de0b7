resource "lanestack_data" "a" {
  provider = lanestack.other
  input    = 1
}

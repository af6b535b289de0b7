resource "lanestack_data" "x" {
  input = 1
  input = 2
}

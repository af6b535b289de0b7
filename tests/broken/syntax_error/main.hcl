resource "lanestack_data" "a" {
  input = [1, 2
}

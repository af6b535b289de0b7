resource "lanestack_data" "x" {
  input = 1
}

resource "lanestack_data" "x" {
  input = 2
}

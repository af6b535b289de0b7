resource "lanestack_data" "a" {
  input = 1
}

resource "lanestack_data" "b" {
  input      = 2
  depends_on = [lanestack_data.a, "lanestack_data.a", lanestack_data.a.id]
}

resource "lanestack_data" "a" {
  colour = "red"
}

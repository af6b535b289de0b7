resource "lanestack_data" "a" {
  id = "fixed"
}

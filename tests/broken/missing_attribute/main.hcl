resource "lanestack_test" "a" {
  size = 3
}

resource "lanestack_test" "a" {
  name = "disk"
  size = "large"
}

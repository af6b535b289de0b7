resource "lanestack_data" "a" {
  inpt = "hello"
}

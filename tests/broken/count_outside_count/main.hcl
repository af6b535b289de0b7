resource "lanestack_data" "x" {
  input = "shard-${count.index}"
}

# Three resources that refer to each other in a ring: no order can satisfy them.

resource "lanestack_data" "a" {
  input = lanestack_data.c.id
}

resource "lanestack_data" "b" {
  input = lanestack_data.a.id
}

resource "lanestack_data" "c" {
  input = { upstream = lanestack_data.b.output }
}

# Not on the cycle: must not be named.
resource "lanestack_data" "d" {
  input = lanestack_data.a.id
}

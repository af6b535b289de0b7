variable "region" {
  type = string
}

resource "lanestack_data" "a" {
  input = "${var.regoin}-a"
}

resource "lanestack_data" "b" {
  input = lanestack_data.aa.id
}

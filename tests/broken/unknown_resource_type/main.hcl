resource "lanestack_dat" "a" {
  input = 1
}

resource "azure_subnet" "b" {
  name = "x"
}

# The trainer image (runbook §10: `docker build`, then `docker push` to the registry), built by
# lanestack itself: cargo builds the trainer, lanestack packs it into a layer on the base image
# and pushes the image to the stack's registry. Its identity is the digest of the trainer's
# sources: unchanged sources plan no change; changed ones rebuild it, and the jobs that run it
# are replaced (replace_triggered_by in training.hcl).

provider "image" {
  username = var.registry_username
  password = var.registry_password
}

# Paths are relative to this stack (the build runs here too, so Cargo reads CARGO_TARGET_DIR
# the same way).
locals {
  source_root      = var.source_root != "" ? var.source_root : "../.."
  cargo_target_dir = var.cargo_target_dir != "" ? var.cargo_target_dir : "${local.source_root}/target"
  # Cargo's directory for a profile: dev builds go to debug/.
  trainer_binary = "${local.cargo_target_dir}/${var.trainer_cargo_profile == "dev" ? "debug" : var.trainer_cargo_profile}/lanestack-trainer"
  trainer_build = length(var.trainer_build_command) > 0 ? var.trainer_build_command : [
    "cargo", "build", "--locked", "--manifest-path", "${local.source_root}/Cargo.toml",
    "--profile", var.trainer_cargo_profile, "-p", "lanestack-trainer",
  ]
}

resource "image_build" "trainer" {
  repository = "${azure_container_registry.acr.login_server}/lanestack-trainer"
  tag        = var.trainer_version
  base       = var.trainer_base_image != "" ? var.trainer_base_image : null

  build {
    command = local.trainer_build
    env     = { CARGO_TARGET_DIR = local.cargo_target_dir }
    # What the trainer binary is made from: its crate and the workspace's manifest and lock.
    inputs = ["${local.source_root}/trainer", "${local.source_root}/Cargo.toml", "${local.source_root}/Cargo.lock"]
  }

  layer {
    source = local.trainer_binary
    target = "/usr/local/bin/lanestack-trainer"
    mode   = "0755"
  }

  labels = {
    "org.opencontainers.image.title"   = "lanestack-trainer"
    "org.opencontainers.image.version" = var.trainer_version
  }
}

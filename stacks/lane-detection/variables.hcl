# Inputs of the lane-detection platform. Every one has a default that runs against the local
# cloud (`lanestack apply --emulator stacks/lane-detection`); for Azure, set at least
# `anf_client_id` and `anf_client_secret` (the service principal Trident uses for ANF), e.g.
# LANESTACK_VAR_anf_client_secret=... in the environment.

variable "location" {
  type        = string
  default     = "westeurope"
  description = "The Azure region of every object."
}

variable "prefix" {
  type        = string
  default     = "lane"
  description = "Prefixes the names of the Azure objects."
}

variable "gpu_vm_size" {
  type        = string
  default     = "Standard_NC6s_v3"
  description = "The GPU nodes' VM size (one V100 each)."
}

variable "gpu_nodes" {
  type        = number
  default     = 3
  description = "GPU nodes, one training process each."
}

variable "anf_client_id" {
  type        = string
  default     = "00000000-0000-0000-0000-0000000000aa"
  description = "The application (client) id of the service principal Trident uses for ANF."
}

variable "anf_client_secret" {
  type        = string
  sensitive   = true
  default     = "local-cloud-only"
  description = "Its password. Never printed, never in a saved plan."
}

variable "manifests" {
  type        = string
  default     = "file://manifests"
  description = "Where the upstream manifests are read from (pinned by SHA-256 either way): the copies in manifests/, or a URL prefix serving the same files."
}

variable "trainer_version" {
  type        = string
  default     = "0.1.0"
  description = "The tag of the trainer image in the stack's registry."
}

variable "synthetic_frames" {
  type        = number
  default     = 200
  description = "Frames the data job generates in TuSimple's format (lanestack-trainer synth)."
}

variable "restore_from_snapshot" {
  type        = string
  default     = ""
  description = "A VolumeSnapshot of the data claim to restore into a new claim (runbook §12); empty: none."
}

variable "trainer_base_image" {
  type        = string
  default     = ""
  description = "The trainer image's base: an image with Open MPI 4.1 (and CUDA's runtime for GPU builds), best pinned by digest (registry/repository@sha256:...). Empty: none, the image holds the trainer alone (enough for the local cloud, whose jobs do not run containers)."
}

variable "trainer_cargo_profile" {
  type        = string
  default     = "release"
  description = "The Cargo profile the trainer is built with (release; dev for a quick local build)."
}

variable "trainer_build_command" {
  type        = list(string)
  default     = []
  description = "The command that builds the trainer into <cargo_target_dir>/<profile>/lanestack-trainer, run in this stack's directory; empty: cargo build --locked --manifest-path <source_root>/Cargo.toml --profile <trainer_cargo_profile> -p lanestack-trainer."
}

variable "source_root" {
  type        = string
  default     = ""
  description = "The lanestack checkout the trainer is built from (relative to this stack, or absolute); empty: the one this stack is in."
}

variable "cargo_target_dir" {
  type        = string
  default     = ""
  description = "Cargo's target directory for the trainer's build (CARGO_TARGET_DIR; relative to this stack, or absolute); empty: target/ in source_root."
}

variable "registry_username" {
  type        = string
  default     = ""
  description = "Who pushes the trainer image to the stack's registry: a service principal's client id with AcrPush on it (ACR takes it as a user name). Set by --emulator for the local cloud."
}

variable "registry_password" {
  type        = string
  sensitive   = true
  default     = ""
  description = "That service principal's secret. Never printed, never in a saved plan."
}

variable "runai_url" {
  type        = string
  default     = ""
  description = "The Run:ai control plane (the tenant's URL, e.g. https://myorg.run.ai). Set by --emulator for the local cloud."
}

variable "runai_client_id" {
  type        = string
  default     = ""
  description = "A Run:ai application's client id, allowed to manage projects in the cluster."
}

variable "runai_client_secret" {
  type        = string
  sensitive   = true
  default     = ""
  description = "That application's secret. Never printed, never in a saved plan."
}

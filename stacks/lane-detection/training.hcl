# Training (runbook §8–12): the Run:ai project, whose namespace the training runs in, and the
# permission to snapshot its volume; the data claim on ANF, the data job, the data-parallel MPI
# training job, and a claim restored from a snapshot of the data.

locals {
  # By digest: what the reviewed plan showed is what the nodes pull.
  trainer_image = image_build.trainer.ref
  data_claim    = "pvc-tusimple-data"
  # Run:ai's scheduler places the project's pods within its quota. Run:ai enforces it in a
  # project's namespace by default (enforceRunaiScheduler); naming it keeps that true on a
  # cluster where the setting is off.
  scheduler     = "runai-scheduler"
}

# Run:ai's control plane (the tenant) and an application's credentials; --emulator sets the
# local cloud's.
provider "runai" {
  url           = var.runai_url
  client_id     = var.runai_client_id
  client_secret = var.runai_client_secret
}

# The AKS cluster as Run:ai knows it (its cluster agent registers it under the cluster's name),
# looked up once the cluster exists.
data "runai_cluster" "aks" {
  name       = azure_kubernetes_cluster.aks.name
  depends_on = [azure_kubernetes_cluster.aks]
}

# The Run:ai project (runbook §8): Run:ai makes its namespace, runai-lane-detection, where the
# jobs run, scheduled within the project's GPU quota.
resource "runai_project" "lane_detection" {
  name       = "lane-detection"
  cluster_id = data.runai_cluster.aks.id
  node_pool {
    name         = "default"
    gpu_deserved = var.gpu_nodes
  }
}

# The trainer snapshots its own volume when training ends (ENABLE_SNAPSHOT).
resource "kubernetes_manifest" "snapshot_role" {
  manifest = yamlencode({
    apiVersion = "rbac.authorization.k8s.io/v1"
    kind       = "ClusterRole"
    metadata   = { name = "netappsnapshot" }
    rules = [{
      apiGroups = ["snapshot.storage.k8s.io"]
      resources = ["volumesnapshots"]
      verbs     = ["get", "list", "watch", "create", "update", "patch", "delete"]
    }]
  })
}

resource "kubernetes_manifest" "snapshot_binding" {
  manifest = yamlencode({
    apiVersion = "rbac.authorization.k8s.io/v1"
    kind       = "ClusterRoleBinding"
    metadata   = { name = "netappsnapshot" }
    roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "netappsnapshot" }
    subjects   = [{ kind = "ServiceAccount", name = "default", namespace = runai_project.lane_detection.namespace }]
  })
  depends_on = [kubernetes_manifest.snapshot_role]
}

# The data set's volume: ReadWriteMany from the start, so every node can mount it.
resource "kubernetes_manifest" "data_claim" {
  manifest = yamlencode({
    apiVersion = "v1"
    kind       = "PersistentVolumeClaim"
    metadata   = { name = local.data_claim, namespace = runai_project.lane_detection.namespace }
    spec = {
      accessModes      = ["ReadWriteMany"]
      storageClassName = "azurenetappfiles"
      resources        = { requests = { storage = "100Gi" } }
    }
  })
  wait {
    fields = { "status.phase" = "Bound" }
  }
  depends_on = [kubernetes_manifest.storage_class, kubernetes_manifest.anf_backend]
}

# The data job (runbook §9): a TuSimple-format set on the claim. Here the trainer's own
# generator; a real download job takes its place by changing the command.
resource "kubernetes_manifest" "data_job" {
  manifest = yamlencode({
    apiVersion = "batch/v1"
    kind       = "Job"
    metadata   = { name = "download-tusimple-data", namespace = runai_project.lane_detection.namespace }
    spec = {
      backoffLimit = 2
      template = {
        spec = {
          schedulerName = local.scheduler
          restartPolicy = "Never"
          containers = [{
            name    = "data"
            image   = local.trainer_image
            command = ["lanestack-trainer", "synth", "--out", "/mnt/tusimple_data", "--frames", tostring(var.synthetic_frames)]
            volumeMounts = [{ name = "data", mountPath = "/mnt" }]
          }]
          volumes = [{ name = "data", persistentVolumeClaim = { claimName = local.data_claim } }]
        }
      }
    }
  })
  wait {
    conditions         = { Complete = "True" }
    failure_conditions = { Failed = "True" }
    timeout_seconds    = 3600
  }
  depends_on = [kubernetes_manifest.data_claim]
  # A Job's pod template cannot change: a new trainer image means a new Job.
  lifecycle {
    replace_triggered_by = [image_build.trainer.digest]
  }
}

# Data-parallel training (runbook §11): 3 processes, one GPU each, on the GPU pool, a large
# /dev/shm for the loader's workers, the seed's settings; a snapshot of the claim at the end.
resource "kubernetes_manifest" "training" {
  manifest = yamlencode({
    apiVersion = "kubeflow.org/v2beta1"
    kind       = "MPIJob"
    metadata   = { name = "dist-lane-detection-training", namespace = runai_project.lane_detection.namespace }
    spec = {
      slotsPerWorker = 1
      runPolicy      = { cleanPodPolicy = "Running" }
      mpiReplicaSpecs = {
        Launcher = {
          replicas = 1
          template = {
            spec = {
              schedulerName = local.scheduler
              containers = [{
                name    = "launcher"
                image   = local.trainer_image
                command = ["mpirun", "--allow-run-as-root", "-np", tostring(var.gpu_nodes), "lanestack-trainer", "train"]
              }]
            }
          }
        }
        Worker = {
          replicas = var.gpu_nodes
          template = {
            spec = {
              schedulerName = local.scheduler
              nodeSelector  = { "kubernetes.azure.com/agentpool" = azure_kubernetes_node_pool.gpu.name }
              containers = [{
                name      = "worker"
                image     = local.trainer_image
                resources = { limits = { "nvidia.com/gpu" = 1 } }
                env = [
                  { name = "USE_WORKERS", value = "true" },
                  { name = "NUM_WORKERS", value = "4" },
                  { name = "BATCH_SIZE", value = "33" },
                  { name = "USE_VAL", value = "false" },
                  { name = "VAL_BATCH_SIZE", value = "99" },
                  { name = "ENABLE_SNAPSHOT", value = "true" },
                  { name = "PVC_NAME", value = local.data_claim },
                ]
                volumeMounts = [
                  { name = "data", mountPath = "/mnt" },
                  { name = "shm", mountPath = "/dev/shm" },
                ]
              }]
              volumes = [
                { name = "data", persistentVolumeClaim = { claimName = local.data_claim } },
                { name = "shm", emptyDir = { medium = "Memory" } },
              ]
            }
          }
        }
      }
    }
  })
  depends_on = [kubernetes_manifest.crd, kubernetes_manifest.data_job, kubernetes_manifest.snapshot_binding]
  # Training starts over with a new trainer image.
  lifecycle {
    replace_triggered_by = [image_build.trainer.digest]
  }
}

# A claim restored from a snapshot of the data (runbook §12), when one is named.
resource "kubernetes_manifest" "restored_claim" {
  count = var.restore_from_snapshot == "" ? 0 : 1
  manifest = yamlencode({
    apiVersion = "v1"
    kind       = "PersistentVolumeClaim"
    metadata   = { name = "restored-tusimple", namespace = runai_project.lane_detection.namespace }
    spec = {
      accessModes      = ["ReadWriteMany"]
      storageClassName = "azurenetappfiles"
      resources        = { requests = { storage = "100Gi" } }
      dataSource       = { apiGroup = "snapshot.storage.k8s.io", kind = "VolumeSnapshot", name = var.restore_from_snapshot }
    }
  })
  wait {
    fields = { "status.phase" = "Bound" }
  }
  depends_on = [kubernetes_manifest.snapshot_class]
}

output "cluster_fqdn" {
  value = azure_kubernetes_cluster.aks.fqdn
}

output "trainer_image" {
  value       = local.trainer_image
  description = "The trainer image the jobs run, by digest, in the stack's registry."
}

output "data_claim" {
  value = local.data_claim
}

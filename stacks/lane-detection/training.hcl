# Training (runbook §8–12): the namespace and the permission to snapshot its volume, the data
# claim on ANF, the data job, the data-parallel MPI training job, and a claim restored from a
# snapshot of the data.

locals {
  # By digest: what the reviewed plan showed is what the nodes pull.
  trainer_image = image_build.trainer.ref
  data_claim    = "pvc-tusimple-data"
}

resource "kubernetes_namespace" "training" {
  metadata {
    name   = "lane-detection"
    labels = { "app.kubernetes.io/part-of" = "lane-detection" }
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
    subjects   = [{ kind = "ServiceAccount", name = "default", namespace = kubernetes_namespace.training.metadata.name }]
  })
  depends_on = [kubernetes_manifest.snapshot_role]
}

# The data set's volume: ReadWriteMany from the start, so every node can mount it.
resource "kubernetes_manifest" "data_claim" {
  manifest = yamlencode({
    apiVersion = "v1"
    kind       = "PersistentVolumeClaim"
    metadata   = { name = local.data_claim, namespace = kubernetes_namespace.training.metadata.name }
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
    metadata   = { name = "download-tusimple-data", namespace = kubernetes_namespace.training.metadata.name }
    spec = {
      backoffLimit = 2
      template = {
        spec = {
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
    metadata   = { name = "dist-lane-detection-training", namespace = kubernetes_namespace.training.metadata.name }
    spec = {
      slotsPerWorker = 1
      runPolicy      = { cleanPodPolicy = "Running" }
      mpiReplicaSpecs = {
        Launcher = {
          replicas = 1
          template = {
            spec = {
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
              nodeSelector = { "kubernetes.azure.com/agentpool" = azure_kubernetes_node_pool.gpu.name }
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
    metadata   = { name = "restored-tusimple", namespace = kubernetes_namespace.training.metadata.name }
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

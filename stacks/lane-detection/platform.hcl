# The Kubernetes platform in the cluster (runbook §5–8): the CSI snapshot CRDs and controller,
# Trident (its operator's Helm chart, the ANF backend and its credentials), the storage and
# snapshot classes, the MPIJob CRD. The kubernetes provider is configured from the cluster's
# own credentials: the cluster is created first, and its objects are deleted before it.

provider "kubernetes" {
  kubeconfig = azure_kubernetes_cluster.aks.kube_config_raw
}

locals {
  # Upstream files, each pinned by its SHA-256 (manifests/README.md says where each is from).
  upstream = {
    "external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotclasses.yaml"  = "75e6565aac2c0f2949ed13ea884bbaa388cb7be576b558b709cf1168e011828d"
    "external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotcontents.yaml" = "895a3c1e73b60f06a0deb566dd123d01bdf1b2efc5d5ff5231ff8bbcf42dafc7"
    "external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshots.yaml"        = "b032116e987fb1d7d93cec7d942833adeb9d95c9bdc7e00c10b280c2fe4a6c33"
    "external-snapshotter-afb2f0d/rbac-snapshot-controller.yaml"                       = "99c4ac480b6c9563be0d85599e29cc7b68b25a82d250b0e789726727551e8d38"
    "external-snapshotter-afb2f0d/setup-snapshot-controller.yaml"                      = "54b9342a7433c377b83a671babf416660078a716ec2e63f658a77aa629de5581"
    "mpi-operator-caa3c47/kubeflow.org_mpijobs.yaml"                                   = "78b0131f931fcc8d99f6ce0407281f41b62527e443ec691d26d9634b390ad3bb"
    "lanestack/trident.netapp.io_tridentbackendconfigs.yaml"                           = "f0f98b0cedd3905b4f20c9421d61fdefed87caca4b86315e9af1d4809d9713a9"
  }
}

data "lanestack_download" "manifest" {
  for_each = local.upstream
  url      = "${var.manifests}/${each.key}"
  sha256   = each.value
}

locals {
  crd_files = [
    "external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotclasses.yaml",
    "external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshotcontents.yaml",
    "external-snapshotter-afb2f0d/snapshot.storage.k8s.io_volumesnapshots.yaml",
    "lanestack/trident.netapp.io_tridentbackendconfigs.yaml",
    "mpi-operator-caa3c47/kubeflow.org_mpijobs.yaml",
  ]
  snapshot_controller_files = [
    "external-snapshotter-afb2f0d/rbac-snapshot-controller.yaml",
    "external-snapshotter-afb2f0d/setup-snapshot-controller.yaml",
  ]
  # Every document of those files and the Trident chart's CRDs, keyed by what it is, so that
  # each is an object of its own.
  crds = merge(
    {
      for d in concat([for f in local.crd_files : yamldecodeall(data.lanestack_download.manifest[f].content)]...) :
      d.metadata.name => d
    },
    { for text in values(data.helm_template.trident.crds) : yamldecode(text).metadata.name => yamldecode(text) },
  )
  snapshot_controller = {
    for d in concat([for f in local.snapshot_controller_files : yamldecodeall(data.lanestack_download.manifest[f].content)]...) :
    "${d.kind}/${d.metadata.name}" => d
  }
}

# Trident (runbook §5: Helm chart trident-operator, release trident, namespace trident), rendered
# by lanestack from the chart's copy in manifests/ and applied object by object: the operator's
# service account, RBAC and Deployment, and the TridentOrchestrator it installs Trident from.
# The chart's CRDs are applied with the others above; its hooks are for `helm` itself (a CRD
# clean-up Job on uninstall): destroy deletes what it applied.
data "helm_template" "trident" {
  chart        = "manifests/trident-71dd716/helm/trident-operator"
  release_name = "trident"
  namespace    = "trident"
}

resource "kubernetes_manifest" "crd" {
  for_each = local.crds
  manifest = yamlencode(each.value)
}

# The CSI snapshot controller (runbook §7), in kube-system.
resource "kubernetes_manifest" "snapshot_controller" {
  for_each   = local.snapshot_controller
  manifest   = yamlencode(each.value)
  depends_on = [kubernetes_manifest.crd]
}

resource "kubernetes_namespace" "trident" {
  metadata {
    name = "trident"
  }
}

resource "kubernetes_manifest" "trident" {
  for_each   = data.helm_template.trident.manifests
  manifest   = each.value
  depends_on = [kubernetes_namespace.trident, kubernetes_manifest.crd]
}

# The ANF backend (runbook §6): the service principal in a Secret, the backend referring to it.
resource "kubernetes_secret" "anf_backend" {
  metadata {
    name      = "backend-tbc-anf-secret"
    namespace = kubernetes_namespace.trident.metadata.name
  }
  data = {
    clientID     = var.anf_client_id
    clientSecret = var.anf_client_secret
  }
}

resource "kubernetes_manifest" "anf_backend" {
  manifest = yamlencode({
    apiVersion = "trident.netapp.io/v1"
    kind       = "TridentBackendConfig"
    metadata   = { name = "backend-tbc-anf", namespace = kubernetes_namespace.trident.metadata.name }
    spec = {
      version           = 1
      storageDriverName = "azure-netapp-files"
      subscriptionID    = element(split("/", azure_resource_group.main.id), 2)
      location          = var.location
      serviceLevel      = azure_netapp_capacity_pool.standard.service_level
      virtualNetwork    = azure_virtual_network.anf.name
      subnet            = azure_subnet.anf_default.name
      nfsMountOptions   = "vers=3,proto=tcp"
      limitVolumeSize   = "500Gi"
      defaults          = { exportRule = "0.0.0.0/0", size = "200Gi" }
      credentials       = { name = kubernetes_secret.anf_backend.metadata.name }
    }
  })
  depends_on = [kubernetes_manifest.crd, kubernetes_manifest.trident]
}

resource "kubernetes_manifest" "storage_class" {
  manifest = yamlencode({
    apiVersion           = "storage.k8s.io/v1"
    kind                 = "StorageClass"
    metadata             = { name = "azurenetappfiles" }
    provisioner          = "csi.trident.netapp.io"
    parameters           = { backendType = "azure-netapp-files" }
    allowVolumeExpansion = true
  })
}

resource "kubernetes_manifest" "snapshot_class" {
  manifest = yamlencode({
    apiVersion     = "snapshot.storage.k8s.io/v1"
    kind           = "VolumeSnapshotClass"
    metadata       = { name = "netapp-csi-snapclass", annotations = { "snapshot.storage.kubernetes.io/is-default-class" = "true" } }
    driver         = "csi.trident.netapp.io"
    deletionPolicy = "Delete"
  })
  depends_on = [kubernetes_manifest.crd]
}

# An AKS cluster and, inside it, the first Kubernetes objects of the lane-detection platform
# (runbook §5–6): the `trident` namespace and the Secret holding the service principal that
# Trident's backend uses for Azure NetApp Files. One stack, one apply: the kubernetes provider is
# configured from the cluster's own credentials, so the cluster is created first and its objects
# are deleted before it.
#
# `./run-example` applies it with `--emulator` (see `needs-emulator`): the local cloud serves
# each emulated cluster's Kubernetes API too. Against real Azure, leave out --emulator and give
# the azure provider a service principal (see examples/azure-network) and the real
# `anf_client_secret`, e.g. with LANESTACK_VAR_anf_client_secret. It never appears in plans,
# logs or saved plan files.

variable "location" {
  type    = string
  default = "westeurope"
}

variable "anf_client_id" {
  type        = string
  default     = "00000000-0000-0000-0000-0000000000aa"
  description = "The application (client) id of the service principal Trident uses for ANF."
}

variable "anf_client_secret" {
  type        = string
  sensitive   = true
  default     = "example-only-not-a-real-secret"
  description = "Its password."
}

resource "azure_resource_group" "main" {
  name     = "lane-k8s-rg"
  location = var.location
}

resource "azure_kubernetes_cluster" "aks" {
  name                = "aks-lane"
  resource_group_name = azure_resource_group.main.name
  location            = azure_resource_group.main.location
  dns_prefix          = "lane"

  default_node_pool {
    name       = "agentpool"
    vm_size    = "Standard_DS2_v2"
    node_count = 1
  }

  identity {
    type = "SystemAssigned"
  }
}

provider "kubernetes" {
  kubeconfig = azure_kubernetes_cluster.aks.kube_config_raw
}

resource "kubernetes_namespace" "trident" {
  metadata {
    name   = "trident"
    labels = { "app.kubernetes.io/part-of" = "lane-detection" }
  }
}

resource "kubernetes_secret" "anf" {
  metadata {
    name      = "backend-tbc-anf-secret"
    namespace = kubernetes_namespace.trident.metadata.name
  }

  data = {
    clientID     = var.anf_client_id
    clientSecret = var.anf_client_secret
  }
}

output "cluster_fqdn" {
  value = azure_kubernetes_cluster.aks.fqdn
}

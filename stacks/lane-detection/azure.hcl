# Azure (runbook §1–4, §10): the AKS network with a subnet delegated to Azure NetApp Files, a
# second vnet for ANF, peerings in both directions, the NetApp account and a 4 TiB Standard
# capacity pool, the AKS cluster with its system pool and a GPU pool, and the registry the
# kubelet may pull the trainer image from.

resource "azure_resource_group" "main" {
  name     = "${var.prefix}-rg"
  location = var.location
}

resource "azure_virtual_network" "aks" {
  name                = "aks-vnet-${var.prefix}"
  resource_group_name = azure_resource_group.main.name
  location            = azure_resource_group.main.location
  address_space       = ["10.0.0.0/8"]
}

resource "azure_subnet" "nodes" {
  name                 = "nodes"
  resource_group_name  = azure_resource_group.main.name
  virtual_network_name = azure_virtual_network.aks.name
  address_prefixes     = ["10.240.0.0/16"]
}

# Delegated to NetApp volumes: it can host ANF volumes and nothing else (no AKS nodes).
resource "azure_subnet" "anf" {
  name                 = "ANF.sn"
  resource_group_name  = azure_resource_group.main.name
  virtual_network_name = azure_virtual_network.aks.name
  address_prefixes     = ["10.241.0.0/24"]

  delegation {
    name = "netapp"
    service_delegation {
      name = "Microsoft.NetApp/volumes"
    }
  }
}

resource "azure_virtual_network" "anf" {
  name                = "anf-vnet-${var.prefix}"
  resource_group_name = azure_resource_group.main.name
  location            = azure_resource_group.main.location
  address_space       = ["192.168.0.0/16"]
}

resource "azure_subnet" "anf_default" {
  name                 = "default"
  resource_group_name  = azure_resource_group.main.name
  virtual_network_name = azure_virtual_network.anf.name
  address_prefixes     = ["192.168.0.0/24"]

  delegation {
    name = "netapp"
    service_delegation {
      name = "Microsoft.NetApp/volumes"
    }
  }
}

resource "azure_virtual_network_peering" "aks_to_anf" {
  name                      = "${azure_virtual_network.aks.name}_to_anf"
  resource_group_name       = azure_resource_group.main.name
  virtual_network_name      = azure_virtual_network.aks.name
  remote_virtual_network_id = azure_virtual_network.anf.id
}

resource "azure_virtual_network_peering" "anf_to_aks" {
  name                      = "anf_to_${azure_virtual_network.aks.name}"
  resource_group_name       = azure_resource_group.main.name
  virtual_network_name      = azure_virtual_network.anf.name
  remote_virtual_network_id = azure_virtual_network.aks.id
}

resource "azure_netapp_account" "main" {
  name                = "${var.prefix}-anf"
  resource_group_name = azure_resource_group.main.name
  location            = azure_resource_group.main.location
}

resource "azure_netapp_capacity_pool" "standard" {
  name                = "standard"
  resource_group_name = azure_resource_group.main.name
  account_name        = azure_netapp_account.main.name
  location            = azure_resource_group.main.location
  service_level       = "Standard"
  size_in_tb          = 4
}

resource "azure_kubernetes_cluster" "aks" {
  name                = "aks-${var.prefix}"
  resource_group_name = azure_resource_group.main.name
  location            = azure_resource_group.main.location
  dns_prefix          = var.prefix

  default_node_pool {
    name           = "agentpool"
    vm_size        = "Standard_DS2_v2"
    node_count     = 2
    vnet_subnet_id = azure_subnet.nodes.id
  }

  identity {
    type = "SystemAssigned"
  }
}

resource "azure_kubernetes_node_pool" "gpu" {
  name                  = "gpupool"
  kubernetes_cluster_id = azure_kubernetes_cluster.aks.id
  vm_size               = var.gpu_vm_size
  node_count            = var.gpu_nodes
  vnet_subnet_id        = azure_subnet.nodes.id
}

resource "azure_container_registry" "acr" {
  name                = "${var.prefix}registry"
  resource_group_name = azure_resource_group.main.name
  location            = azure_resource_group.main.location
  sku                 = "Standard"
}

# The kubelet pulls the trainer image from the registry (AcrPull).
resource "azure_role_assignment" "kubelet_pull" {
  scope              = azure_container_registry.acr.id
  role_definition_id = "/subscriptions/${element(split("/", azure_resource_group.main.id), 2)}/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
  principal_id       = azure_kubernetes_cluster.aks.kubelet_identity_object_id
}

# The network and storage half of the lane-detection platform (runbook §1–4): the AKS vnet with a
# subnet delegated to Azure NetApp Files, a second vnet for ANF, peerings in both directions, and
# a NetApp account with a 4 TiB Standard capacity pool.
#
# `./run-example` applies it with `--emulator` (see the file `needs-emulator`). Against real
# Azure, leave out --emulator and give the azure provider a service principal, in a provider
# "azure" block or through AZURE_SUBSCRIPTION_ID, AZURE_TENANT_ID, AZURE_CLIENT_ID and
# AZURE_CLIENT_SECRET.

variable "location" {
  type        = string
  default     = "westeurope"
  description = "The Azure region of every object."
}

variable "prefix" {
  type        = string
  default     = "lane"
  description = "Prefixes the names of the objects."
}

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

# Both directions of the peering are separate objects; all settings are ARM's defaults.
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

output "anf_subnet_id" {
  value       = azure_subnet.anf.id
  description = "The ARM id of the delegated subnet."
}

output "peering_state" {
  value       = azure_virtual_network_peering.aks_to_anf.peering_state
  description = "Connected once both directions exist."
}

// Package proxmoxvebridge maps bpg/terraform-provider-proxmox to the Pulumi
// package "proxmoxve" so that the PyPI SDK pulumi_proxmoxve talks to it unchanged.
//
// Compatibility contract (checked by tests/unit/engine/test_proxmoxve_schema.py):
//   - tokens: see tokens.go (e.g. proxmox_virtual_environment_vm -> proxmoxve:index/vmLegacy:VmLegacy);
//   - property names: the bridge's default snake_case -> camelCase, except that
//     resourceIDResources expose their Terraform "id" as "resourceId" (Pulumi
//     reserves "id");
//   - names: auto-naming of a "name" property (255 chars, "-" separator).
package proxmoxvebridge

import (
	"context"
	"fmt"
	"strconv"

	"github.com/blang/semver"
	"github.com/bpg/terraform-provider-proxmox/fwprovider"
	sdkv2provider "github.com/bpg/terraform-provider-proxmox/proxmoxtf/provider"
	sdkv2schema "github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	pfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shim "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Version is the plugin version, set at link time:
//
//	-ldflags "-X proxmox-hci.invalid/proxmoxve-bridge.Version=v8.3.0"
//
// It is what GetPluginInfo reports and what the bridge parses as semver; an empty
// value is rejected (the bridge would otherwise panic deep inside).
var Version string

// resourceIDProperty is the Pulumi name of a Terraform "id" attribute that the
// user sets or reads as data (Pulumi reserves "id" for the resource ID).
const resourceIDProperty = "resourceId"

// Provider returns the bridge's ProviderInfo. metadata is the bridge-metadata.json
// written by `pulumi-tfgen-proxmoxve schema` (nil while generating it).
func Provider(metadata []byte) tfbridge.ProviderInfo {
	if _, err := semver.ParseTolerant(Version); err != nil {
		panic(fmt.Sprintf("pulumi-resource-proxmoxve was built without a valid version "+
			"(-ldflags -X proxmox-hci.invalid/proxmoxve-bridge.Version=vX.Y.Z): %q: %v", Version, err))
	}
	ctx := context.Background()

	// bpg serves SDKv2 resources (proxmoxtf, mostly the *_legacy ones) and Plugin
	// Framework resources (fwprovider) from one provider; the bridge muxes them
	// the same way (dispatch table precomputed by tfgen into the metadata).
	sdkv2 := sdkv2provider.ProxmoxVirtualEnvironment()
	applyDefaultFixups(sdkv2)
	p := pfbridge.MuxShimWithPF(ctx, shimv2.NewProvider(sdkv2), fwprovider.New(Version)())

	prov := tfbridge.ProviderInfo{
		P:                 p,
		Name:              "proxmox",
		DisplayName:       "Proxmox Virtual Environment (Proxmox VE)",
		Description:       "Proxmox VE resources (bpg/terraform-provider-proxmox), built by proxmox-hci for the pulumi_proxmoxve SDK.",
		Keywords:          []string{"proxmox", "proxmoxve", "category/infrastructure"},
		License:           "Apache-2.0",
		GitHubOrg:         "bpg",
		Repository:        "https://github.com/bpg/terraform-provider-proxmox",
		PluginDownloadURL: "github://api.github.com/muhlba91/pulumi-proxmoxve", // what the SDK advertises
		Version:           Version,
		Config:            map[string]*tfbridge.SchemaInfo{},
		Resources:         idOverrides(p),
		DataSources:       map[string]*tfbridge.DataSourceInfo{},
		Python: &tfbridge.PythonInfo{
			PackageName:          "pulumi_proxmoxve",
			RespectSchemaVersion: true,
			Requires:             map[string]string{"pulumi": ">=3.0.0,<4.0.0"},
		},
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
	}
	prov.MustComputeTokens(tokenStrategy())
	prov.SetAutonaming(255, "-")
	return prov
}

// listDefaultsToDrop are SDKv2 list blocks (resource, then the path of block
// names) whose Default/DefaultFunc Terraform never applies (the SDK reads no
// defaults for lists) but the bridge injects into the inputs. Where the
// provider's Read does not echo the default back, every preview shows a change:
//
//   - proxmox_virtual_environment_vm disk[].speed: the default is one block of
//     zeros ("no limit"), Read returns no block when the disk has no limits, so
//     each VmLegacy disk without an explicit speed diffed forever
//     (muhlba91/pulumi-proxmoxve#664). Without the default the provider sends
//     no limits, which is what zeros mean.
var listDefaultsToDrop = [][]string{
	{"proxmox_virtual_environment_vm", "disk", "speed"},
}

// applyDefaultFixups clears the defaults listed in listDefaultsToDrop. It panics
// if a path no longer exists (a bpg upgrade changed the schema: revisit).
func applyDefaultFixups(p *sdkv2schema.Provider) {
	for _, path := range listDefaultsToDrop {
		r, ok := p.ResourcesMap[path[0]]
		if !ok {
			panic(fmt.Sprintf("proxmoxve: default fixup: no resource %s", path[0]))
		}
		fields := r.Schema
		var s *sdkv2schema.Schema
		for i, name := range path[1:] {
			if s, ok = fields[name]; !ok {
				panic(fmt.Sprintf("proxmoxve: default fixup: no field %v in %s", path[1:i+2], path[0]))
			}
			if i < len(path)-2 {
				elem, isBlock := s.Elem.(*sdkv2schema.Resource)
				if !isBlock {
					panic(fmt.Sprintf("proxmoxve: default fixup: %v in %s is not a block", path[1:i+2], path[0]))
				}
				fields = elem.Schema
			}
		}
		if s.Type != sdkv2schema.TypeList && s.Type != sdkv2schema.TypeSet {
			panic(fmt.Sprintf("proxmoxve: default fixup: %v in %s is not a list or set", path[1:], path[0]))
		}
		s.Default, s.DefaultFunc = nil, nil
	}
}

// resourceIDResources are the Plugin Framework resources whose Terraform "id" is
// user-facing data (the storage/zone/VM/job ID you choose) and that the
// pulumi_proxmoxve SDK exposes as "resourceId". Every other PF resource with such
// an "id" keeps the bridge's default name "<resourceName>Id" (for example
// sdnControllerEvpnId), as in the SDK. Keep in sync with the SDK: the schema test
// in tests/unit/engine checks every property name.
var resourceIDResources = []string{
	"proxmox_backup_job",
	"proxmox_cloned_vm",
	"proxmox_replication",
	"proxmox_sdn_fabric_openfabric",
	"proxmox_sdn_fabric_ospf",
	"proxmox_sdn_vnet",
	"proxmox_sdn_zone_evpn",
	"proxmox_sdn_zone_qinq",
	"proxmox_sdn_zone_simple",
	"proxmox_sdn_zone_vlan",
	"proxmox_sdn_zone_vxlan",
	"proxmox_storage_cifs",
	"proxmox_storage_directory",
	"proxmox_storage_lvm",
	"proxmox_storage_lvmthin",
	"proxmox_storage_nfs",
	"proxmox_storage_pbs",
	"proxmox_storage_zfspool",
	"proxmox_vm",
	"proxmox_virtual_environment_cloned_vm",
	"proxmox_virtual_environment_replication",
	"proxmox_virtual_environment_sdn_fabric_openfabric",
	"proxmox_virtual_environment_sdn_fabric_ospf",
	"proxmox_virtual_environment_sdn_vnet",
	"proxmox_virtual_environment_sdn_zone_evpn",
	"proxmox_virtual_environment_sdn_zone_qinq",
	"proxmox_virtual_environment_sdn_zone_simple",
	"proxmox_virtual_environment_sdn_zone_vlan",
	"proxmox_virtual_environment_sdn_zone_vxlan",
	"proxmox_virtual_environment_storage_cifs",
	"proxmox_virtual_environment_storage_directory",
	"proxmox_virtual_environment_storage_lvm",
	"proxmox_virtual_environment_storage_lvmthin",
	"proxmox_virtual_environment_storage_nfs",
	"proxmox_virtual_environment_storage_pbs",
	"proxmox_virtual_environment_storage_zfspool",
	"proxmox_virtual_environment_vm2",
}

// idOverrides renames the Terraform "id" of resourceIDResources to resourceId
// (a string, as in the SDK) and derives the Pulumi ID from it. It panics when a
// listed resource is gone or has no "id" (a bpg upgrade changed it: revisit).
func idOverrides(p shim.Provider) map[string]*tfbridge.ResourceInfo {
	out := map[string]*tfbridge.ResourceInfo{}
	for _, name := range resourceIDResources {
		r, ok := p.ResourcesMap().GetOk(name)
		if !ok {
			panic(fmt.Sprintf("proxmoxve: resource %s is not in bpg/terraform-provider-proxmox", name))
		}
		if _, ok := r.Schema().GetOk("id"); !ok {
			panic(fmt.Sprintf("proxmoxve: resource %s has no \"id\" attribute", name))
		}
		out[name] = &tfbridge.ResourceInfo{
			Fields: map[string]*tfbridge.SchemaInfo{
				"id": {Name: resourceIDProperty, Type: "string"},
			},
			ComputeID: computeIDFromResourceID,
		}
	}
	return out
}

// computeIDFromResourceID uses the resourceId property (string or number) as the
// Pulumi resource ID.
func computeIDFromResourceID(_ context.Context, state resource.PropertyMap) (resource.ID, error) {
	v, ok := state[resourceIDProperty]
	if !ok {
		return "", fmt.Errorf("proxmoxve: no %q in the resource state", resourceIDProperty)
	}
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsOutput() {
		v = v.OutputValue().Element
	}
	switch {
	case v.IsString() && v.StringValue() != "":
		return resource.ID(v.StringValue()), nil
	case v.IsNumber():
		return resource.ID(strconv.FormatInt(int64(v.NumberValue()), 10)), nil
	}
	return "", fmt.Errorf("proxmoxve: %q is %s, want a non-empty string or a number", resourceIDProperty, v.TypeString())
}

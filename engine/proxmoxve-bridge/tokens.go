package proxmoxvebridge

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
)

// Package is the Pulumi package name the PyPI SDK uses in every token.
const Package = "proxmoxve"

// bpg names each resource twice: the deprecated "proxmox_virtual_environment_*"
// spelling and the current "proxmox_*" one. The pulumi_proxmoxve SDK keeps both,
// the former with a "Legacy" suffix on the member name.
const (
	legacyPrefix  = "proxmox_virtual_environment_"
	currentPrefix = "proxmox_"
)

// tokenParts maps a Terraform type name to the Pulumi module and member name used
// by the SDK: every segment between the prefix and the last one is a module level,
// the last segment is the member (no module level means "index").
//
//	proxmox_virtual_environment_vm      -> index, VmLegacy
//	proxmox_haresource                  -> index, Haresource
//	proxmox_apt_standard_repository     -> apt/standard, Repository
func tokenParts(tfName string) (module, member string, err error) {
	var rest string
	legacy := false
	switch {
	case strings.HasPrefix(tfName, legacyPrefix):
		rest, legacy = strings.TrimPrefix(tfName, legacyPrefix), true
	case strings.HasPrefix(tfName, currentPrefix):
		rest = strings.TrimPrefix(tfName, currentPrefix)
	default:
		return "", "", fmt.Errorf("%q does not start with %q", tfName, currentPrefix)
	}
	segments := strings.Split(rest, "_")
	for _, s := range segments {
		if s == "" {
			return "", "", fmt.Errorf("%q has an empty name segment", tfName)
		}
		if r, _ := utf8.DecodeRuneInString(s); unicode.IsDigit(r) {
			return "", "", fmt.Errorf("%q: segment %q starts with a digit", tfName, s)
		}
	}
	last := segments[len(segments)-1]
	module = "index"
	if len(segments) > 1 {
		module = strings.Join(segments[:len(segments)-1], "/")
	}
	r, size := utf8.DecodeRuneInString(last)
	member = string(unicode.ToUpper(r)) + last[size:]
	if legacy {
		member += "Legacy"
	}
	return module, member, nil
}

// tokenStrategy assigns tokens to every resource and data source that has none yet.
func tokenStrategy() tfbridge.Strategy {
	return tfbridge.Strategy{
		Resource: func(tfName string, r *tfbridge.ResourceInfo) error {
			if r.Tok != "" {
				return nil
			}
			mod, name, err := tokenParts(tfName)
			if err != nil {
				return err
			}
			r.Tok = tfbridge.MakeResource(Package, mod, name)
			return nil
		},
		DataSource: func(tfName string, d *tfbridge.DataSourceInfo) error {
			if d.Tok != "" {
				return nil
			}
			mod, name, err := tokenParts(tfName)
			if err != nil {
				return err
			}
			d.Tok = tfbridge.MakeDataSource(Package, mod, "get"+name)
			return nil
		},
	}
}

// Package codegen stands in for the YAML program generator (see stubs/README.md).
package codegen

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// GenerateProgram would render a PCL program as YAML; this build has no YAML generator.
func GenerateProgram(program *pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("YAML program generation is not available in this build (proxmox-hci stub)")
}

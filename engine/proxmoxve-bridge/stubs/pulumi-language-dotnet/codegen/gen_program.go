// Package codegen stands in for the C# program generator (see stubs/README.md).
package codegen

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// GenerateProgram would render a PCL program as C#; this build has no C# generator.
func GenerateProgram(program *pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("C# program generation is not available in this build (proxmox-hci stub)")
}

// Package java stands in for the Java program generator (see stubs/README.md).
package java

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// GenerateProgram would render a PCL program as Java; this build has no Java generator.
func GenerateProgram(program *pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("Java program generation is not available in this build (proxmox-hci stub)")
}

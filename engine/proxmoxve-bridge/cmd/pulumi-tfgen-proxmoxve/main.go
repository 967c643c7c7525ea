// pulumi-tfgen-proxmoxve generates the Pulumi package schema and the bridge
// metadata for pulumi-resource-proxmoxve (build-time helper):
//
//	pulumi-tfgen-proxmoxve schema --skip-docs --skip-examples --out DIR
//	    writes DIR/schema.json (no version) and DIR/bridge-metadata.json
//	pulumi-tfgen-proxmoxve stamp-schema IN OUT
//	    copies schema IN to OUT with "version" set to this build's version
//	    (the schema the plugin embeds and returns from GetSchema)
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	bridge "proxmox-hci.invalid/proxmoxve-bridge"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"
)

func main() {
	if len(os.Args) == 4 && os.Args[1] == "stamp-schema" {
		if err := stampSchema(os.Args[2], os.Args[3]); err != nil {
			fmt.Fprintf(os.Stderr, "pulumi-tfgen-proxmoxve: %v\n", err)
			os.Exit(1)
		}
		return
	}
	tfgen.MainWithMuxer(bridge.Package, bridge.Provider(nil))
}

func stampSchema(in, out string) error {
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var spec map[string]json.RawMessage
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	v, _ := json.Marshal(strings.TrimPrefix(bridge.Version, "v"))
	spec["version"] = v
	data, err = json.Marshal(spec)
	if err != nil {
		return err
	}
	return os.WriteFile(out, data, 0o644)
}

// Stand-in for github.com/pulumi/pulumi-java (refused by the Go proxy); see ../README.md.
module github.com/pulumi/pulumi-java

go 1.25

require (
	github.com/hashicorp/hcl/v2 v2.24.0
	github.com/pulumi/pulumi/pkg/v3 v3.246.0
)

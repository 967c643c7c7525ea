package codegen

// CSharpPackageInfo is the package-level "language.csharp" block of a Pulumi schema.
type CSharpPackageInfo struct {
	Compatibility                string            `json:"compatibility,omitempty"`
	PackageReferences            map[string]string `json:"packageReferences,omitempty"`
	Namespaces                   map[string]string `json:"namespaces,omitempty"`
	RootNamespace                string            `json:"rootNamespace,omitempty"`
	DictionaryConstructors       bool              `json:"dictionaryConstructors,omitempty"`
	ProjectReferences            []string          `json:"projectReferences,omitempty"`
	LiftSingleValueMethodReturns bool              `json:"liftSingleValueMethodReturns,omitempty"`
	RespectSchemaVersion         bool              `json:"respectSchemaVersion,omitempty"`
}

// CSharpPropertyInfo is a property's "language.csharp" block.
type CSharpPropertyInfo struct {
	Name string `json:"name,omitempty"`
}

// CSharpResourceInfo is a resource's "language.csharp" block.
type CSharpResourceInfo struct {
	Name string `json:"name,omitempty"`
}

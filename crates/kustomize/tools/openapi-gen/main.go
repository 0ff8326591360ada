// Command openapi-gen writes the Kubernetes OpenAPI definitions that kustomize (kyaml v0.21.2)
// builds in (Kubernetes v1.21.2), reduced to what strategic merge needs, as JSON on stdout:
// `{"definitions": {name: schema}}` where each schema keeps only type, properties, items,
// additionalProperties, $ref and the x-kubernetes-* merge and group-version-kind extensions.
//
// Usage (from this directory): go run . > ../../src/schema/k8s-v1.21.2.json
package main

import (
	"encoding/json"
	"os"

	"sigs.k8s.io/kustomize/kyaml/openapi"
)

var keep = map[string]bool{
	"type": true, "properties": true, "items": true, "additionalProperties": true, "$ref": true,
	"x-kubernetes-patch-strategy": true, "x-kubernetes-patch-merge-key": true,
	"x-kubernetes-list-map-keys": true, "x-kubernetes-group-version-kind": true,
}

func prune(v interface{}) interface{} {
	m, ok := v.(map[string]interface{})
	if !ok {
		return v
	}
	out := map[string]interface{}{}
	for k, x := range m {
		if !keep[k] {
			continue
		}
		switch k {
		case "properties":
			props := map[string]interface{}{}
			for name, p := range x.(map[string]interface{}) {
				props[name] = prune(p)
			}
			out[k] = props
		case "items", "additionalProperties":
			out[k] = prune(x)
		default:
			out[k] = x
		}
	}
	return out
}

func main() {
	defs := openapi.Schema().Definitions
	raw, err := json.Marshal(defs)
	if err != nil {
		panic(err)
	}
	var all map[string]interface{}
	if err := json.Unmarshal(raw, &all); err != nil {
		panic(err)
	}
	for name, d := range all {
		all[name] = prune(d)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(map[string]interface{}{"definitions": all}); err != nil {
		panic(err)
	}
}

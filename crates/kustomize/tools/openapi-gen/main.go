// Command openapi-gen writes the Kubernetes OpenAPI definitions that kustomize (kyaml v0.21.2)
// builds in (Kubernetes v1.21.2), reduced to what strategic merge needs, on stdout: one line per
// resource type (`T apiVersion kind definition`) and per definition (`D name schema-JSON`),
// tab-separated, where each schema keeps only type, properties, items, additionalProperties,
// $ref and the x-kubernetes-* merge and group-version-kind extensions.
//
// Usage (from this directory): go run . > ../../data/kubernetes-v1.21.2-openapi.txt
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

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
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	var types []string
	for _, name := range names {
		gvks, _ := all[name].(map[string]interface{})["x-kubernetes-group-version-kind"].([]interface{})
		for _, g := range gvks {
			m := g.(map[string]interface{})
			av := m["version"].(string)
			if grp, _ := m["group"].(string); grp != "" {
				av = grp + "/" + av
			}
			types = append(types, fmt.Sprintf("T\t%s\t%s\t%s", av, m["kind"], name))
		}
	}
	sort.Strings(types)
	out := os.Stdout
	fmt.Fprintln(out, "# Kubernetes v1.21.2 OpenAPI definitions as kustomize v5 (kyaml) builds them in, reduced to what")
	fmt.Fprintln(out, "# strategic merge needs; written by tools/openapi-gen. One line per entry, tab-separated:")
	fmt.Fprintln(out, "#   T <apiVersion> <kind> <definition>   a resource type and its definition")
	fmt.Fprintln(out, "#   D <definition> <JSON schema>         a definition")
	for _, t := range types {
		fmt.Fprintln(out, t)
	}
	for _, name := range names {
		b, err := json.Marshal(all[name])
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(out, "D\t%s\t%s\n", name, b)
	}
}

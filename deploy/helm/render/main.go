// Command render renders a Helm chart's templates the way `helm template` does,
// with Go's text/template, Sprig and Helm's own functions, so the chart can be
// tested on a machine without the helm binary.
//
// Usage: render -chart DIR [-values FILE]... [-release NAME] [-namespace NS] [-existing FILE]
// Prints a JSON object: template path -> rendered text. -existing names a JSON array of
// objects the cluster holds already: `lookup` finds them there (an upgrade), and finds
// nothing without it (an install), as `helm template` does.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

func main() {
	chartDir := flag.String("chart", "", "chart directory")
	release := flag.String("release", "telemetry", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	existingFile := flag.String("existing", "", "JSON array of objects already in the cluster (for lookup)")
	var files valueFiles
	flag.Var(&files, "values", "values file (repeatable; later files win)")
	flag.Parse()
	if err := readExisting(*existingFile); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	rendered, err := renderChart(*chartDir, *release, *namespace, files)
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	out, _ := json.MarshalIndent(rendered, "", "  ")
	fmt.Println(string(out))
}

func renderChart(chartDir, release, namespace string, files []string) (map[string]string, error) {
	if chartDir == "" {
		return nil, errors.New("-chart is required")
	}
	chart, err := readYAML(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	values, err := readYAML(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	for _, file := range files {
		override, err := readYAML(file)
		if err != nil {
			return nil, err
		}
		values = mergeValues(values, override)
	}
	chartName, _ := chart["name"].(string)
	if chartName == "" {
		return nil, errors.New("Chart.yaml has no name")
	}
	top := map[string]interface{}{
		"Values":       values,
		"Chart":        helmChart(chart),
		"Release":      map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
		"Capabilities": capabilities(),
		"Files":        chartFiles{dir: chartDir},
	}
	return renderTemplates(filepath.Join(chartDir, "templates"), chartName, top)
}

func renderTemplates(dir, chartName string, top map[string]interface{}) (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	root := template.New("chart").Option("missingkey=zero")
	root.Funcs(funcMap(root))
	names := []string{}
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		name := chartName + "/templates/" + filepath.Base(path)
		if _, err := root.New(name).Parse(string(text)); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(filepath.Base(path), "_") {
			names = append(names, name)
		}
	}
	rendered := map[string]string{}
	for _, name := range names {
		var out bytes.Buffer
		scope := copyMap(top)
		scope["Template"] = map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"}
		if err := root.ExecuteTemplate(&out, name, scope); err != nil {
			return nil, err
		}
		rendered[name] = strings.ReplaceAll(out.String(), "<no value>", "")
	}
	return rendered, nil
}

// funcMap is Sprig's text functions plus Helm's own, minus the ones Helm removes.
func funcMap(root *template.Template) template.FuncMap {
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = toYaml
	funcs["fromYaml"] = fromYaml
	funcs["toJson"] = toJson
	funcs["fromJson"] = fromJson
	funcs["required"] = required
	funcs["fail"] = func(message string) (string, error) { return "", errors.New(message) }
	funcs["lookup"] = lookup
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var out bytes.Buffer
		err := root.ExecuteTemplate(&out, name, data)
		return out.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		clone, err := root.Clone()
		if err != nil {
			return "", err
		}
		parsed, err := clone.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		err = parsed.Execute(&out, data)
		return out.String(), err
	}
	return funcs
}

func required(message string, value interface{}) (interface{}, error) {
	if value == nil {
		return nil, errors.New(message)
	}
	if text, ok := value.(string); ok && text == "" {
		return nil, errors.New(message)
	}
	return value, nil
}

// toYaml indents by two spaces like Helm's (sigs.k8s.io/yaml) output.
func toYaml(value interface{}) string {
	var out bytes.Buffer
	encoder := yaml.NewEncoder(&out)
	encoder.SetIndent(2)
	if err := encoder.Encode(value); err != nil {
		return ""
	}
	return strings.TrimSuffix(out.String(), "\n")
}

func fromYaml(text string) map[string]interface{} {
	out := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(text), &out); err != nil {
		out["Error"] = err.Error()
	}
	return out
}

func toJson(value interface{}) string {
	out, err := json.Marshal(value)
	if err != nil {
		return ""
	}
	return string(out)
}

func fromJson(text string) map[string]interface{} {
	out := map[string]interface{}{}
	if err := json.Unmarshal([]byte(text), &out); err != nil {
		out["Error"] = err.Error()
	}
	return out
}

func readYAML(path string) (map[string]interface{}, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(text, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// mergeValues deep-merges override into base like `helm -f`: maps merge, everything else replaces.
func mergeValues(base, override map[string]interface{}) map[string]interface{} {
	out := copyMap(base)
	for key, value := range override {
		baseMap, baseIsMap := out[key].(map[string]interface{})
		overrideMap, overrideIsMap := value.(map[string]interface{})
		if baseIsMap && overrideIsMap {
			out[key] = mergeValues(baseMap, overrideMap)
			continue
		}
		out[key] = value
	}
	return out
}

func copyMap(in map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(in))
	for key, value := range in {
		out[key] = value
	}
	return out
}

// helmChart exposes Chart.yaml fields under Helm's capitalised names.
func helmChart(chart map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for key, value := range chart {
		out[strings.ToUpper(key[:1])+key[1:]] = value
	}
	return out
}

// chartFiles is .Files: the chart's non-template files, read by path.
type chartFiles struct{ dir string }

func (files chartFiles) Get(name string) string {
	text, err := os.ReadFile(filepath.Join(files.dir, name))
	if err != nil {
		return ""
	}
	return string(text)
}

type apiVersions []string

func (versions apiVersions) Has(version string) bool {
	for _, known := range versions {
		if known == version {
			return true
		}
	}
	return false
}

func capabilities() map[string]interface{} {
	return map[string]interface{}{
		"KubeVersion": map[string]interface{}{"Version": "v1.31.0", "Major": "1", "Minor": "31", "GitVersion": "v1.31.0"},
		"APIVersions": apiVersions{"v1", "apps/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1"},
	}
}

// existing holds the objects -existing names: what lookup finds.
var existing []map[string]interface{}

func readExisting(path string) error {
	if path == "" {
		return nil
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(text, &existing)
}

// lookup is Helm's: the object of that apiVersion, kind, namespace and name, or an empty map.
func lookup(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
	for _, object := range existing {
		metadata, _ := object["metadata"].(map[string]interface{})
		if object["apiVersion"] == apiVersion && object["kind"] == kind && metadata["namespace"] == namespace && metadata["name"] == name {
			return object, nil
		}
	}
	return map[string]interface{}{}, nil
}

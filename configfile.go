package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"countersign/gateway"
)

// configFile is the --config flag: a YAML file holding any flag under its
// name with _ for - (origins: a list, for the repeatable --origin) and the
// gateway's upstreams (spec/gateway.md §2). Flags and COUNTERSIGN_*
// variables win over it. go.yaml.in/yaml/v3 is the YAML organisation's
// maintained continuation of gopkg.in/yaml.v3: it reports unknown fields
// with their line, every one of them.
type configFile struct {
	path      string
	upstreams *[]gateway.Upstream
}

func (f *configFile) String() string { return f.path }
func (f *configFile) Set(v string) error {
	f.path = v
	return nil
}

// document is a configuration file: the upstreams, and every other key,
// kept with its line for the flag it names.
type document struct {
	Upstreams []gateway.Upstream   `yaml:"upstreams"`
	Settings  map[string]yaml.Node `yaml:",inline"`
}

// maxConfigFile bounds the file read: it is a handful of settings and
// routes, never megabytes.
const maxConfigFile = 1 << 20

// applyFile sets every flag not given on the command line or in the
// environment from the file, through the flag's own parser, and keeps its
// upstreams. Every problem is reported, each with its line.
func (f *configFile) applyFile(fs *flag.FlagSet) error {
	if f.path == "" {
		return nil
	}
	raw, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	if len(raw) > maxConfigFile {
		return fmt.Errorf("--config %s: larger than %d bytes", f.path, maxConfigFile)
	}
	var doc document
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) { // an empty file configures nothing
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return fmt.Errorf("--config %s: %w", f.path, err)
		}
		for _, e := range te.Errors {
			errs = append(errs, fmt.Errorf("%s: %s", f.path, e))
		}
	}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for key, node := range doc.Settings {
		name := strings.ReplaceAll(key, "_", "-")
		if key == "origins" {
			name = "origin"
		}
		fl := fs.Lookup(name)
		if name == "config" || strings.Contains(key, "-") || (fl == nil && !anyCommandTakes(name)) {
			errs = append(errs, fmt.Errorf("%s:%d: unknown key %q", f.path, node.Line, key))
			continue
		}
		if fl == nil {
			continue // a setting of serve that this sub-command does not use
		}
		if given[name] {
			continue
		}
		values, err := scalars(&node, name == "origin")
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %s: %w", f.path, node.Line, key, err))
			continue
		}
		for _, v := range values {
			if err := fs.Set(name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %s: %w", f.path, node.Line, key, err))
			}
		}
	}
	*f.upstreams = doc.Upstreams
	return errors.Join(errs...)
}

// scalars reads a key's value: one scalar, or for a list key a sequence of
// scalars.
func scalars(n *yaml.Node, list bool) ([]string, error) {
	switch {
	case n.Kind == yaml.ScalarNode:
		return []string{n.Value}, nil
	case n.Kind == yaml.SequenceNode && list:
		out := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return nil, errors.New("must be a list of strings")
			}
			out = append(out, item.Value)
		}
		return out, nil
	case list:
		return nil, errors.New("must be a string or a list of strings")
	default:
		return nil, errors.New("must be a single value")
	}
}

// anyCommandTakes tells whether some sub-command has a flag name, so that
// one file can configure serve and the commands run beside it (invite,
// backup, …), each taking what it uses.
func anyCommandTakes(name string) bool {
	var cfg Config
	var origins stringList
	fs := flag.NewFlagSet("all", flag.ContinueOnError)
	storeFlags(fs, &cfg)
	serverFlags(fs, &cfg, &origins)
	opsFlags(fs, &cfg.Ops)
	return fs.Lookup(name) != nil
}

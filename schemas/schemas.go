// Package schemas embeds the JSON Schemas of the Parley languages, so the
// binary, editors (through the yaml-language-server comment in each flow) and
// the loader all read the same file.
//
// It imports no Parley package. Entry points: FlowJSON, FS and Compile.
package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// FS holds every schema file of this directory.
//
//go:embed *.json
var FS embed.FS

// FlowJSON is the JSON Schema (2020-12) of a flow file, language version 1.
//
//go:embed flow.schema.json
var FlowJSON []byte

// FlowURL is the $id of the flow schema. It never resolves on the network:
// Compile refuses every remote load.
const FlowURL = "https://parley.invalid/schemas/flow.schema.json"

var (
	compileOnce sync.Once
	compiled    *jsonschema.Schema
	compileErr  error
)

// Compile returns the compiled flow schema. The result is shared and safe
// for concurrent use; the schema is compiled once per process.
func Compile() (*jsonschema.Schema, error) {
	compileOnce.Do(func() { compiled, compileErr = compile(FlowJSON) })
	return compiled, compileErr
}

func compile(src []byte) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	// Nothing may reach the network or the disk: every $ref must resolve
	// inside the embedded resources.
	c.LoadURL = func(u string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("remote schema %s refused", u)
	}
	if err := c.AddResource(FlowURL, bytes.NewReader(src)); err != nil {
		return nil, fmt.Errorf("add flow schema: %w", err)
	}
	s, err := c.Compile(FlowURL)
	if err != nil {
		return nil, fmt.Errorf("compile flow schema: %w", err)
	}
	return s, nil
}

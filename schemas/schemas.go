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

// PolicyJSON is the JSON Schema (2020-12) of the lint policy file
// .parley.yaml.
//
//go:embed policy.schema.json
var PolicyJSON []byte

// FlowTestJSON is the JSON Schema (2020-12) of a flow test file
// (*_test.yaml), for editors; parley test checks the same shape itself.
//
//go:embed flowtest.schema.json
var FlowTestJSON []byte

// FlowTestURL is the $id of the flow test schema.
const FlowTestURL = "https://parley.invalid/schemas/flowtest.schema.json"

// CompileFlowTest compiles the flow test schema.
func CompileFlowTest() (*jsonschema.Schema, error) { return compileURL(FlowTestURL, FlowTestJSON) }

// PolicyURL is the $id of the policy schema.
const PolicyURL = "https://parley.invalid/schemas/policy.schema.json"

// FlowURL is the $id of the flow schema. It never resolves on the network:
// Compile refuses every remote load.
const FlowURL = "https://parley.invalid/schemas/flow.schema.json"

var (
	compileOnce sync.Once
	compiled    *jsonschema.Schema
	compileErr  error
)

var (
	policyOnce     sync.Once
	policyCompiled *jsonschema.Schema
	policyErr      error
)

// CompilePolicy returns the compiled policy schema, compiled once per
// process and safe for concurrent use.
func CompilePolicy() (*jsonschema.Schema, error) {
	policyOnce.Do(func() { policyCompiled, policyErr = compileURL(PolicyURL, PolicyJSON) })
	return policyCompiled, policyErr
}

// Compile returns the compiled flow schema. The result is shared and safe
// for concurrent use; the schema is compiled once per process.
func Compile() (*jsonschema.Schema, error) {
	compileOnce.Do(func() { compiled, compileErr = compileURL(FlowURL, FlowJSON) })
	return compiled, compileErr
}

func compileURL(id string, src []byte) (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft2020
	// Nothing may reach the network or the disk: every $ref must resolve
	// inside the embedded resources.
	c.LoadURL = func(u string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("remote schema %s refused", u)
	}
	if err := c.AddResource(id, bytes.NewReader(src)); err != nil {
		return nil, fmt.Errorf("add schema %s: %w", id, err)
	}
	s, err := c.Compile(id)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", id, err)
	}
	return s, nil
}

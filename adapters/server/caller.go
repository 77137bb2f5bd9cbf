package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/flow"
)

// HTTPCaller performs integration calls: a JSON POST of exactly the fields
// the integration's sends: list names (the runtime hands over nothing else),
// with the secret named by secret_env as a bearer token. URLs are https only
// (lint enforces it too); the secret is read from the environment at call
// time and never logged.
type HTTPCaller struct {
	Flows  *Flows
	Getenv func(string) string
	Client *http.Client
}

// Call implements runtime.Caller. Integration names are looked up across the
// served flows; the first flow (by id) that declares the name wins.
func (h *HTTPCaller) Call(ctx context.Context, name string, fields map[string]string) error {
	var in *flow.Integration
	for _, p := range h.Flows.All() {
		if f := p.Flow(); f != nil {
			if in = f.IntegrationByName(name); in != nil {
				break
			}
		}
	}
	if in == nil {
		return fmt.Errorf("integration %s is not declared", name)
	}
	if !strings.HasPrefix(in.URL.Value, "https://") {
		return fmt.Errorf("integration %s: only https URLs are called", name)
	}
	timeout := 5 * time.Second
	if d, err := time.ParseDuration(in.Timeout.Value); err == nil && d > 0 && d <= time.Minute {
		timeout = d
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL.Value, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("integration %s: bad URL", name)
	}
	req.Header.Set("Content-Type", "application/json")
	if env := in.SecretEnv.Value; env != "" && h.Getenv != nil {
		if secret := h.Getenv(env); secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
	}
	client := h.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("integration %s: not reachable", name)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("integration %s: answered HTTP %d", name, resp.StatusCode)
	}
	return nil
}

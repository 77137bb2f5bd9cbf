package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/runtime"
)

// Bounds of an integration's answer: the whole body, and one value.
const (
	maxReply      = 64 << 10
	maxReplyValue = 4 << 10
)

// readReply reads an integration's answer strictly: at most maxReply bytes
// of one JSON object, every key of names present with a string, number or
// true/false value of valid UTF-8 of at most maxReplyValue bytes. Other keys
// are skipped unread into the reply: only declared fields can be kept.
// The key optionsKey (receives_options:, when set) must hold a JSON list:
// it is passed on as its JSON text for the runtime to check item by item.
// Errors name the integration and the field, never a value.
func readReply(integration string, names []string, optionsKey string, r io.Reader) (runtime.Reply, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("integration %s: answer cut short", integration)
	}
	if len(body) > maxReply {
		return nil, fmt.Errorf("integration %s: answer longer than %d KiB", integration, maxReply>>10)
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("integration %s: answer is not a JSON object", integration)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("integration %s: answer has data after its JSON object", integration)
	}
	reply := make(runtime.Reply, len(names))
	for _, name := range names {
		raw, ok := obj[name]
		if !ok {
			return nil, fmt.Errorf("integration %s: answer has no %q", integration, name)
		}
		v, ok := scalarText(raw)
		if !ok || len(v) > maxReplyValue || !utf8.ValidString(v) {
			return nil, fmt.Errorf("integration %s: %q in its answer is not a short text, number or true/false", integration, name)
		}
		reply[name] = v
	}
	if optionsKey != "" {
		raw := bytes.TrimSpace(obj[optionsKey])
		if len(raw) == 0 || raw[0] != '[' || !utf8.Valid(raw) {
			return nil, fmt.Errorf("integration %s: %q in its answer is not a list of options", integration, optionsKey)
		}
		reply[optionsKey] = string(raw)
	}
	return reply, nil
}

// scalarText returns a JSON string, number or boolean as text.
func scalarText(raw json.RawMessage) (string, bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return "", false
	}
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

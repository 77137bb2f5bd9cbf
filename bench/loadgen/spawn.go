package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// phoneNumberID is the business number the load is addressed to; a server
// started with -target must be configured with it.
const phoneNumberID = "100000000000001"

type server struct {
	URL string
	cmd *exec.Cmd
	dir string
}

// spawnServer starts `parley serve` on a free loopback port and a fresh data
// directory, configured to send replies to the fake Graph API.
func spawnServer(ctx context.Context, bin, flows, graphURL, secret string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	dir, err := os.MkdirTemp("", "parley-loadgen-")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr", addr, "--flows", flows, "--data", dir)
	cmd.Env = append(os.Environ(),
		"PARLEY_WHATSAPP_APP_SECRET="+secret,
		"PARLEY_WHATSAPP_ACCESS_TOKEN=loadgen-token",
		"PARLEY_WHATSAPP_VERIFY_TOKEN=loadgen-verify",
		"PARLEY_WHATSAPP_PHONE_NUMBER_ID="+phoneNumberID,
		"PARLEY_WHATSAPP_FLOW=booking",
		"PARLEY_WHATSAPP_GRAPH_URL="+graphURL,
		"PARLEY_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{URL: "http://" + addr, cmd: cmd, dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("server at %s did not become ready in 30s", s.URL)
}

func (s *server) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(s.dir)
}

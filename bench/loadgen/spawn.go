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

// viewerToken reads /admin/v1/metrics-summary of a spawned server.
const viewerToken = "loadgen-viewer-token-0123456789"

type server struct {
	URL string
	cmd *exec.Cmd

	ctx                       context.Context
	bin, flows, graph, secret string
	addr, dir                 string
	exited                    chan struct{}
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
	s := &server{URL: "http://" + addr, ctx: ctx, bin: bin, flows: flows, graph: graphURL, secret: secret, addr: addr, dir: dir}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// start runs the server on s.addr and s.dir and waits until it is ready.
func (s *server) start() error {
	cmd := exec.CommandContext(s.ctx, s.bin, "serve", "--addr", s.addr, "--flows", s.flows, "--data", s.dir, "--web-chat", "off")
	cmd.Env = append(os.Environ(),
		"PARLEY_WHATSAPP_APP_SECRET="+s.secret,
		"PARLEY_WHATSAPP_ACCESS_TOKEN=loadgen-token",
		"PARLEY_WHATSAPP_VERIFY_TOKEN=loadgen-verify",
		"PARLEY_WHATSAPP_PHONE_NUMBER_ID="+phoneNumberID,
		"PARLEY_WHATSAPP_FLOW=booking",
		"PARLEY_WHATSAPP_GRAPH_URL="+s.graph,
		"PARLEY_MASTER_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"PARLEY_ADMIN_TOKENS=viewer:"+viewerToken,
	)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server at %s exited before it was ready", s.URL)
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("server at %s did not become ready in 60s", s.URL)
}

// signal sends sig and waits for the process to exit (SIGKILL after 30 s).
func (s *server) signal(sig syscall.Signal) {
	s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) Stop() {
	s.signal(syscall.SIGTERM)
	os.RemoveAll(s.dir)
}

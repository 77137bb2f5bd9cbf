package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKilledChatResumesWithConsentIntact runs `parley chat --data` as a
// child process (the test binary re-executed as "parley", see TestMain),
// feeds it the start of the booking conversation through a pipe, waits
// until it has asked for the email, kills it with SIGKILL and runs chat
// again on the same data: the conversation continues where it was, and the
// consent record and the answers are all there.
func TestKilledChatResumesWithConsentIntact(t *testing.T) {
	e := newEnv(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A deadline for a hung child, not a wait for work.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "chat", "--flow", bookingFlow, "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	cmd.Args[0] = "parley" // testscript.Main runs run() when invoked by this name
	cmd.Env = append(os.Environ(), "PARLEY_MASTER_KEY=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(stdin, "hi\nYES\n"+canaryName+"\n"); err != nil {
		t.Fatal(err)
	}
	// Read until the email question: the turn that asked it was saved
	// before it was printed. stdin stays open, so the child is blocked
	// waiting for the next message when it dies.
	var transcript strings.Builder
	sc := bufio.NewScanner(stdout)
	asked := false
	for sc.Scan() {
		transcript.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "What's your email") {
			asked = true
			break
		}
	}
	if !asked {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child never asked for the email:\n%s\nstderr:\n%s", transcript.String(), stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	stdin.Close()

	// What the killed process left on disk (memtable WAL included) holds
	// no personal data in clear.
	scanDir(t, e.dir, canaries)
	if leaks := findLeaks([]byte(stderr.String()), canaries); len(leaks) > 0 {
		t.Errorf("child stderr holds personal data: %v", leaks)
	}

	chat := e.chat(canaryUser, canaryEmail, "2")
	if !strings.HasPrefix(chat.stdout, "Which day suits you?") {
		t.Errorf("after the restart the conversation did not continue at the date question:\n%s", chat.stdout)
	}
	if !strings.Contains(chat.stdout, "All set, "+canaryName+": you're booked for Tue 8 Dec, 14:00. The confirmation goes to "+canaryEmail) {
		t.Errorf("no confirmation naming the person after the restart:\n%s", chat.stdout)
	}
	if strings.Contains(chat.stdout, "Do you agree?") || strings.Contains(chat.stdout, "What's your name?") {
		t.Errorf("consent or name asked again after the restart:\n%s", chat.stdout)
	}

	ex := e.export(e.dir, canaryUser, time.Now())
	if names := fieldNames(ex); names != "date,email,name" {
		t.Errorf("fields after the restart = %q, want date,email,name", names)
	}
	if len(ex.Consents) != 1 || ex.Consents[0].Decision != "granted" || ex.Consents[0].MessageID != "cli-2" || len(ex.Consents[0].NoticeHash) != 64 {
		t.Errorf("consent records after SIGKILL = %+v, want the grant of message cli-2 with its notice hash", ex.Consents)
	}
	e.scanLogs(canaries)
}

package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// deployCommand finds a parley invocation in a shell line (the image is
// called parley too: `docker run … parley serve …`), up to a pipe, a
// redirect, a comment or the backtick that ends inline code.
var deployCommand = regexp.MustCompile("\\bparley ((?:serve|backup|restore|subject|purge|audit|staff|chat)\\b[^|>#`\n]*)")

// composeRun is `docker compose run --rm SERVICE ARGS…`: the image's
// entrypoint is parley.
var composeRun = regexp.MustCompile(`docker compose run --rm \S+ ([a-z].*)`)

// deployCommands returns every parley command line docs/deploy.md and the
// Dockerfile show: shell lines (continuations joined), compose `command:`
// lists and the Dockerfile's CMD, each as its arguments.
func deployCommands(t *testing.T, docs, dockerfile string) [][]string {
	t.Helper()
	var cmds [][]string
	joined := strings.ReplaceAll(docs+"\n"+dockerfile, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimLeft(line, "# ")
		if m := composeRun.FindStringSubmatch(line); m != nil {
			cmds = append(cmds, strings.Fields(m[1]))
		} else if m := deployCommand.FindStringSubmatch(line); m != nil {
			cmds = append(cmds, strings.Fields(m[1]))
		}
	}
	for _, block := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(docs, -1) {
		var compose struct {
			Services map[string]struct {
				Command     []string          `yaml:"command"`
				Environment map[string]string `yaml:"environment"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal([]byte(block[1]), &compose); err != nil {
			t.Fatalf("docs/deploy.md: a compose file does not parse: %v", err)
		}
		for _, svc := range compose.Services {
			if len(svc.Command) > 0 {
				cmds = append(cmds, svc.Command)
			}
		}
	}
	if m := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindStringSubmatch(dockerfile); m != nil {
		var cmd []string
		if err := json.Unmarshal([]byte(m[1]), &cmd); err != nil {
			t.Fatalf("Dockerfile CMD is not a JSON list: %v", err)
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// TestDeployDocsCommandsMatchTheBinary checks every parley command that
// docs/deploy.md and the Dockerfile show against the real entry point:
// the subcommand exists and its --help lists every flag used; and every
// PARLEY_ variable they name is read somewhere in the program.
func TestDeployDocsCommandsMatchTheBinary(t *testing.T) {
	docs, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	cmds := deployCommands(t, string(docs), string(dockerfile))
	seen, checked := map[string]bool{}, map[string]bool{}
	for _, args := range cmds {
		if checked[strings.Join(args, " ")] {
			continue
		}
		checked[strings.Join(args, " ")] = true
		sub := args[0]
		helpArgs := []string{sub, "--help"}
		if sub == "subject" && len(args) > 1 {
			helpArgs = []string{sub, args[1], "--help"}
		}
		var out bytes.Buffer
		run(helpArgs, strings.NewReader(""), &out, &out)
		if !strings.Contains(out.String(), "Usage: parley "+sub) {
			t.Errorf("docs show `parley %s`, which is not a command:\n%s", strings.Join(args, " "), out.String())
			continue
		}
		for _, a := range args[1:] {
			if !strings.HasPrefix(a, "-") {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !regexp.MustCompile(`(?m)^\s+-` + regexp.QuoteMeta(name) + `(\s|$)`).MatchString(out.String()) {
				t.Errorf("docs show `parley %s` with --%s, which `parley %s --help` does not list", strings.Join(args, " "), name, sub)
			}
		}
		seen[sub] = true
	}
	for _, want := range []string{"serve", "backup", "subject"} {
		if !seen[want] {
			t.Errorf("docs/deploy.md and the Dockerfile never show `parley %s`: the extraction found %d commands", want, len(cmds))
		}
	}
	sources := goSources(t)
	vars := regexp.MustCompile(`PARLEY_[A-Z0-9_]*[A-Z0-9]\b`).FindAllString(string(docs)+string(dockerfile), -1)
	if len(vars) == 0 {
		t.Fatal("no PARLEY_ variable found in docs/deploy.md: the extraction is broken")
	}
	for _, v := range vars {
		if !bytes.Contains(sources, []byte(`"`+v+`"`)) {
			t.Errorf("docs/deploy.md or the Dockerfile names %s, which no Go source reads", v)
		}
	}
}

// goSources is the text of every non-test Go file of the module.
func goSources(t *testing.T) []byte {
	t.Helper()
	var all bytes.Buffer
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != "../.." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		all.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all.Bytes()
}

// dockerfileProblems lists what keeps a Dockerfile from being Parley's
// image: a static binary (CGO off) built from ./cmd/parley, run by a
// non-root user as the entrypoint of the last stage, with /data a volume
// that the default command keeps the data in.
func dockerfileProblems(src string) []string {
	var problems []string
	lines := strings.Split(strings.ReplaceAll(src, "\\\n", " "), "\n")
	var stages [][]string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], l)
		}
	}
	if len(stages) < 2 {
		return []string{"want a build stage and a final stage"}
	}
	built := false
	for _, st := range stages[:len(stages)-1] {
		for _, l := range st {
			if strings.HasPrefix(l, "RUN ") && strings.Contains(l, "CGO_ENABLED=0 go build") && strings.Contains(l, "./cmd/parley") {
				built = true
			}
			if strings.Contains(l, "CGO_ENABLED=1") {
				problems = append(problems, "a build stage turns cgo on")
			}
		}
	}
	if !built {
		problems = append(problems, "no build stage runs `CGO_ENABLED=0 go build … ./cmd/parley`")
	}
	final := stages[len(stages)-1]
	var user, volume, entry, cmd string
	for _, l := range final {
		switch f := strings.Fields(l); f[0] {
		case "USER":
			user = f[1]
		case "VOLUME":
			volume = l
		case "ENTRYPOINT":
			entry = l
		case "CMD":
			cmd = l
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); user == "" || uid == "0" || uid == "root" {
		problems = append(problems, "the final stage runs as root (want USER with a non-zero uid)")
	}
	if !strings.Contains(volume, `"/data"`) {
		problems = append(problems, "/data is not a VOLUME")
	}
	if !strings.Contains(entry, `"/parley"`) || !strings.Contains(strings.Join(final, "\n"), " /parley") {
		problems = append(problems, "the entrypoint is not the /parley binary copied into the final stage")
	}
	if !strings.Contains(cmd, `"--data", "/data"`) {
		problems = append(problems, "the default command does not keep the data in /data")
	}
	return problems
}

// TestDockerfileBuildsAStaticNonRootImageWithDataOnAVolume parses the
// Dockerfile (it cannot be built here: no base images) and checks its
// shape; mutated copies prove each check can fail.
func TestDockerfileBuildsAStaticNonRootImageWithDataOnAVolume(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	if p := dockerfileProblems(src); len(p) != 0 {
		t.Errorf("Dockerfile: %q", p)
	}
	mutations := map[string]func(string) string{
		"runs as root":   func(s string) string { return strings.Replace(s, "USER 65532:65532", "USER root", 1) },
		"no user":        func(s string) string { return strings.Replace(s, "USER 65532:65532", "", 1) },
		"no volume":      func(s string) string { return strings.Replace(s, `VOLUME ["/data"]`, "", 1) },
		"cgo on":         func(s string) string { return strings.Replace(s, "CGO_ENABLED=0", "CGO_ENABLED=1", 1) },
		"data elsewhere": func(s string) string { return strings.Replace(s, `"--data", "/data"`, `"--data", "/tmp"`, 1) },
		"single stage":   func(s string) string { return strings.Replace(s, "FROM scratch", "", 1) },
		"other entrypoint": func(s string) string {
			return strings.Replace(s, `ENTRYPOINT ["/parley"]`, `ENTRYPOINT ["/bin/sh"]`, 1)
		},
	}
	for name, mutate := range mutations {
		m := mutate(src)
		if m == src {
			t.Errorf("mutation %q changed nothing: the Dockerfile changed, update the test", name)
			continue
		}
		if len(dockerfileProblems(m)) == 0 {
			t.Errorf("a Dockerfile that %s passes the check", name)
		}
	}
}

// TestStaticBuild builds cmd/parley as the Dockerfile does (CGO off) and
// checks the result needs no dynamic loader or C library: it runs on the
// empty base image.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary (-short)")
	}
	bin := filepath.Join(t.TempDir(), "parley")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/parley: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary asks for a dynamic loader: it would not start on the empty base image")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("the binary links C libraries %q (%v)", libs, err)
	}
	var out bytes.Buffer
	version := exec.Command(bin, "version")
	version.Stdout = &out
	if err := version.Run(); err != nil || out.Len() == 0 {
		t.Errorf("the static binary does not run: %v", err)
	}
}

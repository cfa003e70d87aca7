package chaos

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Proc is a child process whose output goes to a log file. It can be killed
// and started again with the same arguments.
type Proc struct {
	Name    string
	bin     string
	args    []string
	env     []string
	LogPath string

	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited
}

func (p *Proc) start() error {
	f, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "---- %s start %s\n", p.Name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Never outlive the suite, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// Pid is the current process id (0 when not running).
func (p *Proc) Pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process is alive.
func (p *Proc) Running() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM, waits up to grace, then kills.
func (p *Proc) Stop(grace time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Kill()
	}
}

// LogTail is the end of the process's log, for failure messages.
func (p *Proc) LogTail(n int) string {
	b, _ := os.ReadFile(p.LogPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *Proc) logContains(s string) bool {
	b, _ := os.ReadFile(p.LogPath)
	// Only the current run's part of the log counts.
	if i := bytes.LastIndex(b, []byte("---- "+p.Name+" start ")); i >= 0 {
		b = b[i:]
	}
	return bytes.Contains(b, []byte(s))
}

// Devmongo is the FerretDB server. Stopped and started again on the same
// port it keeps its data (stored in its own PostgreSQL database).
type Devmongo struct {
	Proc
	URL     string
	Addr    string
	PGDB    string
	uriFile string
}

// NewDevmongo prepares (does not start) a devmongo on a kernel-chosen port,
// storing in PostgreSQL database pgdb of pg.
func NewDevmongo(bin, dir string, pg PGServer, pgdb string) (*Devmongo, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	d := &Devmongo{Addr: fmt.Sprintf("127.0.0.1:%d", port), PGDB: pgdb, uriFile: dir + "/devmongo.uri"}
	d.Proc = Proc{Name: "devmongo", bin: bin, LogPath: dir + "/devmongo.log", args: []string{
		"-listen", d.Addr, "-postgresql-url", pg.DatabaseURL(pgdb), "-uri-file", d.uriFile,
		"-log-level", "warn", "-exit-with-parent"}}
	return d, nil
}

// Start starts the server and waits until it listens (up to 20 s; the old
// port may take a moment to be free again after a stop).
func (d *Devmongo) Start() error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_ = os.Remove(d.uriFile)
		if err := d.start(); err != nil {
			return err
		}
		for d.Running() && time.Now().Before(deadline) {
			if b, err := os.ReadFile(d.uriFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
				d.URL = strings.TrimSpace(string(b))
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		d.Kill()
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("devmongo did not start on %s:\n%s", d.Addr, d.LogTail(20))
}

// Instance is one `server serve --role=...` process.
type Instance struct {
	Proc
	Role string
	Port int // 0 for role relay, which serves no HTTP
	Base string
}

// NewInstance prepares (does not start) an instance of role on a
// kernel-chosen port with env (the suite's configuration).
func NewInstance(name, role, serverBin, dir string, env []string) (*Instance, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	in := &Instance{Role: role}
	env = append(env, fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", port))
	if role != "relay" {
		in.Port, in.Base = port, fmt.Sprintf("http://127.0.0.1:%d", port)
	}
	in.Proc = Proc{Name: name, bin: serverBin, env: env, LogPath: fmt.Sprintf("%s/%s.log", dir, name),
		args: []string{"serve", "--role=" + role}}
	return in, nil
}

// Start starts the instance and waits until it is ready: /healthz answers,
// or for a relay the workers run. Up to 30 s.
func (in *Instance) Start() error {
	if err := in.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) && in.Running() {
		if in.Base == "" {
			if in.logContains("relay running") {
				return nil
			}
		} else if resp, err := client.Get(in.Base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	in.Kill()
	return fmt.Errorf("instance %s (role %s) did not become ready:\n%s", in.Name, in.Role, in.LogTail(20))
}

// Describe names the instance for the timeline.
func (in *Instance) Describe() string {
	if in.Base == "" {
		return fmt.Sprintf("%s (role %s, no HTTP, pid %d)", in.Name, in.Role, in.Pid())
	}
	return fmt.Sprintf("%s (role %s, %s, pid %d)", in.Name, in.Role, in.Base, in.Pid())
}

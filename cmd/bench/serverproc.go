package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// buildServer builds ./cmd/server into a temporary directory.
func buildServer(ctx context.Context) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "mailsync-bench-server")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/server")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build ./cmd/server: %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// serverProc is `server serve` running as a child process.
type serverProc struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port
	done chan struct{}
}

// startServer starts `bin serve` with env added to this process's
// environment (env wins), and waits until /readyz answers 200. The address
// is read from its "serving" log line; its warnings and errors go to stderr.
func startServer(ctx context.Context, bin string, env []string) (*serverProc, error) {
	return startProc(ctx, bin, []string{"serve"}, env)
}

// startProc is startServer for any command that logs as serve does.
func startProc(ctx context.Context, bin string, args, env []string) (*serverProc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &serverProc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	var once sync.Once
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct{ Level, Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) != nil || line.Level == "WARN" || line.Level == "ERROR" {
				fmt.Fprintf(os.Stderr, "server: %s\n", sc.Bytes())
			}
			if line.Msg == "serving" {
				once.Do(func() { addr <- line.Addr })
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case a := <-addr:
		s.base = "http://" + a
	case <-s.done:
		return nil, errors.New("server exited before serving")
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, errors.New("server did not start serving within 60 s")
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("server not ready within 30 s (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for the process (SIGKILL after 30 s).
func (s *serverProc) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func (s *serverProc) rssMB() float64 { return procStatusMB(s.cmd.Process.Pid, "VmRSS") }
func (s *serverProc) hwmMB() float64 { return procStatusMB(s.cmd.Process.Pid, "VmHWM") }

// sample polls the RSS every interval until the returned stop, which
// returns the largest value seen.
func (s *serverProc) sample(interval time.Duration) (stop func() float64) {
	quit, out := make(chan struct{}), make(chan float64, 1)
	go func() {
		peak := s.rssMB()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-quit:
				out <- max(peak, s.rssMB())
				return
			case <-t.C:
				peak = max(peak, s.rssMB())
			}
		}
	}()
	var once sync.Once
	var peak float64
	return func() float64 {
		once.Do(func() { close(quit); peak = <-out })
		return peak
	}
}

package relay_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// proxy forwards TCP connections from a kernel-chosen port to target. It can
// black-hole them (Freeze: connections stay open, nothing more is forwarded,
// new ones are accepted and never answered) and throttle what clients send.
type proxy struct {
	Addr   string
	target string
	limit  int // client → server bytes per second; 0: unlimited

	mu     sync.Mutex
	frozen chan struct{} // closed when thawed; nil while not frozen
}

func newProxy(t *testing.T, target string, limit int) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{Addr: ln.Addr().String(), target: target, limit: limit}
	ctx, cancel := context.WithCancel(context.Background())
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	t.Cleanup(func() {
		cancel()
		_ = ln.Close()
		p.Thaw()
		mu.Lock()
		for _, c := range open {
			_ = c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				s, err := net.Dial("tcp", target)
				if err != nil {
					_ = c.Close()
					return
				}
				mu.Lock()
				open = append(open, c, s)
				mu.Unlock()
				var pair sync.WaitGroup
				pair.Add(2)
				go func() { defer pair.Done(); p.pipe(ctx, s, c, p.limit) }()
				go func() { defer pair.Done(); p.pipe(ctx, c, s, 0) }()
				pair.Wait()
			}()
		}
	}()
	return p
}

// pipe copies src to dst, waiting out freezes and the limiter.
func (p *proxy) pipe(ctx context.Context, dst, src net.Conn, limit int) {
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(ctx) {
				return
			}
			if limit > 0 && !pause(ctx, time.Duration(n)*time.Second/time.Duration(limit)) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) wait(ctx context.Context) bool {
	p.mu.Lock()
	f := p.frozen
	p.mu.Unlock()
	if f == nil {
		return true
	}
	select {
	case <-f:
		return true
	case <-ctx.Done():
		return false
	}
}

// Freeze black-holes every connection: bytes read are held, not forwarded.
func (p *proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen == nil {
		p.frozen = make(chan struct{})
	}
}

// Thaw forwards again.
func (p *proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen != nil {
		close(p.frozen)
		p.frozen = nil
	}
}

// pause waits d (the throttle's pace) unless ctx ends first.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

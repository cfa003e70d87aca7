package lmtp

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// DefaultAllowedNetworks is LMTP_ALLOWED_NETWORKS's default: loopback only.
const DefaultAllowedNetworks = "127.0.0.0/8,::1/128"

// DefaultSocketMode is the file mode of the unix socket: the owner and the
// group may connect (put the MTA's user in mailsync's group), nobody else.
const DefaultSocketMode fs.FileMode = 0o660

// address is LMTP_ADDR parsed: a unix socket path or a TCP host:port.
type address struct {
	network string // "unix" or "tcp"
	addr    string
}

// parseAddr reads LMTP_ADDR: "unix:/path" (absolute) or "host:port".
func parseAddr(s string) (address, error) {
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if !strings.HasPrefix(p, "/") {
			return address{}, fmt.Errorf("LMTP_ADDR=%q: the socket path after unix: must be absolute", s)
		}
		return address{"unix", p}, nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return address{}, fmt.Errorf("LMTP_ADDR=%q is neither unix:/path nor host:port", s)
	}
	return address{"tcp", s}, nil
}

// parseNetworks reads LMTP_ALLOWED_NETWORKS: comma-separated CIDR prefixes
// or single addresses.
func parseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, fmt.Errorf("LMTP_ALLOWED_NETWORKS entry %q is not a CIDR prefix like 10.0.0.0/8 or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, errors.New("LMTP_ALLOWED_NETWORKS is empty: no client could connect")
	}
	return out, nil
}

// listen opens the listener of a: for a unix socket it removes a stale
// socket file left by a crash (never a live one, nor a file that is not a
// socket) and sets mode on the new one.
func listen(a address, mode fs.FileMode) (net.Listener, error) {
	if a.network == "unix" {
		if err := removeStale(a.addr); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen(a.network, a.addr)
	if err != nil {
		return nil, fmt.Errorf("LMTP: listen on %s: %w", a.addr, err)
	}
	if a.network == "unix" {
		if err := os.Chmod(a.addr, mode); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("LMTP: set the mode of %s: %w", a.addr, err)
		}
	}
	return ln, nil
}

// removeStale removes path when it is a socket nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("LMTP: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("LMTP: %s exists and is not a socket; remove it or choose another LMTP_ADDR", path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		_ = c.Close()
		return fmt.Errorf("LMTP: another process listens on %s", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("LMTP: remove the stale socket %s: %w", path, err)
	}
	return nil
}

// allowList accepts TCP clients whose address is in one of nets; any other
// client is greeted with 554 5.7.1 naming its address and disconnected.
type allowList struct {
	net.Listener
	nets    []netip.Prefix
	refused func(remote string)
}

// Accept returns the next allowed connection.
func (l allowList) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.allowed(c.RemoteAddr()) {
			return c, nil
		}
		l.refused(c.RemoteAddr().String())
		go func() {
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = fmt.Fprintf(c, "554 5.7.1 %s is not in LMTP_ALLOWED_NETWORKS\r\n", c.RemoteAddr())
			_ = c.Close()
		}()
	}
}

func (l allowList) allowed(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

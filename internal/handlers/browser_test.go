package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath is Debian's chromium, installed by scripts/install-deb.sh.
const chromiumPath = "/usr/bin/chromium"

// browser is one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		// Chromium must not try the network (closed here) on its own.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 1100),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "starting %s", chromiumPath)
	b := &browser{t: t, ctx: ctx}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	return b
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, actions...))
}

// click clicks the button once it is enabled (a click on a disabled button
// would do nothing, silently).
func (b *browser) click(sel string) {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	b.poll(fmt.Sprintf(`(e => !!e && !e.disabled && e.checkVisibility())(document.querySelector(%s))`, q))
	b.do(chromedp.Click(chromedp.CSS(sel)))
}

// connect types key into the key form and submits it.
func (b *browser) connect(key string) {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS("#key-input")),
		chromedp.SendKeys(chromedp.CSS("#key-input"), key))
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	typed, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#key-input")))
	require.NoError(b.t, err)
	require.Equal(b.t, key, typed, "the key field should hold exactly the typed key")
	b.do(chromedp.Click(chromedp.CSS("#connect-btn")))
}

// connected waits until the page shows the board for key.
func (b *browser) connected(key string) {
	b.t.Helper()
	b.waitText("#key-hint", key[len(key)-4:])
	b.poll(`!document.getElementById('board').hidden && document.getElementById('connect').hidden`)
}

// poll waits until the JavaScript expression is truthy.
func (b *browser) poll(expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second)))
	require.NoError(b.t, err, "waiting for %s", expr)
}

// text is the textContent of the first element matching the CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%s)?.textContent ?? '<no element>').trim()`, q)))
	require.NoError(b.t, err)
	return s
}

// waitText waits until the element is visible and shows want (a
// substring), failing with what it holds instead.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	w, _ := json.Marshal(want)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](
		fmt.Sprintf(`(e => !!e && e.checkVisibility() && e.textContent.includes(%s))(document.querySelector(%s))`, w, q),
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	require.NoError(b.t, err, "%s should show %q but shows %q", sel, want, b.text(sel))
}

// waitField waits until the element with data-field=name shows exactly want
// (numbers without their thousands separators).
func (b *browser) waitField(name, want string) {
	b.t.Helper()
	sel := fmt.Sprintf(`[data-field=%q]`, name)
	q, _ := json.Marshal(sel)
	w, _ := json.Marshal(want)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](
		fmt.Sprintf(`(document.querySelector(%s)?.textContent ?? '').replaceAll(',', '').trim() === %s`, q, w),
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	require.NoError(b.t, err, "%s should be %q but the page shows %q", name, want, b.text(sel))
}

// requireStatusMatches compares the numbers shown with GET /v1/sync/status.
// The numbers that move with the clock (throughput over the trailing minute,
// the age of the oldest pending message) are left out.
func (b *browser) requireStatusMatches(e *env) {
	b.t.Helper()
	st := e.do(http.MethodGet, "/v1/sync/status", "", nil).json(b.t)
	num := func(section, key string) string {
		return strconv.Itoa(int(st[section].(map[string]any)[key].(float64)))
	}
	want := map[string]string{}
	total := 0
	for _, k := range []string{"synced", "pending", "failed", "not_applicable", "erased"} {
		want["emails."+k] = num("emails", k)
		v, _ := strconv.Atoi(want["emails."+k])
		total += v
	}
	want["emails.total"] = strconv.Itoa(total)
	for _, k := range []string{"pending", "in_flight", "failed"} {
		want["outbox."+k] = num("outbox", k)
	}
	want["relay.workers"] = num("relay", "workers")
	want["relay.state"] = "running"
	for name, v := range want {
		b.waitField(name, v)
	}
}

// screenshot saves a full-page PNG as a test artefact that outlives the
// test ($MAILSYNC_ARTIFACTS, default .run/artifacts in the repository),
// prints its path on stderr (scripts/test.sh repeats it after go test) and
// returns it.
func (b *browser) screenshot(name string) []byte {
	b.t.Helper()
	dir := os.Getenv("MAILSYNC_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(b.t), ".run", "artifacts")
	}
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	path, err := filepath.Abs(filepath.Join(dir, name))
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	fmt.Fprintln(os.Stderr, "dashboard screenshot:", path)
	return png
}

// repoRoot is the directory holding the module's go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("go.mod not found above the working directory")
	return ""
}

// requireNoPageErrors fails on uncaught exceptions and on console errors
// other than the network log of the 401 and 403 answers the test provoked.
func (b *browser) requireNoPageErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.messages {
		expected := m.Source == "network" && (strings.Contains(m.Text, "401") || strings.Contains(m.Text, "403"))
		if m.IsException() || (m.Type == chromedp.ConsoleError && !expected) {
			b.t.Errorf("page error: %s (%s:%d)", m.Text, m.URL, m.Line+1)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// findChromium returns the headless browser the console tests drive. It
// fails, never skips: scripts/test installs the browser, so a missing one is
// a broken test machine, not an optional test.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no headless browser: neither chromium nor chromium-browser is on PATH. " +
		"Run ./scripts/test, which installs it (apt-get install -y --no-install-recommends chromium)")
	return ""
}

// stepTimeout bounds one browser step (a click, a wait): the pages answer
// in milliseconds, so a step that takes this long is a broken page.
const stepTimeout = 15 * time.Second

// startBrowser starts headless Chromium for the test, stopped at cleanup.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(findChromium(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancel := chromedp.NewContext(actx)
	// The first run starts the browser and must not carry a timeout.
	if err := chromedp.Do(bctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); cancelAlloc() })
	return bctx
}

// page is one browser tab: its own session storage, so its own sign-in.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	mu   sync.Mutex
	errs []string // uncaught exceptions and console errors of the page
}

// newPage opens a tab on the browser. At cleanup the test fails if the page
// threw or logged an error (a CSP violation is logged as one).
func newPage(t *testing.T, browser context.Context, base string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	p := &page{t: t, ctx: ctx, base: base}
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				msg = "console.error: " + strings.Join(parts, " ")
			}
		}
		if msg != "" {
			p.mu.Lock()
			p.errs = append(p.errs, msg)
			p.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errs {
			t.Errorf("the page reported an error: %s", e)
		}
		cancel()
	})
	return p
}

// do runs steps, each bounded by stepTimeout; on failure it reports what the
// page shows.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
		err := chromedp.Do(ctx, s)
		cancel()
		if err != nil {
			p.t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, p.visibleText())
		}
	}
}

// visibleText is the page's text as a person reads it, for failure reports.
func (p *page) visibleText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

func (p *page) eval(expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

// XPath selectors by what a person sees: visible text and accessible names.

// xq quotes s as an XPath string literal.
func xq(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

// button is a button whose text or aria-label is name.
func button(name string) string {
	return "//button[normalize-space()=" + xq(name) + " or @aria-label=" + xq(name) + "]"
}

// labelled is the control a <label> with text label is for.
func labelled(label string) string {
	return "//*[@id=//label[normalize-space()=" + xq(label) + "]/@for]"
}

// labelledIn is the control labelled label inside scope.
func labelledIn(scope, label string) string {
	return scope + "//*[@id=" + scope + "//label[normalize-space()=" + xq(label) + "]/@for]"
}

// within narrows sel to the inside of the element matched by scope.
func within(scope, sel string) string { return scope + sel }

// withText is any element of tag whose text contains s.
func withText(tag, s string) string {
	return "//" + tag + "[contains(normalize-space(), " + xq(s) + ")]"
}

const pane = "//aside[contains(@class,'panel')]"

func (p *page) open(path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.base+path))
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.Click(sel))
}

// typeInto types text into the control sel, key by key.
func (p *page) typeInto(sel, text string) {
	p.t.Helper()
	p.do("type into "+sel, chromedp.Click(sel), chromedp.SendKeys(sel, text))
}

// replaceText deletes what the control sel holds with the keyboard and
// types text.
func (p *page) replaceText(sel, text string) {
	p.t.Helper()
	p.waitVisible(sel)
	n := p.eval(fmt.Sprintf(`String(document.evaluate(%q, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue.value.length)`, sel))
	var count int
	fmt.Sscan(n, &count)
	p.do("replace "+sel, chromedp.Click(sel), chromedp.SendKeys(sel, kb.End+strings.Repeat(kb.Backspace, count)+text))
}

// pickFirst types q into the people picker labelled label and takes the
// first suggestion with the keyboard, as a person does.
func (p *page) pickFirst(label, q, want string) {
	p.t.Helper()
	input := labelled(label)
	p.typeInto(input, q)
	p.waitVisible("//li[@role='option' and contains(normalize-space(), " + xq(want) + ")]")
	p.do("choose "+want, chromedp.SendKeys(input, kb.ArrowDown+kb.Enter))
	p.waitVisible("//li[contains(@class,'chip') and contains(normalize-space(), " + xq(want) + ")]")
}

// choose picks the option whose text contains option in the select
// labelled label, and tells the page as a person's choice would.
func (p *page) choose(sel, option string) {
	p.t.Helper()
	p.waitVisible(sel)
	got := p.eval(fmt.Sprintf(`(() => {
		const s = document.evaluate(%q, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
		const o = [...s.options].find((o) => o.textContent.includes(%q));
		if (!o) return "no option " + %q + " in " + [...s.options].map((o) => o.textContent).join(" | ");
		s.focus();
		s.value = o.value;
		s.dispatchEvent(new Event("input", {bubbles: true}));
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return "";
	})()`, sel, option, option))
	if got != "" {
		p.t.Fatalf("choose %q in %s: %s", option, sel, got)
	}
}

func (p *page) waitVisible(sel string) {
	p.t.Helper()
	p.do("wait for "+sel, chromedp.WaitVisible(sel))
}

func (p *page) waitGone(sel string) {
	p.t.Helper()
	p.do("wait for "+sel+" to go", chromedp.WaitNotPresent(sel))
}

// text is the visible text of the first element sel matches.
func (p *page) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		p.t.Fatalf("text of %s: %v\nthe page shows:\n%s", sel, err, p.visibleText())
	}
	return strings.Join(strings.Fields(s), " ")
}

// count is how many elements the XPath expression matches now.
func (p *page) count(xpath string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(
		`document.evaluate(%q, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null).snapshotLength`, xpath)))
	if err != nil {
		p.t.Fatalf("count %s: %v", xpath, err)
	}
	return n
}

// ready waits until the console has rendered its view.
func (p *page) ready() {
	p.t.Helper()
	p.waitVisible(`//body[@data-state='ready']`)
}

// signIn opens the console and signs in by pasting tok.
func (p *page) signIn(tok string) {
	p.t.Helper()
	p.open("/console")
	p.typeInto(labelled("Bearer token"), tok)
	p.click(button("Sign in"))
	p.ready()
}

// nav opens a console page from the navigation.
func (p *page) nav(name string) {
	p.t.Helper()
	p.click("//nav//a[normalize-space()=" + xq(name) + "]")
	p.waitVisible("//nav//a[@aria-current='page' and normalize-space()=" + xq(name) + "]")
	p.ready()
}

// shot saves a full-page PNG as name under SEATFLOW_SCREENSHOTS (for the
// README; a temporary directory when unset) and checks it is not blank.
func (p *page) shot(name string) {
	p.t.Helper()
	dir := os.Getenv("SEATFLOW_SCREENSHOTS")
	if dir == "" {
		dir = p.t.TempDir()
	}
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if n := colours(img); n < 8 {
		p.t.Errorf("screenshot %s has %d colours; the page looks blank", name, n)
	}
	file := filepath.Join(dir, name+".png")
	if err := os.WriteFile(file, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", file)
}

// colours counts an image's distinct colours, up to 1000.
func colours(img image.Image) int {
	seen := map[color.RGBA]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}] = true
			if len(seen) >= 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}

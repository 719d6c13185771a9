package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/term"
)

// IsTerminal reports whether f is an interactive terminal. Only then should a
// Progress redraw a bar with carriage returns: redirected to a file or a
// pipe, "\r" redraws turn logs into unreadable walls (HF issue 28683).
func IsTerminal(f *os.File) bool {
	return f != nil && term.IsTerminal(int(f.Fd()))
}

const (
	// redrawEvery throttles bar redraws to about ten a second: enough to look
	// live, cheap enough not to matter even at thousands of steps a second.
	redrawEvery = 100 * time.Millisecond
	// rateWindow is how far back the it/s estimate looks, so it follows
	// changes in speed (evaluation pauses, warm-up) instead of averaging the
	// whole run.
	rateWindow = 10 * time.Second
	// barCells is the width of the bar itself in terminal cells.
	barCells = 20
	// defaultWidth is the terminal width assumed when it cannot be read.
	defaultWidth = 80
)

// Progress is the console view of a run. On a terminal it keeps one bar line
// at the bottom ("train", or a short-lived "eval" bar nested in it), redrawn
// in place with "\r", and prints log lines and messages above it. Off a
// terminal it never writes a carriage return: Update is silent and Log and
// Printf print plain lines, so a redirected log stays greppable.
//
// Other output to the same stream while a bar is shown would land in the
// middle of the bar line; send messages through Printf instead.
//
// Write errors are ignored: a closed console must not stop training, and
// log.jsonl is the record that matters. Progress is safe for concurrent use.
type Progress struct {
	// Now is the clock, time.Now by default; tests replace it.
	Now func() time.Time
	// Width is the terminal width in columns. Bar lines are cut to Width-1
	// cells so that a redraw never wraps onto a second line (which "\r"
	// cannot take back). NewProgress reads it from the terminal when it can.
	Width int

	mu       sync.Mutex
	w        io.Writer
	tty      bool
	bars     []*bar // the last one is on screen; earlier ones are its parents
	shown    bool   // a bar line is on screen and the cursor is at its end
	lastDraw time.Time
}

// bar is one Start..Finish span.
type bar struct {
	desc    string
	total   int
	done    int
	fields  map[string]float64
	start   time.Time
	samples []sample // (time, done) pairs for the moving-window rate
}

type sample struct {
	t    time.Time
	done int
}

// NewProgress returns a Progress writing to w. tty selects the interactive
// mode; pass IsTerminal(f) for a file, or false to force plain lines (the
// trainer's --no-progress).
func NewProgress(w io.Writer, tty bool) *Progress {
	p := &Progress{Now: time.Now, Width: defaultWidth, w: w, tty: tty}
	if f, ok := w.(*os.File); ok && tty {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
			p.Width = cols
		}
	}
	return p
}

// Start opens a bar named desc that counts to total (0 or less: unknown,
// shown without a percentage or ETA). Starting a bar while another is open
// nests it: the new bar replaces the old one on screen until its Finish, as
// an evaluation bar does inside the training bar.
func (p *Progress) Start(desc string, total int) {
	p.StartAt(desc, total, 0)
}

// StartAt is Start for a bar that begins at done rather than 0, as when a run
// resumes from checkpoint-N: the rate then counts only the steps run now.
func (p *Progress) StartAt(desc string, total, done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.Now()
	b := &bar{desc: desc, total: total, done: done, start: now,
		samples: []sample{{now, done}}}
	p.bars = append(p.bars, b)
	if p.tty {
		p.draw(now)
	}
}

// Update sets the current bar's count to done and merges fields into the
// values shown after it (loss, learning_rate as "lr", ...); a nil map keeps
// the previous values. On a terminal the bar is redrawn at most every 100 ms,
// and always when done reaches total; off a terminal nothing is printed.
func (p *Progress) Update(done int, fields map[string]float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.top()
	if b == nil {
		return
	}
	b.done = done
	if len(fields) > 0 && b.fields == nil {
		b.fields = make(map[string]float64, len(fields))
	}
	for k, v := range fields {
		b.fields[k] = v
	}
	if !p.tty {
		return
	}
	now := p.Now()
	if p.shown && now.Sub(p.lastDraw) < redrawEvery && (b.total <= 0 || done < b.total) {
		return
	}
	p.draw(now)
}

// Log prints e as one line (FormatEntry) above the bar, or as a plain line
// off a terminal.
func (p *Progress) Log(e Entry) {
	p.println(FormatEntry(e))
}

// Printf prints a message line above the bar (or plainly off a terminal). A
// trailing newline is added when missing.
func (p *Progress) Printf(format string, args ...any) {
	p.println(strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))
}

// Finish closes the current bar. On a terminal a nested bar (eval) vanishes
// and its parent is redrawn; the outermost bar is drawn once more in its
// final state and left on screen. Finish without an open bar does nothing.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bars) == 0 {
		return
	}
	now := p.Now()
	if !p.tty {
		p.bars = p.bars[:len(p.bars)-1]
		return
	}
	if len(p.bars) == 1 {
		p.draw(now)
		p.write("\n")
		p.shown = false
		p.bars = p.bars[:0]
		return
	}
	p.bars = p.bars[:len(p.bars)-1]
	p.draw(now)
}

// top returns the bar on screen, or nil.
func (p *Progress) top() *bar {
	if len(p.bars) == 0 {
		return nil
	}
	return p.bars[len(p.bars)-1]
}

// println writes one line above the bar: clear the bar line, write the text,
// draw the bar again below it.
func (p *Progress) println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		p.write(line + "\n")
		return
	}
	if p.shown {
		p.write("\r\x1b[K")
		p.shown = false
	}
	p.write(line + "\n")
	if p.top() != nil {
		p.draw(p.Now())
	}
}

// draw redraws the current bar in place: carriage return, the line, and an
// erase-to-end-of-line so a shorter line leaves no tail of the longer one.
func (p *Progress) draw(now time.Time) {
	b := p.top()
	if b == nil {
		return
	}
	b.addSample(now)
	p.write("\r" + fit(b.render(now), p.Width-1) + "\x1b[K")
	p.shown = true
	p.lastDraw = now
}

func (p *Progress) write(s string) {
	_, _ = io.WriteString(p.w, s) // errors ignored on purpose, see Progress
}

// addSample records (now, done) and drops samples older than rateWindow,
// keeping the newest one before the window as its left edge.
func (b *bar) addSample(now time.Time) {
	last := b.samples[len(b.samples)-1]
	if now.Equal(last.t) {
		b.samples[len(b.samples)-1].done = b.done
	} else {
		b.samples = append(b.samples, sample{now, b.done})
	}
	for len(b.samples) > 2 && now.Sub(b.samples[1].t) >= rateWindow {
		b.samples = b.samples[1:]
	}
}

// rate returns steps per second over the moving window, or 0 when unknown.
func (b *bar) rate() float64 {
	first, last := b.samples[0], b.samples[len(b.samples)-1]
	dt := last.t.Sub(first.t).Seconds()
	if dt <= 0 || last.done < first.done {
		return 0
	}
	return float64(last.done-first.done) / dt
}

// render builds the bar line, after tqdm:
//
//	train  37%|███████▍            | 370/1000 [01:02<01:45, 5.91it/s] loss=0.4123 lr=4.1e-05
func (b *bar) render(now time.Time) string {
	var s strings.Builder
	s.WriteString(b.desc)
	rate := b.rate()
	elapsed := formatDuration(now.Sub(b.start))
	if b.total > 0 {
		frac := math.Min(math.Max(float64(b.done)/float64(b.total), 0), 1)
		fmt.Fprintf(&s, " %3d%%|%s| %d/%d [%s<%s, %s]",
			int(frac*100), drawBar(frac, barCells), b.done, b.total,
			elapsed, eta(b.total-b.done, rate), formatRate(rate))
	} else {
		fmt.Fprintf(&s, " %d [%s, %s]", b.done, elapsed, formatRate(rate))
	}
	for _, k := range orderedKeys(b.fields) {
		name := k
		if k == "learning_rate" {
			name = "lr"
		}
		fmt.Fprintf(&s, " %s=%s", name, FormatValue(b.fields[k]))
	}
	return s.String()
}

// partialCells are the eighth-blocks that give the bar sub-cell resolution.
var partialCells = []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// drawBar draws frac (0..1) as cells characters of full and partial blocks,
// padded with spaces.
func drawBar(frac float64, cells int) string {
	eighths := int(frac * float64(cells*8))
	full, part := eighths/8, eighths%8
	var s strings.Builder
	s.WriteString(strings.Repeat("█", full))
	used := full
	if full < cells {
		s.WriteString(partialCells[part])
		if part > 0 {
			used++
		}
	}
	s.WriteString(strings.Repeat(" ", cells-used))
	return s.String()
}

// formatRate shows the speed as tqdm does: it/s, or s/it below one step a
// second so slow steps do not read "0.02it/s".
func formatRate(r float64) string {
	switch {
	case r <= 0:
		return "?it/s"
	case r < 1:
		return fmt.Sprintf("%.2fs/it", 1/r)
	default:
		return fmt.Sprintf("%.2fit/s", r)
	}
}

// eta is the time left for remaining steps at rate, or "?" when unknown.
func eta(remaining int, rate float64) string {
	if rate <= 0 || remaining < 0 {
		return "?"
	}
	return formatDuration(time.Duration(float64(remaining) / rate * float64(time.Second)))
}

// formatDuration prints MM:SS, or H:MM:SS from one hour up.
func formatDuration(d time.Duration) string {
	sec := int64(d.Round(time.Second) / time.Second)
	if sec < 0 {
		sec = 0
	}
	h, m, s := sec/3600, sec/60%60, sec%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", m, s)
}

// fit cuts s to at most n runes (each character of the bar line takes one
// cell), so the line never wraps.
func fit(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

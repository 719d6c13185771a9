package report

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeClock is a settable clock for Progress.Now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestProgress(tty bool) (*Progress, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	p := NewProgress(&buf, tty)
	p.Now = clock.now
	p.Width = 120
	return p, &buf, clock
}

func TestFormatEntry(t *testing.T) {
	for _, tc := range []struct {
		e    Entry
		want string
	}{
		{Entry{"loss": 0.41234, "grad_norm": 1.2, "learning_rate": 4.1e-5, "epoch": 0.61, "step": 500},
			"step=500 epoch=0.61 loss=0.4123 learning_rate=4.1e-05 grad_norm=1.2"},
		{Entry{"eval_runtime": 3.14159, "eval_samples_per_second": 12345.6, "eval_accuracy": 0.9,
			"eval_loss": 0.375, "epoch": 1, "step": 820},
			"step=820 epoch=1 eval_loss=0.375 eval_accuracy=0.9 eval_runtime=3.142 eval_samples_per_second=12346"},
		{Entry{"train_loss": 0.5, "total_flos": 1.234e15, "train_runtime": 61.5, "step": 1000, "loss": 0.2},
			"step=1000 loss=0.2 train_loss=0.5 total_flos=1.234e+15 train_runtime=61.5"},
		{Entry{"grad_norm": posInf(), "loss": nan()}, "loss=NaN grad_norm=+Inf"},
		{Entry{}, ""},
	} {
		if got := FormatEntry(tc.e); got != tc.want {
			t.Errorf("FormatEntry(%v)\n got %q\nwant %q", tc.e, got, tc.want)
		}
	}
}

func TestProgressPlain(t *testing.T) {
	p, buf, clock := newTestProgress(false)
	p.Start("train", 1000)
	for i := 1; i <= 500; i++ {
		clock.advance(50 * time.Millisecond)
		p.Update(i, map[string]float64{"loss": 0.5})
	}
	p.Log(Entry{"loss": 0.41234, "grad_norm": 1.2, "learning_rate": 4.1e-5, "epoch": 0.61, "step": 500})
	p.Start("eval", 10)
	p.Update(10, nil)
	p.Finish()
	p.Log(Entry{"eval_loss": 0.375, "epoch": 0.61, "step": 500})
	p.Printf("saved checkpoint-%d\n", 500)
	p.Printf("no newline")
	p.Update(1000, nil)
	p.Finish()
	p.Finish() // no open bar: nothing

	want := "step=500 epoch=0.61 loss=0.4123 learning_rate=4.1e-05 grad_norm=1.2\n" +
		"step=500 epoch=0.61 eval_loss=0.375\n" +
		"saved checkpoint-500\n" +
		"no newline\n"
	if got := buf.String(); got != want {
		t.Errorf("plain output\n got %q\nwant %q", got, want)
	}
	if strings.ContainsAny(buf.String(), "\r\x1b") {
		t.Error("plain output contains a carriage return or escape")
	}
}

func TestProgressTTY(t *testing.T) {
	p, buf, clock := newTestProgress(true)
	const clear = "\x1b[K"

	p.Start("train", 100)
	want := "\rtrain   0%|                    | 0/100 [00:00<?, ?it/s]" + clear
	if got := buf.String(); got != want {
		t.Fatalf("after Start\n got %q\nwant %q", got, want)
	}

	// 10 steps in one second: 10 it/s, 90 left = 9 s.
	buf.Reset()
	for i := 1; i <= 10; i++ {
		clock.advance(100 * time.Millisecond)
		p.Update(i, map[string]float64{"loss": 0.6931, "learning_rate": 5e-5})
	}
	last := "\rtrain  10%|██                  | 10/100 [00:01<00:09, 10.00it/s] loss=0.6931 lr=5e-05" + clear
	if got := buf.String(); !strings.HasSuffix(got, last) || strings.Count(got, "\r") != 10 {
		t.Fatalf("after 10 updates\n got %q\nwant 10 redraws ending in %q", got, last)
	}

	// Updates within 100 ms of the last redraw are throttled.
	buf.Reset()
	clock.advance(30 * time.Millisecond)
	p.Update(11, nil)
	clock.advance(30 * time.Millisecond)
	p.Update(12, nil)
	if buf.Len() != 0 {
		t.Fatalf("throttled updates drew %q", buf.String())
	}

	// Log clears the bar, prints the entry, redraws the bar (with the
	// latest count even though its update was throttled).
	buf.Reset()
	p.Log(Entry{"loss": 0.6, "step": 12, "epoch": 0.1})
	want = "\r" + clear + "step=12 epoch=0.1 loss=0.6\n" +
		"\rtrain  12%|██▍                 | 12/100 [00:01<00:08, 11.32it/s] loss=0.6931 lr=5e-05" + clear
	if got := buf.String(); got != want {
		t.Fatalf("Log\n got %q\nwant %q", got, want)
	}

	// A nested eval bar replaces the train bar and vanishes on Finish.
	buf.Reset()
	p.Start("eval", 4)
	clock.advance(time.Second)
	p.Update(4, nil) // done == total: drawn despite no throttle window passing
	p.Finish()
	want = "\reval   0%|                    | 0/4 [00:00<?, ?it/s]" + clear +
		"\reval 100%|████████████████████| 4/4 [00:01<00:00, 4.00it/s]" + clear +
		"\rtrain  12%|██▍                 | 12/100 [00:02<00:15, 5.83it/s] loss=0.6931 lr=5e-05" + clear
	if got := buf.String(); got != want {
		t.Fatalf("eval bar\n got %q\nwant %q", got, want)
	}

	buf.Reset()
	p.Printf("saved %s", "checkpoint-12")
	want = "\r" + clear + "saved checkpoint-12\n" +
		"\rtrain  12%|██▍                 | 12/100 [00:02<00:15, 5.83it/s] loss=0.6931 lr=5e-05" + clear
	if got := buf.String(); got != want {
		t.Fatalf("Printf\n got %q\nwant %q", got, want)
	}

	// The outermost bar stays on screen after Finish.
	buf.Reset()
	clock.advance(time.Second)
	p.Update(100, nil)
	p.Finish()
	if got := buf.String(); !strings.HasSuffix(got, "| 100/100 [00:03<00:00, 32.68it/s] loss=0.6931 lr=5e-05"+clear+"\n") {
		t.Fatalf("Finish\n got %q", got)
	}

	// With no bar open, a log line is just a line.
	buf.Reset()
	p.Log(Entry{"train_runtime": 3})
	if got := buf.String(); got != "train_runtime=3\n" {
		t.Fatalf("Log without bar: %q", got)
	}
}

func TestProgressRateWindow(t *testing.T) {
	p, buf, clock := newTestProgress(true)
	p.Start("train", 0) // unknown total
	// 60 s at 1 step/s, then 10 s at 10 steps/s: the window shows 10 it/s.
	step := 0
	for i := 0; i < 60; i++ {
		clock.advance(time.Second)
		step++
		p.Update(step, nil)
	}
	for i := 0; i < 100; i++ {
		clock.advance(100 * time.Millisecond)
		step += 1
		p.Update(step, nil)
	}
	got := buf.String()
	want := "\rtrain 160 [01:10, 10.00it/s]\x1b[K"
	if !strings.HasSuffix(got, want) {
		t.Fatalf("got tail %q, want %q", got[len(got)-len(want)-10:], want)
	}
	if n := len(p.bars[0].samples); n > 110 {
		t.Errorf("rate window kept %d samples", n)
	}
}

func TestProgressSlowAndLong(t *testing.T) {
	p, buf, clock := newTestProgress(true)
	p.StartAt("train", 10000, 5000) // resumed at 5000
	clock.advance(4 * time.Second)
	p.Update(5001, nil)
	want := "\rtrain  50%|██████████          | 5001/10000 [00:04<5:33:16, 4.00s/it]\x1b[K"
	if got := buf.String(); !strings.HasSuffix(got, want) {
		t.Fatalf("got %q\nwant suffix %q", got, want)
	}
}

func TestProgressWidth(t *testing.T) {
	p, buf, _ := newTestProgress(true)
	p.Width = 30
	p.Start("train", 100)
	want := "\rtrain   0%|                  \x1b[K"
	if got := buf.String(); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestIsTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
	if IsTerminal(nil) {
		t.Error("nil is not a terminal")
	}
}

func TestDrawBar(t *testing.T) {
	for _, tc := range []struct {
		frac float64
		want string
	}{
		{0, "     "}, {1, "█████"}, {0.5, "██▌  "}, {0.99, "████▉"}, {0.025, "▏    "},
	} {
		if got := drawBar(tc.frac, 5); got != tc.want {
			t.Errorf("drawBar(%v) = %q, want %q", tc.frac, got, tc.want)
		}
	}
}

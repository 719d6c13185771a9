package report

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sampleHistory is a short classification run as HF's log_history records
// it: training logs every 10 steps, an evaluation at each of 2 epochs, and the
// final train summary.
func sampleHistory() []Entry {
	var h []Entry
	for step := 10; step <= 40; step += 10 {
		h = append(h, Entry{"loss": 0.7 - float64(step)/100, "grad_norm": 1.5,
			"learning_rate": 5e-5 * (1 - float64(step)/40), "epoch": float64(step) / 20, "step": float64(step)})
		if step%20 == 0 {
			h = append(h, Entry{"eval_loss": 0.6 - float64(step)/200, "eval_accuracy": 0.6 + float64(step)/200,
				"eval_f1": 0.5 + float64(step)/200, "eval_runtime": 1.2, "eval_samples_per_second": 800,
				"eval_steps_per_second": 100, "epoch": float64(step) / 20, "step": float64(step)})
		}
	}
	h = append(h, Entry{"train_runtime": 10, "train_loss": 0.45, "total_flos": 1e12, "epoch": 2, "step": 40})
	return h
}

func checkImage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(path) {
	case ".png":
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if r := img.Bounds(); r.Dx() != 768 || r.Dy() != 480 {
			t.Errorf("%s: %v, want 768x480", path, r)
		}
	case ".svg":
		s := strings.TrimSpace(string(b))
		if !(strings.HasPrefix(s, "<?xml") || strings.HasPrefix(s, "<svg")) || !strings.HasSuffix(s, "</svg>") {
			t.Errorf("%s: not an SVG document: %.60q", path, s)
		}
	default:
		t.Fatalf("unexpected file %s", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm() != 0o644 {
		t.Errorf("%s: mode %v", path, fi.Mode().Perm())
	}
}

func TestWritePlots(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	paths, err := WritePlots(dir, sampleHistory())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		checkImage(t, p)
	}
	want := []string{"loss.png", "loss.svg", "metrics.png", "metrics.svg", "learning_rate.png", "learning_rate.svg"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("wrote %v, want %v", names, want)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(want) {
		t.Errorf("dir holds %d files, want %d", len(ents), len(want))
	}
	// The metrics chart names its metrics, not the timing keys.
	svg, _ := os.ReadFile(filepath.Join(dir, "metrics.svg"))
	for _, s := range []string{"accuracy", "f1", "Evaluation metrics"} {
		if !bytes.Contains(svg, []byte(s)) {
			t.Errorf("metrics.svg lacks %q", s)
		}
	}
	for _, s := range []string{"runtime", "per_second"} {
		if bytes.Contains(svg, []byte(s)) {
			t.Errorf("metrics.svg shows %q", s)
		}
	}

	// Same history, same bytes.
	again := t.TempDir()
	if _, err := WritePlots(again, sampleHistory()); err != nil {
		t.Fatal(err)
	}
	for _, n := range want {
		a, _ := os.ReadFile(filepath.Join(dir, n))
		b, _ := os.ReadFile(filepath.Join(again, n))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", n)
		}
	}
}

func TestWritePlotsEdgeCases(t *testing.T) {
	dir := t.TempDir()
	if paths, err := WritePlots(filepath.Join(dir, "none"), nil); err != nil || len(paths) != 0 {
		t.Errorf("empty history: %v, %v", paths, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !os.IsNotExist(err) {
		t.Error("empty history created the directory")
	}

	// One training point, no eval, no learning rate: only the loss chart,
	// and the point is drawn (a marker, not an empty chart).
	one := filepath.Join(dir, "one")
	paths, err := WritePlots(one, []Entry{{"loss": 0.69, "step": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || filepath.Base(paths[0]) != "loss.png" {
		t.Fatalf("one point wrote %v", paths)
	}
	f, _ := os.Open(paths[0])
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// Count dark-blue-ish marker pixels near the centre of the data area.
	b := img.Bounds()
	colored := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r != g || g != bl { // not white, black or grey: a series colour
				colored++
			}
		}
	}
	if colored < 20 {
		t.Errorf("single-point plot has %d coloured pixels; the point is not visible", colored)
	}

	// Non-finite values are skipped; a chart of only NaN is not written.
	nan := filepath.Join(dir, "nan")
	paths, err = WritePlots(nan, []Entry{
		{"loss": math.NaN(), "learning_rate": 1e-5, "step": 1},
		{"loss": math.Inf(1), "learning_rate": 1e-5, "step": 2},
		{"eval_accuracy": math.NaN(), "step": 2},
		{"loss": 0.5}, // no step
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || filepath.Base(paths[0]) != "learning_rate.png" {
		t.Errorf("NaN history wrote %v", paths)
	}
	for _, p := range paths {
		checkImage(t, p)
	}
}

func TestPointsResume(t *testing.T) {
	h := []Entry{
		{"loss": 1, "step": 10}, {"loss": 0.9, "step": 20}, {"loss": 0.8, "step": 30},
		// resumed from checkpoint-20: step 30 is logged again
		{"loss": 0.85, "step": 30}, {"loss": 0.7, "step": 40},
		{"eval_loss": 1, "step": 40},
	}
	got := points(h, "loss")
	want := []float64{10, 1, 20, 0.9, 30, 0.85, 40, 0.7}
	var flat []float64
	for _, p := range got {
		flat = append(flat, p.X, p.Y)
	}
	if !reflect.DeepEqual(flat, want) {
		t.Errorf("points = %v, want %v", flat, want)
	}
}

func TestIsMetricKey(t *testing.T) {
	for k, want := range map[string]bool{
		"eval_accuracy": true, "eval_f1": true, "eval_overall_f1": true, "eval_pearson": true,
		"eval_perplexity": true, "eval_loss": false, "eval_runtime": false,
		"eval_samples_per_second": false, "eval_steps_per_second": false,
		"eval_model_preparation_time": false, "epoch": false, "step": false, "loss": false,
	} {
		if got := isMetricKey(k); got != want {
			t.Errorf("isMetricKey(%q) = %v", k, got)
		}
	}
}

package report

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot size: 8 x 5 inches is 768 x 480 pixels at the PNG backend's 96 dpi,
// legible in a README and on a laptop screen.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 5 * vg.Inch
	// maxGlyphPoints: series with at most this many points get a marker on
	// every point (so one eval point is visible at all); denser training
	// curves are drawn as lines only, where markers would be a smear.
	maxGlyphPoints = 50
)

// chart is one figure: a file stem, labels and its series.
type chart struct {
	stem, title, ylabel string
	series              []series
}

// series is one line: its legend name and points (x = step).
type series struct {
	name string
	pts  plotter.XYs
}

// WritePlots draws the run's history into dir (created if missing) and returns
// the paths written, in this order:
//
//   - loss.png, loss.svg: training "loss" and "eval_loss" against step;
//   - metrics.png, metrics.svg: one line per other evaluation metric
//     (eval_accuracy, eval_f1, eval_pearson, eval_perplexity, ...; timing
//     keys such as eval_runtime and eval_samples_per_second left out), only
//     when there is one;
//   - learning_rate.png, learning_rate.svg.
//
// Entries without a step, and NaN or infinite values, are skipped. When a
// step goes backwards (log.jsonl of a run resumed from an earlier
// checkpoint), the later points replace the earlier run's from that step on.
// A chart with no points is not written, so an empty history writes nothing.
// Each file is written to a temporary name and renamed, so a reader never
// sees half a picture.
func WritePlots(dir string, history []Entry) ([]string, error) {
	charts := buildCharts(history)
	if len(charts) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plots: %w", err)
	}
	var written []string
	for _, c := range charts {
		p := c.plot()
		for _, format := range []string{"png", "svg"} {
			path := filepath.Join(dir, c.stem+"."+format)
			wt, err := p.WriterTo(plotWidth, plotHeight, format)
			if err != nil {
				return written, fmt.Errorf("plots: %s: %w", path, err)
			}
			if err := writeFileAtomic(path, wt); err != nil {
				return written, err
			}
			written = append(written, path)
		}
	}
	return written, nil
}

// buildCharts collects the series of each chart from the history, leaving out
// charts without points.
func buildCharts(history []Entry) []chart {
	all := []chart{
		{stem: "loss", title: "Loss", ylabel: "loss", series: []series{
			{name: "train", pts: points(history, "loss")},
			{name: "eval", pts: points(history, "eval_loss")},
		}},
		{stem: "metrics", title: "Evaluation metrics", ylabel: "value"},
		{stem: "learning_rate", title: "Learning rate", ylabel: "learning rate", series: []series{
			{name: "learning_rate", pts: points(history, "learning_rate")},
		}},
	}
	for _, k := range metricKeys(history) {
		all[1].series = append(all[1].series,
			series{name: strings.TrimPrefix(k, "eval_"), pts: points(history, k)})
	}
	var charts []chart
	for _, c := range all {
		var kept []series
		for _, s := range c.series {
			if len(s.pts) > 0 {
				kept = append(kept, s)
			}
		}
		if len(kept) > 0 {
			c.series = kept
			charts = append(charts, c)
		}
	}
	return charts
}

// metricKeys returns the evaluation metric keys of the history, sorted:
// "eval_" keys other than eval_loss (on the loss chart) and the timing and
// throughput keys HF adds to every evaluation.
func metricKeys(history []Entry) []string {
	seen := map[string]bool{}
	for _, e := range history {
		for k := range e {
			if isMetricKey(k) {
				seen[k] = true
			}
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func isMetricKey(k string) bool {
	if !strings.HasPrefix(k, "eval_") || k == "eval_loss" {
		return false
	}
	// eval_runtime, eval_samples_per_second, eval_steps_per_second,
	// eval_model_preparation_time, eval_jit_compilation_time.
	for _, suffix := range []string{"_runtime", "_per_second", "_time"} {
		if strings.HasSuffix(k, suffix) {
			return false
		}
	}
	return true
}

// points returns (step, value) for every entry with a finite key value and a
// step. A step not after the previous point's starts a new branch: points
// from that step on are dropped first, so a resumed run's log overwrites the
// abandoned tail instead of zigzagging back.
func points(history []Entry, key string) plotter.XYs {
	var pts plotter.XYs
	for _, e := range history {
		v, ok := e[key]
		step, hasStep := e["step"]
		if !ok || !hasStep || !finite(v) || !finite(step) {
			continue
		}
		if n := len(pts); n > 0 && step <= pts[n-1].X {
			i := sort.Search(n, func(i int) bool { return pts[i].X >= step })
			pts = pts[:i]
		}
		pts = append(pts, plotter.XY{X: step, Y: v})
	}
	return pts
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// plot lays out the chart: title, labelled axes, grid, one line per series
// (with markers when sparse), a legend in a free corner.
func (c chart) plot() *plot.Plot {
	p := plot.New()
	p.Title.Text = c.title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = "step"
	p.Y.Label.Text = c.ylabel
	// Liberation Sans instead of the default serif face: easier to read in
	// small charts. It ships inside gonum's font collection.
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font,
		&p.Y.Label.TextStyle.Font, &p.X.Tick.Label.Font, &p.Y.Tick.Label.Font,
		&p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}
	p.Add(plotter.NewGrid())
	for i, s := range c.series {
		col := seriesColor(i)
		line, err := plotter.NewLine(s.pts)
		if err != nil {
			continue // only non-finite values fail, and points() removed them
		}
		line.Color = col
		line.Width = vg.Points(1.5)
		p.Add(line)
		if len(s.pts) <= maxGlyphPoints {
			sc, err := plotter.NewScatter(s.pts)
			if err == nil {
				sc.GlyphStyle.Color = col
				sc.GlyphStyle.Radius = vg.Points(3)
				sc.GlyphStyle.Shape = plotutil.Shape(i)
				p.Add(sc)
				p.Legend.Add(s.name, line, sc)
				continue
			}
		}
		p.Legend.Add(s.name, line)
	}
	padRange(&p.X.Min, &p.X.Max, 1)
	padRange(&p.Y.Min, &p.Y.Max, 0)
	// 5% headroom above and below so markers at the extremes are not cut
	// by the frame.
	dy := (p.Y.Max - p.Y.Min) * 0.05
	p.Y.Min, p.Y.Max = p.Y.Min-dy, p.Y.Max+dy
	// The legend goes in the right-hand corner the curves leave free: top
	// right for falling losses, bottom right for rising accuracies.
	p.Legend.Top = !endsHigh(c.series, p.X.Min, p.X.Max, p.Y.Min, p.Y.Max)
	p.Legend.XOffs = -vg.Points(8)
	if p.Legend.Top {
		p.Legend.YOffs = -vg.Points(4)
	} else {
		p.Legend.YOffs = vg.Points(4)
	}
	return p
}

// endsHigh reports whether the points in the right quarter of the x range lie
// mostly in the upper half of the y range.
func endsHigh(ss []series, xmin, xmax, ymin, ymax float64) bool {
	sum, n := 0.0, 0
	for _, s := range ss {
		for _, pt := range s.pts {
			if pt.X >= xmax-(xmax-xmin)/4 {
				sum += (pt.Y - ymin) / (ymax - ymin)
				n++
			}
		}
	}
	return n > 0 && sum/float64(n) > 0.5
}

// seriesColor picks well-separated dark colours from gonum's palette.
func seriesColor(i int) color.Color {
	return plotutil.DarkColors[i%len(plotutil.DarkColors)]
}

// padRange widens a zero-width axis range (one point, or a constant learning
// rate) around its value; gonum's own fallback of ±1 would squash a learning
// rate of 5e-05 onto the middle of a [-1, 1] axis.
// It pads by 10% of the value, at least min, and by 1 around zero.
func padRange(lo, hi *float64, min float64) {
	if *lo != *hi {
		return
	}
	d := math.Max(math.Abs(*lo)*0.1, min)
	if d == 0 {
		d = 1
	}
	*lo -= d
	*hi += d
}

// writeFileAtomic writes wt's output to path through a temporary file in the
// same directory and a rename, so path holds either the old or the new
// content, never a mix.
func writeFileAtomic(path string, wt io.WriterTo) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("plots: %s: %w", path, err)
		}
	}()
	if _, err = wt.WriteTo(f); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; plots are meant to be shared.
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Package report renders a training run for people: a console progress bar
// with log lines above it, loss / metric / learning-rate plots (PNG and SVG),
// and TensorBoard event files.
//
// It works on plain values only and imports no other kiln package, so the
// trainer feeds it and `kiln plot` can redraw a finished run from its files.
// The source of truth stays the trainer's log.jsonl and trainer_state.json
// (HF's log_history schema); everything here is a view of that history, and
// none of it touches the network.
//
// A typical trainer loop:
//
//	p := report.NewProgress(os.Stderr, report.IsTerminal(os.Stderr))
//	tb, err := report.NewTBWriter(filepath.Join(out, "runs"))
//	...
//	p.Start("train", maxSteps)
//	for step := 1; step <= maxSteps; step++ {
//		...
//		p.Update(step, map[string]float64{"loss": loss, "learning_rate": lr})
//		if step%loggingSteps == 0 {
//			e := report.Entry{"step": float64(step), "epoch": epoch, "loss": avg}
//			p.Log(e)
//			tb.WriteEntry(e)
//			history = append(history, e)
//		}
//	}
//	p.Finish()
//	tb.Close()
//	report.WritePlots(out, history)
package report

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Entry is one record of HF's log_history: a flat map from key to number,
// such as {"loss": 0.41, "grad_norm": 1.2, "learning_rate": 4.1e-5,
// "epoch": 0.61, "step": 500} for a training log or {"eval_loss": 0.38,
// "eval_accuracy": 0.9, "eval_runtime": 3.1, "epoch": 1, "step": 820} for an
// evaluation. The optimisation step is stored under "step".
type Entry map[string]float64

// Step returns the entry's "step" as an int, and whether it has one.
func (e Entry) Step() (int, bool) {
	v, ok := e["step"]
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return int(v), true
}

// leadingKeys come first, in this order, in every printed line, so that log
// lines line up by eye and grep patterns such as "step=500 " stay simple.
// learning_rate precedes grad_norm as in the trainer-ux examples.
var leadingKeys = []string{"step", "epoch", "loss", "eval_loss"}

// trailingFixed are placed right after the loss-like keys.
var trailingFixed = []string{"learning_rate", "grad_norm"}

// keyRank sorts keys: leadingKeys, then other keys containing "loss"
// (alphabetically), then trailingFixed, then the rest alphabetically.
func keyRank(k string) (group, index int) {
	for i, l := range leadingKeys {
		if k == l {
			return 0, i
		}
	}
	if strings.Contains(k, "loss") {
		return 1, 0
	}
	for i, l := range trailingFixed {
		if k == l {
			return 2, i
		}
	}
	return 3, 0
}

// orderedKeys returns m's keys in the stable display order described at
// keyRank.
func orderedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		gi, ii := keyRank(keys[i])
		gj, ij := keyRank(keys[j])
		if gi != gj {
			return gi < gj
		}
		if ii != ij {
			return ii < ij
		}
		return keys[i] < keys[j]
	})
	return keys
}

// FormatEntry renders e as one plain, grep-friendly line without a newline:
// "step=500 epoch=0.61 loss=0.4123 learning_rate=4.1e-05 grad_norm=1.2".
// Keys come in a stable order (step, epoch, loss, eval_loss, other *loss*
// keys, learning_rate, grad_norm, then the rest sorted) and numbers in the
// compact form of FormatValue.
func FormatEntry(e Entry) string {
	var b strings.Builder
	for i, k := range orderedKeys(e) {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(FormatValue(e[k]))
	}
	return b.String()
}

// FormatValue formats a logged number compactly: four significant digits
// (0.4123, 4.1e-05, 1.2), whole numbers without a fraction (500), values
// from 1e4 up to 1e9 rounded to an integer instead of switching to an
// exponent (12346 samples/s rather than 1.235e+04), and NaN, +Inf, -Inf
// spelled out.
func FormatValue(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if a := math.Abs(v); a >= 1e4 && a < 1e9 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

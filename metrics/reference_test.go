package metrics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// The reference file is written by tools/metricsref/gen.py (sklearn 1.2.1,
// scipy 1.10.1, seqeval 1.2.2's algorithm, the official SQuAD scripts); see
// that script for the Python each number comes from.
type refFile struct {
	Classification []struct {
		Name        string
		NumClasses  int `json:"num_classes"`
		Average     Average
		Pred, Label []int64
		Confusion   [][]int64
		Want        map[string]*float64
	}
	Regression []struct {
		Name        string
		Pred, Label []float64
		Want        map[string]*float64
	}
	Multilabel []struct {
		Name        string
		NumLabels   int `json:"num_labels"`
		Pred, Label [][]int64
		Want        map[string]*float64
	}
	Seqeval []struct {
		Name         string
		Pred, Label  [][]string
		LabelNames   []string `json:"label_names"`
		Width        int
		PredIDs      []int64 `json:"pred_ids"`
		LabelIDsJSON []int64 `json:"label_ids"`
		Want         map[string]*float64
	}
	Squad []struct {
		Name string
		V2   bool
		Pred []string
		Gold [][]string
		Want map[string]*float64
	}
	Perplexity []struct {
		Name     string
		LossSums []float64 `json:"loss_sums"`
		Counts   []int64
		Want     map[string]*float64
	}
}

func loadRef(t *testing.T) *refFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/metrics_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r refFile
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// check compares got with want (null = NaN) to 1e-12, relative above 1,
// and fails on keys missing from either side.
func check(t *testing.T, name string, got map[string]float64, want map[string]*float64) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: key %q missing", name, k)
			continue
		}
		if w == nil {
			if !math.IsNaN(g) {
				t.Errorf("%s: %s = %v, want NaN", name, k, g)
			}
			continue
		}
		if d := math.Abs(g - *w); !(d <= 1e-12*max(1, math.Abs(*w))) {
			t.Errorf("%s: %s = %.17g, want %.17g (diff %.3g)", name, k, g, *w, d)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected key %q = %v", name, k, got[k])
		}
	}
}

// splits cuts n items into random consecutive batches (some empty).
func splits(rng *rand.Rand, n int) [][2]int {
	var out [][2]int
	for lo := 0; lo < n; {
		hi := min(n, lo+rng.IntN(7))
		out = append(out, [2]int{lo, hi})
		lo = hi
	}
	return out
}

// streamed checks m on the whole input at once, then again batch by batch
// after a Reset; add feeds items [lo, hi).
func streamed(t *testing.T, name string, n int, m Metric, add func(lo, hi int) error, want map[string]*float64) {
	t.Helper()
	if err := add(0, n); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	check(t, name+"/all", m.Compute(), want)
	m.Reset()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	for _, s := range splits(rng, n) {
		if err := add(s[0], s[1]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	check(t, name+"/streamed", m.Compute(), want)
}

func TestClassificationReference(t *testing.T) {
	for _, c := range loadRef(t).Classification {
		m, err := NewClassification(c.NumClasses, c.Average)
		if err != nil {
			t.Fatal(err)
		}
		streamed(t, c.Name, len(c.Label), m, func(lo, hi int) error {
			return m.Add(Batch{PredIDs: c.Pred[lo:hi], LabelIDs: c.Label[lo:hi]})
		}, c.Want)
		for i, row := range m.ConfusionMatrix() {
			for j, v := range row {
				if v != c.Confusion[i][j] {
					t.Errorf("%s: confusion[%d][%d] = %d, want %d", c.Name, i, j, v, c.Confusion[i][j])
				}
			}
		}
	}
}

func TestRegressionReference(t *testing.T) {
	for _, c := range loadRef(t).Regression {
		m := NewRegression()
		streamed(t, c.Name, len(c.Label), m, func(lo, hi int) error {
			return m.Add(Batch{Preds: c.Pred[lo:hi], Labels: c.Label[lo:hi]})
		}, c.Want)
	}
}

func TestMultiLabelReference(t *testing.T) {
	for _, c := range loadRef(t).Multilabel {
		m, err := NewMultiLabel(c.NumLabels)
		if err != nil {
			t.Fatal(err)
		}
		streamed(t, c.Name, len(c.Label), m, func(lo, hi int) error {
			var b Batch
			for i := lo; i < hi; i++ {
				b.PredIDs = append(b.PredIDs, c.Pred[i]...)
				b.LabelIDs = append(b.LabelIDs, c.Label[i]...)
			}
			b.Width = c.NumLabels
			return m.Add(b)
		}, c.Want)
	}
}

func TestSeqevalReference(t *testing.T) {
	for _, c := range loadRef(t).Seqeval {
		m, _ := NewSeqeval(c.LabelNames)
		m.PerType = true
		if c.LabelNames != nil {
			w := c.Width
			streamed(t, c.Name, len(c.LabelIDsJSON)/w, m, func(lo, hi int) error {
				return m.Add(Batch{PredIDs: c.PredIDs[lo*w : hi*w], LabelIDs: c.LabelIDsJSON[lo*w : hi*w], Width: w})
			}, c.Want)
			continue
		}
		streamed(t, c.Name, len(c.Label), m, func(lo, hi int) error {
			return m.AddTags(c.Pred[lo:hi], c.Label[lo:hi])
		}, c.Want)
	}
}

func TestSQuADReference(t *testing.T) {
	for _, c := range loadRef(t).Squad {
		m := NewSQuAD(c.V2)
		streamed(t, c.Name, len(c.Pred), m, func(lo, hi int) error {
			return m.Add(Batch{PredTexts: c.Pred[lo:hi], GoldTexts: c.Gold[lo:hi]})
		}, c.Want)
	}
}

func TestPerplexityReference(t *testing.T) {
	for _, c := range loadRef(t).Perplexity {
		m := NewPerplexity()
		streamed(t, c.Name, len(c.Counts), m, func(lo, hi int) error {
			for i := lo; i < hi; i++ {
				if err := m.Add(Batch{LossSum: c.LossSums[i], Count: c.Counts[i]}); err != nil {
					return err
				}
			}
			return nil
		}, c.Want)
	}
}

package benchbert

import (
	"math"
	"testing"
)

// TestRunTiny runs the tiny configuration with a small batch once: the loss
// of a 2-label classifier at initialisation is near ln 2 and every figure is
// filled in.
func TestRunTiny(t *testing.T) {
	r, err := Run(Options{Config: "tiny", Steps: 2, Warmup: 0, InferStep: 1, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Loss-math.Ln2) > 0.2 || r.TrainTokS <= 0 || r.InferTokS <= 0 || r.Params != 4386178 {
		t.Fatalf("%+v", r)
	}
	if _, err := Run(Options{Config: "huge"}); err == nil {
		t.Fatal("unknown config accepted")
	}
}

// BenchmarkStep reports tokens/s of the tiny and mini training steps.
func BenchmarkStep(b *testing.B) {
	for _, cfg := range []string{"tiny", "mini"} {
		b.Run(cfg, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r, err := Run(Options{Config: cfg, Steps: 3, Warmup: 1, InferStep: 3})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.TrainTokS, "train_tok/s")
				b.ReportMetric(r.InferTokS, "infer_tok/s")
			}
		})
	}
}

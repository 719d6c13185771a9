// Package benchbert measures one BERT sequence-classification training step
// (forward, backward, AdamW) and one inference step with the shapes of
// ../shared/bench/torch_bert.py (vocabulary 30522, sequence 128, 2 labels,
// cross-entropy, AdamW lr 2e-5 with weight decay 0.01 on every parameter),
// and reports them with that script's JSON keys so the two lines compare
// directly. `kiln bench` and BenchmarkStep run it.
package benchbert

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/optim"
	"github.com/kiln-ml/kiln/tensor"
)

// Shape is one of torch_bert.py's configurations.
type Shape struct{ Layers, Hidden, Heads, FF, Batch int }

// Shapes are torch_bert.py's CONFIGS.
var Shapes = map[string]Shape{
	"tiny":  {2, 128, 2, 512, 16},
	"mini":  {4, 256, 4, 1024, 16},
	"small": {4, 512, 8, 2048, 16},
	"base":  {12, 768, 12, 3072, 8},
}

// Names returns the configuration names, smallest first.
func Names() []string {
	n := make([]string, 0, len(Shapes))
	for k := range Shapes {
		n = append(n, k)
	}
	sort.Slice(n, func(i, j int) bool {
		return Shapes[n[i]].Hidden*Shapes[n[i]].Layers < Shapes[n[j]].Hidden*Shapes[n[j]].Layers
	})
	return n
}

const (
	vocab  = 30522
	seq    = 128
	maxPos = 512
)

// Result holds torch_bert.py's keys (seconds, tokens/s, GFLOP/s).
type Result struct {
	Tag            string  `json:"tag"`
	Config         string  `json:"config"`
	Threads        int     `json:"threads"`
	Batch          int     `json:"batch"`
	Seq            int     `json:"seq"`
	Params         int     `json:"params"`
	TrainStepMed   float64 `json:"train_step_s_median"`
	TrainStepMin   float64 `json:"train_step_s_min"`
	TrainStepMax   float64 `json:"train_step_s_max"`
	FwdS           float64 `json:"fwd_s"`
	BwdS           float64 `json:"bwd_s"`
	OptS           float64 `json:"opt_s"`
	TrainTokS      float64 `json:"train_tok_s"`
	TrainGFLOPS    float64 `json:"train_gflops"`
	TrainGFLOPStep float64 `json:"train_gflop_per_step"`
	InferMed       float64 `json:"infer_s_median"`
	InferMin       float64 `json:"infer_s_min"`
	InferMax       float64 `json:"infer_s_max"`
	InferTokS      float64 `json:"infer_tok_s"`
	InferGFLOPS    float64 `json:"infer_gflops"`
	Loss           float64 `json:"loss"`
	PeakRSSMB      float64 `json:"peak_rss_mb"` // the process's high-water mark (VmHWM), Linux only
}

// Options are the run's knobs (torch_bert.py's flags).
type Options struct {
	Config                   string
	Threads                  int // reported only: the caller sets GOMAXPROCS before the engine starts
	Steps, Warmup, InferStep int
	Batch                    int // 0: the configuration's
	Tag                      string
}

// Run builds the model and measures it.
func Run(o Options) (Result, error) {
	s, ok := Shapes[o.Config]
	if !ok {
		return Result{}, fmt.Errorf("unknown config %q (want one of %s)", o.Config, strings.Join(Names(), ", "))
	}
	if o.Batch > 0 {
		s.Batch = o.Batch
	}
	c := bert.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = vocab, s.Hidden, s.Layers, s.Heads, s.FF
	c.MaxPositionEmbeddings = maxPos
	c.SetNumLabels(2)
	m, err := bert.NewForSequenceClassification(c, 0)
	if err != nil {
		return Result{}, err
	}
	var params []optim.Param
	nparams := 0
	for _, name := range m.Params().Names() {
		t := m.Params().Get(name)
		params = append(params, optim.Param{Name: name, T: t})
		nparams += t.NumElems()
	}
	// torch_bert.py decays every parameter: no no-decay group.
	opt, err := optim.NewAdamW(optim.ParamGroups(params, 0.01, func(string) bool { return false }), optim.AdamWConfig{LR: 2e-5})
	if err != nil {
		return Result{}, err
	}
	r := tensor.NewRNG(7)
	T, B := seq, s.Batch
	ids := make([]int64, B*T)
	for i := range ids {
		ids[i] = int64(r.Uint64() % vocab)
	}
	labels := make([]int64, B)
	for i := range labels {
		labels[i] = int64(r.Uint64() % 2)
	}
	batch := bert.Batch{
		InputIDs:      tensor.FromInt64(ids, B, T),
		TokenTypeIDs:  tensor.Zeros(tensor.Int64, B, T),
		AttentionMask: tensor.Ones(tensor.Int64, B, T),
		Labels:        tensor.FromInt64(labels, B),
	}
	res := Result{Tag: o.Tag, Config: o.Config, Threads: o.Threads, Batch: B, Seq: T, Params: nparams}

	m.Train(true)
	var tf, tb, to, tt []float64
	for i := 0; i < o.Warmup+o.Steps; i++ {
		t0 := time.Now()
		a := tensor.BeginArena()
		out, err := m.Forward(batch)
		if err != nil {
			a.Release()
			return res, err
		}
		t1 := time.Now()
		out.Loss.Backward()
		res.Loss = out.Loss.Item()
		a.Release()
		t2 := time.Now()
		opt.Step()
		opt.ZeroGrad()
		t3 := time.Now()
		if i >= o.Warmup {
			tf = append(tf, t1.Sub(t0).Seconds())
			tb = append(tb, t2.Sub(t1).Seconds())
			to = append(to, t3.Sub(t2).Seconds())
			tt = append(tt, t3.Sub(t0).Seconds())
		}
	}
	m.Train(false)
	var ti []float64
	for i := 0; i < o.Warmup+o.InferStep; i++ {
		t0 := time.Now()
		a := tensor.BeginArena()
		var ferr error
		tensor.NoGrad(func() {
			_, ferr = m.Forward(bert.Batch{InputIDs: batch.InputIDs, TokenTypeIDs: batch.TokenTypeIDs, AttentionMask: batch.AttentionMask})
		})
		a.Release()
		if ferr != nil {
			return res, ferr
		}
		if i >= o.Warmup {
			ti = append(ti, time.Since(t0).Seconds())
		}
	}
	tokens := float64(B * T)
	train, infer := flops(s, B, true), flops(s, B, false)
	res.TrainStepMed, res.TrainStepMin, res.TrainStepMax = stats(tt)
	res.FwdS, _, _ = stats(tf)
	res.BwdS, _, _ = stats(tb)
	res.OptS, _, _ = stats(to)
	res.TrainTokS = tokens / res.TrainStepMed
	res.TrainGFLOPS = train / res.TrainStepMed / 1e9
	res.TrainGFLOPStep = train / 1e9
	res.InferMed, res.InferMin, res.InferMax = stats(ti)
	res.InferTokS = tokens / res.InferMed
	res.InferGFLOPS = infer / res.InferMed / 1e9
	res.PeakRSSMB = peakRSSMB()
	return res, nil
}

// flops counts matmul FLOPs per step as torch_bert.py does: dense layers,
// attention scores and context, pooler and classifier; training is 3x.
func flops(s Shape, B int, train bool) float64 {
	L, H, FF, T := float64(s.Layers), float64(s.Hidden), float64(s.FF), float64(B*seq)
	f := 2*L*(4*H*H+2*H*FF)*T + 4*L*seq*H*T + 2*(H*H+2*H)*float64(B)
	if train {
		return 3 * f
	}
	return f
}

// stats returns the median, minimum and maximum.
func stats(v []float64) (med, lo, hi float64) {
	if len(v) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// peakRSSMB reads the process's peak resident set from /proc (0 elsewhere).
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

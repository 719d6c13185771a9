package optim

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/kiln-ml/kiln/tensor"
)

// reference is optim/testdata/optim_reference.json (tools/optimref/gen.py).
type reference struct {
	TorchVersion string `json:"torch_version"`
	Schedules    []struct {
		Name      string    `json:"name"`
		Warmup    int       `json:"warmup"`
		Total     int       `json:"total"`
		NumCycles float64   `json:"num_cycles"`
		LRInit    float64   `json:"lr_init"`
		LREnd     float64   `json:"lr_end"`
		Power     float64   `json:"power"`
		Timescale int       `json:"timescale"`
		Values    []float64 `json:"values"`
	} `json:"schedules"`
	WarmupSteps []struct {
		Total       int
		WarmupSteps int `json:"warmup_steps"`
		Result      int
		WarmupRatio float64 `json:"warmup_ratio"`
	} `json:"warmup_steps"`
	AdamW []struct {
		Name                  string
		LR, Beta1, Beta2, Eps float64
		WeightDecay           float64          `json:"weight_decay"`
		SchedWarmup           int              `json:"sched_warmup"`
		SchedTotal            int              `json:"sched_total"`
		Shapes                map[string][]int `json:"shapes"`
		NoDecay               []string         `json:"no_decay"`
		Init                  map[string][]float32
		Steps                 []refStep
		State                 map[string]struct {
			Step     int64
			ExpAvg   []float32 `json:"exp_avg"`
			ExpAvgSq []float32 `json:"exp_avg_sq"`
		}
	} `json:"adamw"`
	SGD []struct {
		LR, Momentum, Dampening float64
		Nesterov                bool
		WeightDecay             float64 `json:"weight_decay"`
		Shapes                  map[string][]int
		Init                    map[string][]float32
		Steps                   []refStep
	} `json:"sgd"`
	Clip []struct {
		MaxNorm float64 `json:"max_norm"`
		Shapes  [][]int
		Grads   [][]float32
		Norm    float64
		Clipped [][]float32
	} `json:"clip"`
}

type refStep struct {
	LR     float64
	Grads  map[string][]float32
	Params map[string][]float32
}

func loadRef(t *testing.T) *reference {
	t.Helper()
	b, err := os.ReadFile("testdata/optim_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// setGrad makes g the gradient of p through a Backward (the engine has no
// SetGrad): d/dp Σ p·g = g exactly.
func setGrad(p *tensor.Tensor, g []float32) {
	p.ZeroGrad()
	tensor.Sum(tensor.Mul(p, tensor.FromFloat32(g, p.Shape()...))).Backward()
}

// makeParams builds params in the reference's order (names sorted as Go
// maps are not, so the order is given).
func makeParams(order []string, shapes map[string][]int, init map[string][]float32) []Param {
	var ps []Param
	for _, n := range order {
		ps = append(ps, Param{n, tensor.FromFloat32(init[n], shapes[n]...).SetRequiresGrad(true)})
	}
	return ps
}

func closeRel(got, want float32, rel float64) bool {
	return math.Abs(float64(got)-float64(want)) <= rel*math.Max(math.Abs(float64(want)), 1e-30)
}

var adamOrder = []string{
	"bert.encoder.layer.0.intermediate.dense.weight",
	"bert.encoder.layer.0.intermediate.dense.bias",
	"bert.encoder.layer.0.output.LayerNorm.weight",
	"bert.encoder.layer.0.output.LayerNorm.bias",
	"classifier.weight",
	"pooler.dense.weight",
}

func TestAdamWMatchesTorch(t *testing.T) {
	ref := loadRef(t)
	for _, c := range ref.AdamW {
		t.Run(c.Name, func(t *testing.T) {
			params := makeParams(adamOrder, c.Shapes, c.Init)
			groups := ParamGroups(params, c.WeightDecay, nil)
			var nd []string
			for _, p := range groups[1].Params {
				nd = append(nd, p.Name)
			}
			if len(nd) != len(c.NoDecay) {
				t.Fatalf("no-decay group %v, torch reference %v", nd, c.NoDecay)
			}
			opt, err := NewAdamW(groups, AdamWConfig{LR: c.LR, Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps})
			if err != nil {
				t.Fatal(err)
			}
			var sched *Scheduler
			if c.SchedTotal > 0 {
				sched = NewScheduler(opt, Linear(c.SchedWarmup, c.SchedTotal))
			}
			bad, exact, total := 0, 0, 0
			for k, st := range c.Steps {
				if math.Abs(opt.LR()-st.LR) > 1e-15 {
					t.Fatalf("step %d: lr %v, torch %v", k, opt.LR(), st.LR)
				}
				opt.ZeroGrad()
				for _, p := range params {
					if g, ok := st.Grads[p.Name]; ok {
						setGrad(p.T, g)
					}
				}
				opt.Step()
				if sched != nil {
					sched.Step()
				}
				for _, p := range params {
					got, want := p.T.F32(), st.Params[p.Name]
					for i := range want {
						total++
						if got[i] == want[i] {
							exact++
						}
						if !closeRel(got[i], want[i], 1e-6) {
							if bad++; bad < 5 {
								t.Errorf("step %d %s[%d] = %v, torch %v", k, p.Name, i, got[i], want[i])
							}
						}
					}
				}
			}
			t.Logf("%d/%d parameter values bit-identical to torch", exact, total)
			s := opt.State()
			for _, ps := range s.Params {
				w := c.State[ps.Name]
				if ps.Step != w.Step {
					t.Errorf("%s: step %d, torch %d", ps.Name, ps.Step, w.Step)
				}
				for i := range w.ExpAvg {
					if !closeRel(ps.ExpAvg[i], w.ExpAvg[i], 1e-6) || !closeRel(ps.ExpAvgSq[i], w.ExpAvgSq[i], 1e-6) {
						t.Fatalf("%s[%d]: exp_avg %v exp_avg_sq %v, torch %v %v", ps.Name, i, ps.ExpAvg[i], ps.ExpAvgSq[i], w.ExpAvg[i], w.ExpAvgSq[i])
					}
				}
			}
		})
	}
}

func TestSGDMatchesTorch(t *testing.T) {
	ref := loadRef(t)
	for ci, c := range ref.SGD {
		params := makeParams([]string{"w", "b"}, c.Shapes, c.Init)
		opt, err := NewSGD([]Group{{Params: params, WeightDecay: c.WeightDecay}},
			SGDConfig{LR: c.LR, Momentum: c.Momentum, Dampening: c.Dampening, Nesterov: c.Nesterov})
		if err != nil {
			t.Fatal(err)
		}
		exact, total := 0, 0
		for k, st := range c.Steps {
			for _, p := range params {
				setGrad(p.T, st.Grads[p.Name])
			}
			opt.Step()
			for _, p := range params {
				got, want := p.T.F32(), st.Params[p.Name]
				for i := range want {
					total++
					if got[i] == want[i] {
						exact++
					}
					if !closeRel(got[i], want[i], 1e-6) {
						t.Fatalf("case %d step %d %s[%d] = %v, torch %v", ci, k, p.Name, i, got[i], want[i])
					}
				}
			}
		}
		t.Logf("case %d (momentum %v dampening %v nesterov %v wd %v): %d/%d bit-identical", ci, c.Momentum, c.Dampening, c.Nesterov, c.WeightDecay, exact, total)
	}
}

func TestSchedulesMatchHF(t *testing.T) {
	ref := loadRef(t)
	for _, c := range ref.Schedules {
		o := ScheduleOptions{WarmupSteps: c.Warmup, TotalSteps: c.Total, NumCycles: c.NumCycles,
			Power: c.Power, LRInit: c.LRInit, Timescale: c.Timescale}
		if c.Name == "polynomial" {
			o.LREnd = &c.LREnd
		}
		f, err := GetSchedule(c.Name, o)
		if err != nil {
			t.Fatal(err)
		}
		for s, want := range c.Values {
			if got := f(s); math.Abs(got-want) > 1e-12 {
				t.Errorf("%s warmup %d total %d cycles %v: step %d: %v, HF %v", c.Name, c.Warmup, c.Total, c.NumCycles, s, got, want)
			}
		}
	}
	for _, c := range ref.WarmupSteps {
		if got := WarmupSteps(c.Total, c.WarmupSteps, c.WarmupRatio); got != c.Result {
			t.Errorf("WarmupSteps(%d, %d, %v) = %d, HF %d", c.Total, c.WarmupSteps, c.WarmupRatio, got, c.Result)
		}
	}
}

func TestClipGradNormMatchesTorch(t *testing.T) {
	ref := loadRef(t)
	for ci, c := range ref.Clip {
		var params []Param
		for i, s := range c.Shapes {
			p := tensor.Zeros(tensor.Float32, s...).SetRequiresGrad(true)
			setGrad(p, c.Grads[i])
			params = append(params, Param{"p", p})
		}
		params = append(params, Param{"nograd", tensor.Zeros(tensor.Float32, 3).SetRequiresGrad(true)})
		norm, ok := ClipGradNorm(params, c.MaxNorm)
		if !ok || math.Abs(norm-c.Norm) > 1e-6*c.Norm {
			t.Errorf("case %d: norm %v (finite %v), torch %v", ci, norm, ok, c.Norm)
		}
		for i, p := range params[:len(c.Shapes)] {
			for j, g := range p.T.Grad().F32() {
				if !closeRel(g, c.Clipped[i][j], 1e-6) {
					t.Fatalf("case %d grad %d[%d] = %v, torch %v", ci, i, j, g, c.Clipped[i][j])
				}
			}
		}
	}
}

package trainer

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/optim"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// miniModel is the "mini" shape of kiln bench (4 layers, hidden 256, 4
// heads, intermediate 1024) with a sequence-classification head.
func miniModel(b *testing.B) auto.Model {
	c := bert.DefaultConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 256, 4, 4, 1024
	h, err := bert.NewForSequenceClassification(c, 1)
	if err != nil {
		b.Fatal(err)
	}
	m, err := auto.WrapBert(h, task.SequenceClassification)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkTrainerOverhead compares Trainer.Train on the mini shape (batch
// 16, sequence 128, logging every 10 steps, no evaluation or saving) with
// a bare loop of forward, loss, backward and AdamW step over the same
// pre-collated batches, and reports the trainer's overhead: everything but
// forward, backward and the optimizer step (collation, num_items counting,
// clipping, scheduling, logging), as a share of the step time. Run with
//
//	go test -run '^$' -bench TrainerOverhead -benchtime 1x ./trainer/
func BenchmarkTrainerOverhead(b *testing.B) {
	const steps, bs, T = 12, 16, 128
	f := &data.Features{Task: data.Classification}
	r := lcg(1)
	for i := 0; i < steps*bs; i++ {
		ex := data.Example{InputIDs: make([]int, T), Label: r.next(2)}
		for j := range ex.InputIDs {
			ex.InputIDs[j] = 1000 + r.next(20000)
		}
		f.Examples = append(f.Examples, ex)
	}
	var overheads []float64
	for rep := 0; rep < 3*b.N; rep++ {
		// The trainer.
		a := DefaultArgs()
		a.OutputDir = b.TempDir()
		a.PerDeviceTrainBatchSize, a.MaxSteps, a.LoggingSteps = bs, steps, 10
		a.SaveStrategy = "no"
		a.SaveFinalModel = new(bool)
		m := miniModel(b)
		tr, err := New(a, m, nil, f, nil)
		if err != nil {
			b.Fatal(err)
		}
		tr.Quiet = true
		res, err := tr.Train(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		trainer := res.Metrics["train_runtime"]

		// The bare loop: forward, loss, backward, clip-free AdamW step.
		m = miniModel(b)
		var ps []optim.Param
		for _, n := range m.Params().Names() {
			ps = append(ps, optim.Param{Name: n, T: m.Params().Get(n)})
		}
		opt, err := optim.NewAdamW(optim.ParamGroups(ps, 0, optim.NoDecay), optim.AdamWConfig{})
		if err != nil {
			b.Fatal(err)
		}
		m.Train(true)
		batches := make([]auto.Batch, steps)
		for s := range batches {
			idx := make([]int, bs)
			for i := range idx {
				idx[i] = s*bs + i
			}
			if batches[s], _, err = tr.collate(f, idx, 0); err != nil {
				b.Fatal(err)
			}
		}
		spec := task.Spec{Kind: task.SequenceClassification, NumLabels: 2}
		start := time.Now()
		for _, in := range batches {
			ar := tensor.BeginArena()
			out, err := m.Forward(auto.Batch{InputIDs: in.InputIDs, AttentionMask: in.AttentionMask})
			if err != nil {
				b.Fatal(err)
			}
			l, err := task.Compute(spec, lossInputs(out, in, 0))
			if err != nil {
				b.Fatal(err)
			}
			l.Loss.Backward()
			ar.Release()
			opt.Step()
			opt.ZeroGrad()
		}
		bare := time.Since(start).Seconds()
		overheads = append(overheads, 100*(trainer-bare)/trainer)
		b.Logf("run %d: trainer %.3f s, bare loop %.3f s for %d steps: overhead %.2f%%", rep, trainer, bare, steps, overheads[len(overheads)-1])
	}
	sort.Float64s(overheads)
	b.ReportMetric(overheads[len(overheads)/2], "overhead_%")
}

// BenchmarkMaskedLMStep is one masked-LM training step of the
// kiln-bert-mini shape (3 layers, hidden 128, vocabulary 14 606, batch 32 x
// 128, 15% masked) with the prediction head at every token (as HF) and at
// the masked tokens only (LMPositions, what the trainer does).
func BenchmarkMaskedLMStep(b *testing.B) {
	c, err := bert.ReadConfig("../tools/pretrain/bert")
	if err != nil {
		b.Fatal(err)
	}
	r := lcg(3)
	ids := make([]int64, 32*128)
	lab := make([]int64, 32*128)
	for i := range ids {
		ids[i] = int64(5 + r.next(14000))
		lab[i] = -100
		if r.next(100) < 15 {
			lab[i] = ids[i]
		}
	}
	in := auto.Batch{InputIDs: tensor.FromInt64(ids, 32, 128), Labels: tensor.FromInt64(lab, 32, 128)}
	for _, gather := range []bool{false, true} {
		name := map[bool]string{false: "all-tokens", true: "masked-only"}[gather]
		b.Run(name, func(b *testing.B) {
			h, err := bert.NewForMaskedLM(c, 1)
			if err != nil {
				b.Fatal(err)
			}
			m, _ := auto.WrapBert(h, task.MaskedLM)
			tr := &Trainer{Model: m, Spec: task.Spec{Kind: task.MaskedLM}}
			m.Train(true)
			for i := 0; i < b.N; i++ {
				ar := tensor.BeginArena()
				var l *tensor.Tensor
				if gather {
					l, err = tr.loss(in, 0)
				} else {
					var out auto.Output
					out, err = m.Forward(auto.Batch{InputIDs: in.InputIDs})
					if err == nil {
						var res task.Result
						res, err = task.Compute(tr.Spec, lossInputs(out, in, 0))
						l = res.Loss
					}
				}
				if err != nil {
					b.Fatal(err)
				}
				l.Backward()
				ar.Release()
				m.Params().ZeroGrad()
			}
			b.ReportMetric(float64(32*128*b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}

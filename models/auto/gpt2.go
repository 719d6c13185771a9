package auto

import (
	"fmt"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/gpt2"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

func init() { Register("gpt2", loadGPT2) }

// gpt2Head is what every GPT-2 head has.
type gpt2Head interface {
	Forward(gpt2.Batch) (gpt2.Output, error)
	Train(bool)
	Save(string) error
	Params() *nn.Params
}

// gpt2Model adapts a GPT-2 head to Model.
type gpt2Model struct {
	head gpt2Head
	kind task.Kind
	cfg  gpt2.Config
	base *gpt2.Model
}

func loadGPT2(dir string, o Options) (Model, checkpoint.Report, error) {
	var rep checkpoint.Report
	c, err := gpt2.ReadConfig(dir)
	if err != nil {
		return nil, rep, err
	}
	o.apply(&c.ID2Label, &c.ProblemType)
	var m *gpt2Model
	switch o.Kind {
	case task.CausalLM:
		h, err := gpt2.NewLMHeadModel(c, o.Seed)
		if err != nil {
			return nil, rep, err
		}
		m = &gpt2Model{head: h, kind: o.Kind, cfg: c, base: h.Transformer}
	case task.SequenceClassification:
		h, err := gpt2.NewForSequenceClassification(c, o.Seed)
		if err != nil {
			return nil, rep, err
		}
		m = &gpt2Model{head: h, kind: o.Kind, cfg: c, base: h.Transformer}
	default:
		return nil, rep, fmt.Errorf("gpt2 has no %s head (heads: causal_lm, sequence_classification)", o.Kind)
	}
	rep, err = loadState(dir, m, o, gpt2.StateLoadOptions())
	return m, rep, err
}

// Forward runs the head; GPT-2 has no QA head, so start/end positions are
// not used.
func (m *gpt2Model) Forward(b Batch) (Output, error) {
	out, err := m.head.Forward(gpt2.Batch{InputIDs: b.InputIDs, AttentionMask: b.AttentionMask,
		TokenTypeIDs: b.TokenTypeIDs, Labels: b.Labels})
	if err != nil {
		return Output{}, err
	}
	return Output{Logits: out.Logits, Loss: out.Loss, Explanation: out.Explanation}, nil
}

func (m *gpt2Model) Train(on bool)           { m.head.Train(on) }
func (m *gpt2Model) Save(dir string) error   { return m.head.Save(dir) }
func (m *gpt2Model) Params() *nn.Params      { return m.head.Params() }
func (m *gpt2Model) Kind() task.Kind         { return m.kind }
func (m *gpt2Model) DropoutRNG() *tensor.RNG { return m.base.DropoutRNG() }

// Config reports the fields the tools need; PadTokenID is -1 when the
// checkpoint has no pad token (GPT-2's default).
func (m *gpt2Model) Config() Config {
	c := m.cfg
	id2label := make(map[int]string, len(c.ID2Label))
	for k, v := range c.ID2Label {
		id2label[k] = v
	}
	pad := -1
	if c.PadTokenID != nil {
		pad = *c.PadTokenID
	}
	return Config{
		ModelType: "gpt2", Architectures: append([]string(nil), c.Architectures...),
		ID2Label: id2label, ProblemType: c.ProblemType, VocabSize: c.VocabSize,
		MaxPositions: c.NPositions, PadTokenID: pad,
	}
}

// Unwrap returns the family's own model (*gpt2.LMHeadModel, ...).
func (m *gpt2Model) Unwrap() any { return m.head }

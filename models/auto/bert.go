package auto

import (
	"fmt"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

func init() { Register("bert", loadBert) }

// bertHead is what every BERT head has.
type bertHead interface {
	Forward(bert.Batch) (bert.Output, error)
	Train(bool)
	Save(string) error
	Params() *nn.Params
}

// bertModel adapts a BERT head to Model.
type bertModel struct {
	head bertHead
	kind task.Kind
	cfg  bert.Config
	base *bert.Model
}

// WrapBert adapts a BERT head (*bert.ForSequenceClassification, ...) built by
// hand to Model; kind must be the head's kind.
func WrapBert(head any, kind task.Kind) (Model, error) {
	h, ok := head.(bertHead)
	if !ok {
		return nil, fmt.Errorf("auto.WrapBert: %T is not a BERT head", head)
	}
	var base *bert.Model
	switch m := head.(type) {
	case *bert.ForSequenceClassification:
		base = m.Bert
	case *bert.ForTokenClassification:
		base = m.Bert
	case *bert.ForQuestionAnswering:
		base = m.Bert
	case *bert.ForMultipleChoice:
		base = m.Bert
	case *bert.ForMaskedLM:
		base = m.Bert
	default:
		return nil, fmt.Errorf("auto.WrapBert: %T is not a BERT head", head)
	}
	return &bertModel{head: h, kind: kind, cfg: base.Config, base: base}, nil
}

func loadBert(dir string, o Options) (Model, checkpoint.Report, error) {
	var rep checkpoint.Report
	c, err := bert.ReadConfig(dir)
	if err != nil {
		return nil, rep, err
	}
	o.apply(&c.ID2Label, &c.ProblemType)
	var head any
	switch o.Kind {
	case task.SequenceClassification:
		head, err = bert.NewForSequenceClassification(c, o.Seed)
	case task.TokenClassification:
		head, err = bert.NewForTokenClassification(c, o.Seed)
	case task.QuestionAnswering:
		head, err = bert.NewForQuestionAnswering(c, o.Seed)
	case task.MultipleChoice:
		head, err = bert.NewForMultipleChoice(c, o.Seed)
	case task.MaskedLM:
		head, err = bert.NewForMaskedLM(c, o.Seed)
	default:
		return nil, rep, fmt.Errorf("bert has no %s head (heads: sequence_classification, token_classification, question_answering, multiple_choice, masked_lm)", o.Kind)
	}
	if err != nil {
		return nil, rep, err
	}
	m, err := WrapBert(head, o.Kind)
	if err != nil {
		return nil, rep, err
	}
	rep, err = loadState(dir, m, o, bert.StateLoadOptions())
	return m, rep, err
}

func (m *bertModel) Forward(b Batch) (Output, error) {
	out, err := m.head.Forward(bert.Batch{
		InputIDs: b.InputIDs, TokenTypeIDs: b.TokenTypeIDs, AttentionMask: b.AttentionMask,
		Labels: b.Labels, StartPositions: b.StartPositions, EndPositions: b.EndPositions,
		LMPositions: b.LMPositions,
	})
	if err != nil {
		return Output{}, err
	}
	return Output{Logits: out.Logits, StartLogits: out.StartLogits, EndLogits: out.EndLogits,
		Loss: out.Loss, Explanation: out.Explanation}, nil
}

func (m *bertModel) Train(on bool)           { m.head.Train(on) }
func (m *bertModel) Save(dir string) error   { return m.head.Save(dir) }
func (m *bertModel) Params() *nn.Params      { return m.head.Params() }
func (m *bertModel) Kind() task.Kind         { return m.kind }
func (m *bertModel) DropoutRNG() *tensor.RNG { return m.base.DropoutRNG() }

func (m *bertModel) Config() Config {
	c := m.cfg
	id2label := make(map[int]string, len(c.ID2Label))
	for k, v := range c.ID2Label {
		id2label[k] = v
	}
	modelType := c.ModelType
	if modelType == "" {
		modelType = "bert"
	}
	return Config{
		ModelType: modelType, Architectures: append([]string(nil), c.Architectures...),
		ID2Label: id2label, ProblemType: c.ProblemType, VocabSize: c.VocabSize,
		MaxPositions: c.MaxPositionEmbeddings, PadTokenID: c.PadTokenID,
	}
}

// Unwrap returns the family's own model (*bert.ForSequenceClassification, ...).
func (m *bertModel) Unwrap() any { return m.head }

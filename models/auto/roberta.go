package auto

import (
	"fmt"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/roberta"
	"github.com/kiln-ml/kiln/task"
)

func init() { Register("roberta", loadRoberta) }

// robertaModel adapts a RoBERTa head to Model. RoBERTa's heads take BERT's
// Batch and give BERT's Output, so BERT's adapter serves; only the longest
// input differs.
type robertaModel struct{ *bertModel }

func loadRoberta(dir string, kind task.Kind, seed uint64) (Model, checkpoint.Report, error) {
	cfg, err := roberta.ReadConfig(dir)
	if err != nil {
		return nil, checkpoint.Report{}, err
	}
	var (
		head bertHead
		rep  checkpoint.Report
	)
	switch kind {
	case task.SequenceClassification:
		head, rep, err = roberta.LoadForSequenceClassification(dir, seed)
	case task.TokenClassification:
		head, rep, err = roberta.LoadForTokenClassification(dir, seed)
	case task.QuestionAnswering:
		head, rep, err = roberta.LoadForQuestionAnswering(dir, seed)
	case task.MultipleChoice:
		head, rep, err = roberta.LoadForMultipleChoice(dir, seed)
	case task.MaskedLM:
		head, rep, err = roberta.LoadForMaskedLM(dir, seed)
	default:
		return nil, rep, fmt.Errorf("roberta has no %s head (heads: sequence_classification, token_classification, question_answering, multiple_choice, masked_lm)", kind)
	}
	if err != nil {
		return nil, rep, err
	}
	return robertaModel{&bertModel{head: head, kind: kind, cfg: cfg}}, rep, nil
}

// Config reports max_position_embeddings less pad_token_id + 1 as the
// longest input: RoBERTa's positions start after the padding index.
func (m robertaModel) Config() Config {
	c := m.bertModel.Config()
	c.MaxPositions -= c.PadTokenID + 1
	return c
}

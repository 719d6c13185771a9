package task

import "math"

// EvalLoss accumulates evaluation batches. TokenMean is kiln's eval loss:
// the mean over every non-ignored label of the evaluation set, whatever the
// batch sizes. SampleMean is HF's eval_loss: each batch's mean repeated
// batch-size times and averaged, a sample-weighted mean of per-batch means
// that one all-ignored batch turns into NaN.
type EvalLoss struct {
	sum     float64 // Σ batch mean · batch items: the summed token losses
	items   int64
	sampled float64 // Σ batch mean · batch size
	samples int
}

// Add records one batch: its mean loss, its non-ignored label count and its
// number of examples. A batch with no items adds nothing to TokenMean.
func (e *EvalLoss) Add(meanLoss float64, items int64, batchSize int) {
	if items > 0 {
		e.sum += meanLoss * float64(items)
		e.items += items
	}
	e.sampled += meanLoss * float64(batchSize)
	e.samples += batchSize
}

// TokenMean returns the mean loss per non-ignored label (NaN before any).
func (e *EvalLoss) TokenMean() float64 {
	if e.items == 0 {
		return math.NaN()
	}
	return e.sum / float64(e.items)
}

// SampleMean returns HF's sample-weighted eval_loss (NaN before any batch).
func (e *EvalLoss) SampleMean() float64 {
	if e.samples == 0 {
		return math.NaN()
	}
	return e.sampled / float64(e.samples)
}

// LossLog is HF's training-loss bookkeeping between two log events with
// logging_nan_inf_filter: a NaN or Inf step loss adds the running average
// tr_loss / (1 + steps since the last log) instead of itself, so one bad
// step does not poison the logged value (the gradient is not filtered).
type LossLog struct {
	total float64 // HF's tr_loss since the last log
	steps int
}

// Add records one optimizer step's loss and returns the running total.
func (l *LossLog) Add(stepLoss float64) float64 {
	if math.IsNaN(stepLoss) || math.IsInf(stepLoss, 0) {
		l.total += l.total / float64(1+l.steps)
	} else {
		l.total += stepLoss
	}
	l.steps++
	return l.total
}

// Logged returns the value a log event reports, the mean step loss rounded
// to 4 decimals as HF, and starts a new logging window.
func (l *LossLog) Logged() float64 {
	if l.steps == 0 {
		return math.NaN()
	}
	v := math.Round(l.total/float64(l.steps)*1e4) / 1e4
	l.total, l.steps = 0, 0
	return v
}

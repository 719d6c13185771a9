package checkpoint

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/tensor"
)

// LoadOptions controls LoadInto.
type LoadOptions struct {
	// BasePrefix is the model's base_model_prefix: "bert", "roberta",
	// "distilbert", "transformer" (GPT-2). It lets a base-model checkpoint
	// (keys without the prefix) load into a model with a head, and a
	// checkpoint with a head load into the base model. See MapKeys.
	BasePrefix string
	// IgnoreMissing and IgnoreUnexpected drop matching names from the
	// report, as HF's _keys_to_ignore_on_load_missing / _unexpected
	// (matched anywhere in the name, as re.search does).
	IgnoreMissing, IgnoreUnexpected []*regexp.Regexp
	// IgnoreMismatchedSizes leaves a parameter whose checkpoint shape
	// differs untouched and lists it in Report.Mismatched (HF's
	// ignore_mismatched_sizes=True, used to swap a head for one with a
	// different number of labels). Without it a mismatch is an error.
	IgnoreMismatchedSizes bool
}

// Mismatch is a parameter whose checkpoint shape differs from the model's.
type Mismatch struct {
	Name              string
	Checkpoint, Model []int
}

// Report says what LoadInto did not load, as from_pretrained's warnings do.
type Report struct {
	// Missing are model parameters the checkpoint does not provide (in the
	// model's naming, sorted); they keep their initial values, as HF's
	// "newly initialized" weights. A parameter tied to a loaded one (the
	// same tensor under two names) is not missing.
	Missing []string
	// Unexpected are checkpoint keys (in the checkpoint's naming, sorted)
	// that no parameter takes.
	Unexpected []string
	// Mismatched are the parameters skipped under IgnoreMismatchedSizes.
	Mismatched []Mismatch
}

// String renders the report as HF's warnings, one paragraph per list.
func (r Report) String() string {
	var b strings.Builder
	if len(r.Unexpected) > 0 {
		fmt.Fprintf(&b, "Some weights of the model checkpoint were not used when initializing the model: %s\n", quoteList(r.Unexpected))
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "Some weights of the model were not initialized from the model checkpoint and are newly initialized: %s\n", quoteList(r.Missing))
	}
	for _, m := range r.Mismatched {
		fmt.Fprintf(&b, "- %s: found shape %v in the checkpoint and %v in the model instantiated\n", m.Name, m.Checkpoint, m.Model)
	}
	return b.String()
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "'" + n + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// FixKey renames the TensorFlow-era LayerNorm names as from_pretrained's
// _fix_key does: in a key containing "beta" every "beta" becomes "bias";
// otherwise every "gamma" becomes "weight".
func FixKey(key string) string {
	if strings.Contains(key, "beta") {
		return strings.ReplaceAll(key, "beta", "bias")
	}
	if strings.Contains(key, "gamma") {
		return strings.ReplaceAll(key, "gamma", "weight")
	}
	return key
}

// MapKeys decides which checkpoint key each model parameter loads from,
// following from_pretrained's base_model_prefix rule. With p = prefix + ".":
//
//   - the checkpoint has no key starting with p but the model does (a
//     BertModel checkpoint into BertForSequenceClassification): model key
//     "bert.x" loads from "x"; the model's other keys (the head) load
//     nothing. A checkpoint key equal to one of those head keys makes the
//     checkpoint inconsistent and is an error, as in transformers.
//   - the checkpoint has keys starting with p but the model has none (a
//     BertForMaskedLM checkpoint into BertModel): "x" loads from "bert.x";
//     checkpoint keys outside p are then unexpected.
//   - otherwise names match as they are.
//
// The result maps model keys to checkpoint keys; model keys that can load
// nothing are absent.
func MapKeys(modelKeys, ckptKeys []string, prefix string) (map[string]string, error) {
	out := make(map[string]string, len(modelKeys))
	p := prefix + "."
	has := prefix != "" && slices.ContainsFunc(ckptKeys, func(k string) bool { return strings.HasPrefix(k, p) })
	expects := prefix != "" && slices.ContainsFunc(modelKeys, func(k string) bool { return strings.HasPrefix(k, p) })
	switch {
	case expects && !has:
		head := map[string]bool{}
		for _, k := range modelKeys {
			if rest, ok := strings.CutPrefix(k, p); ok {
				out[k] = rest
			} else {
				head[k] = true
			}
		}
		base := map[string]bool{}
		for _, c := range out {
			base[c] = true
		}
		for _, c := range ckptKeys {
			if head[c] && !base[c] {
				return nil, fmt.Errorf("checkpoint has head weight %q but no %q-prefixed base weights: the state dict is inconsistent", c, p)
			}
		}
	case has && !expects:
		for _, k := range modelKeys {
			out[k] = p + k
		}
	default:
		for _, k := range modelKeys {
			out[k] = k
		}
	}
	return out, nil
}

// LoadInto copies the checkpoint sd into the model's parameters params (the
// model's own tensors, written in place) and reports what did not match.
// Keys go through FixKey and MapKeys first. A shape mismatch is an error
// naming the parameter and both shapes (all mismatches are listed), and is
// found before any parameter is written, so a failed load leaves the model
// as it was. Float checkpoint tensors convert to the parameter's float
// dtype; int64 and bool tensors load only into their own dtype.
func LoadInto(params map[string]*tensor.Tensor, sd StateDict, opts LoadOptions) (Report, error) {
	fixed := make(StateDict, len(sd))
	for k, t := range sd {
		fk := FixKey(k)
		if _, dup := fixed[fk]; dup {
			return Report{}, fmt.Errorf("checkpoint: keys %q and another both become %q after renaming gamma/beta", k, fk)
		}
		fixed[fk] = t
	}
	modelKeys := make([]string, 0, len(params))
	for k := range params {
		modelKeys = append(modelKeys, k)
	}
	sort.Strings(modelKeys)
	mapping, err := MapKeys(modelKeys, fixed.Names(), opts.BasePrefix)
	if err != nil {
		return Report{}, fmt.Errorf("checkpoint: %w", err)
	}

	var rep Report
	var errs []error
	used := map[string]bool{}
	loaded := map[*tensor.Tensor]bool{}
	type copyJob struct {
		dst, src *tensor.Tensor
	}
	var jobs []copyJob
	for _, k := range modelKeys {
		ck, ok := mapping[k]
		if !ok {
			continue
		}
		src, ok := fixed[ck]
		if !ok {
			continue
		}
		used[ck] = true
		dst := params[k]
		if !slices.Equal(src.Shape(), dst.Shape()) {
			if opts.IgnoreMismatchedSizes {
				rep.Mismatched = append(rep.Mismatched, Mismatch{k, src.Shape(), dst.Shape()})
				continue
			}
			errs = append(errs, fmt.Errorf("size mismatch for %s: copying a param with shape %v from checkpoint, the shape in current model is %v", k, src.Shape(), dst.Shape()))
			continue
		}
		if src.DType() != dst.DType() && !(src.DType().IsFloat() && dst.DType().IsFloat()) {
			errs = append(errs, fmt.Errorf("dtype mismatch for %s: checkpoint has %v, the model %v", k, src.DType(), dst.DType()))
			continue
		}
		jobs = append(jobs, copyJob{dst, src})
		loaded[dst] = true
	}
	if len(errs) > 0 {
		return Report{}, fmt.Errorf("checkpoint: error(s) in loading state dict: %w", errors.Join(errs...))
	}
	for _, j := range jobs {
		copyInto(j.dst, j.src)
	}
	for _, k := range modelKeys {
		if !loaded[params[k]] && !matchAny(opts.IgnoreMissing, k) && !mismatched(rep.Mismatched, k) {
			rep.Missing = append(rep.Missing, k)
		}
	}
	for _, ck := range fixed.Names() {
		if !used[ck] && !matchAny(opts.IgnoreUnexpected, ck) {
			rep.Unexpected = append(rep.Unexpected, ck)
		}
	}
	return rep, nil
}

func mismatched(ms []Mismatch, k string) bool {
	return slices.ContainsFunc(ms, func(m Mismatch) bool { return m.Name == k })
}

func matchAny(res []*regexp.Regexp, s string) bool {
	return slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(s) })
}

// copyInto writes src's values into dst's storage (same shape; dtypes
// checked by the caller).
func copyInto(dst, src *tensor.Tensor) {
	switch dst.DType() {
	case tensor.Float32:
		if src.DType() == tensor.Float32 {
			copy(dst.F32(), src.F32())
		} else {
			copy(dst.F32(), src.Float32s())
		}
	case tensor.Float64:
		copy(dst.F64(), src.Float64s())
	case tensor.Int64:
		copy(dst.I64(), src.I64())
	case tensor.Bool:
		copy(dst.B(), src.B())
	}
}

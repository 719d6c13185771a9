// Package nn holds what every kiln model needs besides the tensor engine: an
// ordered collection of named parameters (Params, named exactly as the Hugging
// Face state_dict names them) and a Builder that creates them with HF's
// initialisation, in the manner of candle's VarBuilder: a model's constructor
// walks the checkpoint names (b.PP("encoder").PP("layer.0")...), so defining a
// model and knowing its checkpoint layout are the same code.
package nn

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
)

// Params is an ordered map from HF parameter name to the model's own tensor.
// The order is the order of creation, which is the order of the PyTorch
// module's state_dict.
type Params struct {
	names  []string
	byName map[string]*tensor.Tensor
}

// NewParams returns an empty collection.
func NewParams() *Params { return &Params{byName: map[string]*tensor.Tensor{}} }

// Add registers t under name; a duplicate name is a programmer error and panics.
func (p *Params) Add(name string, t *tensor.Tensor) *tensor.Tensor {
	if _, dup := p.byName[name]; dup {
		panic(fmt.Sprintf("nn: parameter %q registered twice", name))
	}
	p.names = append(p.names, name)
	p.byName[name] = t
	return t
}

// Get returns the parameter called name, or nil.
func (p *Params) Get(name string) *tensor.Tensor { return p.byName[name] }

// Names returns the names in creation order.
func (p *Params) Names() []string { return append([]string(nil), p.names...) }

// Len is the number of named parameters (a tied tensor counts once per name).
func (p *Params) Len() int { return len(p.names) }

// Map returns name -> tensor, the form checkpoint.LoadInto and checkpoint.Save
// take. The tensors are the model's own: writing them changes the model.
func (p *Params) Map() map[string]*tensor.Tensor {
	m := make(map[string]*tensor.Tensor, len(p.names))
	for _, n := range p.names {
		m[n] = p.byName[n]
	}
	return m
}

// ZeroGrad clears every parameter's gradient.
func (p *Params) ZeroGrad() {
	for _, n := range p.names {
		p.byName[n].ZeroGrad()
	}
}

// Builder creates parameters under a name prefix with HF's _init_weights:
// Linear and Embedding weights normal(0, std), biases zero, LayerNorm weight
// one and bias zero. All draws come from one seeded counter-based RNG, so a
// model built twice from the same seed is bit-identical.
type Builder struct {
	params *Params
	rng    *tensor.RNG
	std    float64
	prefix string
}

// NewBuilder returns a Builder that adds to p, draws from seed and uses std
// (config.initializer_range) for normal weights.
func NewBuilder(p *Params, seed uint64, std float64) Builder {
	return Builder{params: p, rng: tensor.NewRNG(seed), std: std}
}

// PP returns a Builder one level down: b.PP("encoder").PP("layer.0").
func (b Builder) PP(name string) Builder {
	b.prefix = b.path(name)
	return b
}

func (b Builder) path(name string) string {
	if b.prefix == "" {
		return name
	}
	return b.prefix + "." + name
}

func (b Builder) add(name string, t *tensor.Tensor) *tensor.Tensor {
	return b.params.Add(b.path(name), t.SetRequiresGrad(true))
}

// Normal adds a float32 parameter drawn from normal(0, std).
func (b Builder) Normal(name string, shape ...int) *tensor.Tensor {
	return b.add(name, tensor.RandN(b.rng, tensor.Float32, b.std, shape...))
}

// Zeros adds a float32 parameter of zeros.
func (b Builder) Zeros(name string, shape ...int) *tensor.Tensor {
	return b.add(name, tensor.Zeros(tensor.Float32, shape...))
}

// Ones adds a float32 parameter of ones.
func (b Builder) Ones(name string, shape ...int) *tensor.Tensor {
	return b.add(name, tensor.Ones(tensor.Float32, shape...))
}

// Tie registers an existing tensor under a second name (a decoder tied to the
// word embeddings); checkpoint.Save drops it via SaveOptions.TiedKeys.
func (b Builder) Tie(name string, t *tensor.Tensor) *tensor.Tensor {
	return b.params.Add(b.path(name), t)
}

// Linear is PyTorch's nn.Linear: Weight [out, in], Bias [out].
type Linear struct{ Weight, Bias *tensor.Tensor }

// NewLinear adds "<name>.weight" (normal) and "<name>.bias" (zeros).
func NewLinear(b Builder, name string, in, out int) Linear {
	b = b.PP(name)
	return Linear{Weight: b.Normal("weight", out, in), Bias: b.Zeros("bias", out)}
}

// Forward is x @ Weightᵀ + Bias: [..., in] -> [..., out].
func (l Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.Linear(x, l.Weight, l.Bias)
}

// LayerNorm is PyTorch's nn.LayerNorm over the last dim.
type LayerNorm struct {
	Weight, Bias *tensor.Tensor
	Eps          float64
}

// NewLayerNorm adds "<name>.weight" (ones) and "<name>.bias" (zeros).
func NewLayerNorm(b Builder, name string, dim int, eps float64) LayerNorm {
	b = b.PP(name)
	return LayerNorm{Weight: b.Ones("weight", dim), Bias: b.Zeros("bias", dim), Eps: eps}
}

// Forward normalises the last dim: [..., D] -> [..., D].
func (l LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	return tensor.LayerNorm(x, l.Weight, l.Bias, l.Eps)
}

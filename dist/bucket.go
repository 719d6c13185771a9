package dist

// DefaultBucketBytes is the gradient bucket size kiln uses, PyTorch DDP's
// default (bucket_cap_mb=25). The package doc derives it from the ring
// all-reduce cost model.
const DefaultBucketBytes = 25 << 20

// AllReduceBuckets sums every tensor in tensors over all ranks, in place,
// with few large all-reduces instead of one small one per tensor.
//
// Tensors are taken in order. One with at least bucketBytes/4 elements is
// all-reduced in place on its own. Smaller ones are packed into a bucket of
// at most bucketBytes/4 float32s: copied in, all-reduced once, copied back
// out. A bucket that ends up holding a single tensor is reduced in place,
// without the copies. With bucketBytes < 4 every tensor is reduced on its
// own. Empty tensors are skipped.
//
// Every rank must pass tensors of the same lengths in the same order (the
// model's parameter order), or the ranks' collectives do not match and the
// job hangs or reduces the wrong numbers.
//
// The result is a SUM, not a mean: dividing by Size() is the caller's
// choice. kiln normalises the loss by the global num_items_in_batch (the
// label-token count all-reduced over ranks and micro-batches), so each rank
// back-propagates sum(loss)/N_global over its own tokens and the summed
// gradient already equals the single-process gradient; averaging would
// divide it by Size() once too often.
func AllReduceBuckets(c Comm, tensors [][]float32, bucketBytes int) error {
	if c.Size() == 1 {
		return nil // the sum over one rank is the tensors themselves
	}
	capacity := bucketBytes / 4 // float32s per bucket
	var (
		bucket  []float32   // scratch, grown to at most capacity
		pending [][]float32 // small tensors waiting in the bucket
		used    int         // elements in pending
	)
	flush := func() error {
		switch len(pending) {
		case 0:
			return nil
		case 1:
			err := c.AllReduceSumFloat32(pending[0])
			pending, used = pending[:0], 0
			return err
		}
		if cap(bucket) < used {
			bucket = make([]float32, used, capacity)
		}
		b := bucket[:used]
		off := 0
		for _, t := range pending {
			off += copy(b[off:], t)
		}
		if err := c.AllReduceSumFloat32(b); err != nil {
			return err
		}
		off = 0
		for _, t := range pending {
			off += copy(t, b[off:])
		}
		pending, used = pending[:0], 0
		return nil
	}
	for _, t := range tensors {
		switch {
		case len(t) == 0:
			continue
		case len(t) >= capacity:
			if err := c.AllReduceSumFloat32(t); err != nil {
				return err
			}
			continue
		case used+len(t) > capacity:
			if err := flush(); err != nil {
				return err
			}
		}
		pending = append(pending, t)
		used += len(t)
	}
	return flush()
}

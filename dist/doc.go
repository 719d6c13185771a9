// Package dist is kiln's communicator for data-parallel training across
// processes and machines: rank, size, in-place sum all-reduce of float32,
// float64 and int64 buffers, broadcast, barrier and abort, plus
// AllReduceBuckets for gradients.
//
// # Builds
//
// The default build has no MPI and no cgo: Init returns Local, the
// single-process communicator (rank 0 of 1, collectives are no-ops). Built
// with -tags mpi, the package binds Open MPI through a thin cgo layer
// (Debian: apt-get install openmpi-bin libopenmpi-dev pkg-config; cgo finds
// it with pkg-config ompi-c), and Init initialises MPI when an MPI launcher
// started the process (see Launched); run alone, the same binary still gets
// Local. A binary built without the tag but launched as several MPI ranks
// gets an error from Init instead of N unrelated single-process runs.
//
//	comm, err := dist.Init()
//	if err != nil { ... }
//	defer comm.Close()
//	comm.BroadcastFloat32(weights, 0)             // same start on every rank
//	n := []int64{localLabelTokens}
//	comm.AllReduceSumInt64(n)                     // global num_items_in_batch
//	// forward with loss = sum / n[0], backward, then:
//	dist.AllReduceBuckets(comm, grads, dist.DefaultBucketBytes) // the global gradient
//
// MPI errors come back as *MPIError naming the call (the binding sets
// MPI_ERRORS_RETURN on MPI_COMM_WORLD). MPI worlds are fail-stop: a rank
// that calls Abort, exits non-zero or panics ends the whole job, and mpirun
// exits non-zero (with the Abort code). A rank stuck in a collective is never
// detected by MPI; a watchdog goroutine may call Abort.
//
// # Sum, not mean
//
// The collectives and AllReduceBuckets sum. kiln normalises the loss by the
// global num_items_in_batch (the label-token count all-reduced over ranks and
// micro-batches), so the summed gradients already equal the single-process
// gradient of the same global batch; no division by Size().
//
// # Launching
//
// On one machine, or on several with a hostfile and passwordless ssh:
//
//	mpirun -np 4 kiln train ...
//	mpirun -np 16 --hostfile hosts --map-by ppr:4:node kiln train ...
//
// Running as root needs --allow-run-as-root; more ranks than cores need
// --oversubscribe. Pin the transport explicitly, e.g. for a single node
// OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader, and across nodes
// OMPI_MCA_btl=self,tcp with OMPI_MCA_btl_tcp_if_include=<cluster subnet>
// (or UCX on InfiniBand). The tests use shared memory and loopback only.
//
// Under Slurm, srun starts the ranks and PMIx wires them up (Debian's Open
// MPI 4.1 uses external PMIx), or run mpirun inside the allocation:
//
//	#SBATCH --nodes=4 --ntasks-per-node=8
//	#SBATCH --signal=USR1@120 --requeue   # time to checkpoint, then resubmit
//	srun --mpi=pmix kiln train ...
//
// On Kubernetes, the MPI Operator's MPIJob (kubeflow.org/v2beta1) runs mpirun
// in a launcher pod against worker pods running sshd; the image must carry
// the Open MPI the binary was built against (Open MPI and MPICH are not ABI
// compatible):
//
//	apiVersion: kubeflow.org/v2beta1
//	kind: MPIJob
//	metadata: {name: kiln-train}
//	spec:
//	  slotsPerWorker: 8
//	  runPolicy: {cleanPodPolicy: Running, backoffLimit: 3}
//	  mpiReplicaSpecs:
//	    Launcher:
//	      replicas: 1
//	      template:
//	        spec:
//	          containers:
//	          - name: launcher
//	            image: example.org/kiln:mpi
//	            command: [mpirun, -np, "32", kiln, train]  # + train flags
//	    Worker:
//	      replicas: 4
//	      template:
//	        spec:
//	          containers:
//	          - name: worker
//	            image: example.org/kiln:mpi
//	            resources: {limits: {cpu: "8", memory: 32Gi}}
//
// # Cost model and bucket size
//
// A ring all-reduce of S bytes over N ranks sends 2(N-1)/N·S bytes per rank
// in 2(N-1) steps, so with link bandwidth B and per-message latency α
//
//	T(S, N) = 2(N-1)/N · S/B + 2(N-1)·α
//
// The bandwidth term barely grows with N (at most 2·S/B): the 440 MB of fp32
// gradients of a BERT-base-sized model take ≈0.8 s per step at 10 GbE
// (B ≈ 1.1 GB/s) and ≈0.08 s at 100 Gb/s InfiniBand, whatever N, unless
// overlapped with backward. The latency term is paid per all-reduce, which is
// why small gradient tensors are packed into buckets: keeping it under 10% of
// a bucket's bandwidth term needs
//
//	2(N-1)·α ≤ 0.1 · 2(N-1)/N · S/B   ⇔   S ≥ 10·N·α·B
//
// α·B is about 33 kB both for TCP on 10 GbE (α ≈ 30 µs) and for InfiniBand
// (α ≈ 3 µs, B ≈ 11 GB/s), so S ≥ N·0.33 MB: 2.6 MB at 8 ranks, 21 MB at 64.
// Buckets should not be much bigger either: when buckets are reduced during
// backward, the last one is not overlapped and costs ≈ 2·S/B (45 ms for
// 25 MB at 10 GbE). DefaultBucketBytes = 25 MiB (PyTorch DDP's default)
// covers up to about 75 ranks; beyond that raise it, or rely on MPI's
// tree/Rabenseifner algorithms, whose latency term grows as log N. On one
// machine all-reduce is bound by memory bandwidth instead (see the
// benchmark, BenchmarkAllReduceBandwidth with -tags mpi).
package dist

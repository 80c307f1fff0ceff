/*
 * The CPU libtorch that DJL ships links oneMKL statically, and oneMKL picks its fast GEMM kernels (AVX2,
 * AVX-512) only when it believes the CPU is Intel's: on AMD CPUs it runs its generic kernels, measured 15-20%
 * slower for spruce's float32 matrix products. MKL asks this exported function, and libtorch_cpu.so calls it
 * through its PLT, so a preloaded definition answers instead. MKL still chooses among its kernels by the CPU's
 * feature flags, so a CPU without AVX-512 gets the AVX2 ones. bin/mkl-vendor-shim builds this file and
 * bin/spruce preloads it on AMD CPUs; SPRUCE_MKL_SHIM=off turns it off. See docs/BENCHMARKS.md.
 */
int mkl_serv_intel_cpu_true(void) { return 1; }

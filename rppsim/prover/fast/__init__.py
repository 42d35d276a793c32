"""numba kernels behind the Backend protocol (docs/architecture.md#code-style): integers only, no
fastmath."""

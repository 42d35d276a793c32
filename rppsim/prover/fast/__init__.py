"""numba kernels behind the Backend protocol (STYLE.md §11): integers only, no fastmath."""

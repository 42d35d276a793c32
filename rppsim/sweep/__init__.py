"""Parameter sweeps and Monte Carlo over scenarios, on local processes or Dask."""

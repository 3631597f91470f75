"""Tools that measure the product (benchmarks, load test, evaluation, gate fitting). The product never imports
this package; only the command line does."""

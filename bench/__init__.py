"""Side-by-side benchmarks of sansws; scripts, not tests. See bench/README.md."""

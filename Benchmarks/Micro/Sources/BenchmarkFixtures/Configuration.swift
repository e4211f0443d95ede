public import Benchmark

/// A configuration running `factor` operations per sample, with the factor in the benchmark's
/// name (as a tag), so that exported results (summarize.py) can be turned into per-operation
/// figures.
public func scaled(_ factor: BenchmarkScalingFactor) -> Benchmark.Configuration {
    .init(tags: ["ops per sample": "\(factor.rawValue)"], scalingFactor: factor)
}

/// Stops the run when a fixture is not what a benchmark expects (before it measures anything).
public func check(_ condition: Bool, _ line: UInt = #line) {
    precondition(condition, "fixture check failed at line \(line)")
}

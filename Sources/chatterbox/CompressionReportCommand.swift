import ArgumentParser
import ChatBench

/// `chatterbox compression-report`: the figures of docs/EXTENSIONS.md for feature `deflate`.
struct CompressionReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compression-report",
        abstract: "Measure per-frame deflate on realistic chat traffic (ratio and CPU per frame)."
    )

    @Option(help: "Live messages to generate (each one frame).")
    var messages: Int = 20_000

    func validate() throws {
        guard messages >= 1_000 else { throw ValidationError("--messages must be at least 1000.") }
    }

    func run() {
        print(CompressionReport.table(CompressionReport.run(messages: messages)))
    }
}
